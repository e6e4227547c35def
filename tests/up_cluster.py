"""`kubelab up` as a subprocess on a temporary home, for integration and e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import REPO, ComponentExited, free_port, kubelab_cmd
from tests.wait import wait_for


@dataclass
class UpCluster:
    """A running ``kubelab up``: its home, port, output and children's pid files."""

    home: Path
    args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def out_path(self) -> Path:
        return self.home.parent / f"{self.home.name}-up.out"

    @property
    def err_path(self) -> Path:
        return self.home.parent / f"{self.home.name}-up.err"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBELAB_HOME"] = str(self.home)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def start(self, timeout: float = 90) -> UpCluster:
        """Start ``kubelab up`` and wait for its ready line."""
        before = len(self.ready_lines())
        out = open(self.out_path, "ab")
        err = open(self.err_path, "ab")
        self.proc = subprocess.Popen(
            kubelab_cmd("up", "--home", str(self.home), "--port", str(self.port), *self.args),
            stdout=out,
            stderr=err,
            env=self.env(),
            cwd=str(REPO),
            start_new_session=True,
        )
        out.close()
        err.close()
        self.wait_ready(timeout, before)
        return self

    def ready_lines(self) -> list[str]:
        text = self.out_path.read_text() if self.out_path.exists() else ""
        return [ln for ln in text.splitlines() if ln.startswith("kubelab is up")]

    def wait_ready(self, timeout: float = 90, before: int = 0) -> None:
        proc = self.proc
        assert proc is not None

        def ready() -> bool:
            if len(self.ready_lines()) > before:
                return True
            if proc.poll() is not None:
                raise ComponentExited(f"kubelab up exited {proc.returncode}:\n{self.diagnostics()}")
            return False

        wait_for(
            ready,
            "the 'kubelab is up' line",
            timeout,
            interval=0.2,
            give_up_on=(ComponentExited,),
            diagnostics=self.diagnostics,
        )

    def diagnostics(self) -> str:
        parts = [f"--- stdout\n{_read(self.out_path)}", f"--- stderr\n{_read(self.err_path)}"]
        for log in sorted((self.home / "logs").glob("*.log")):
            parts.append(f"--- {log.name}\n{_read(log)[-3000:]}")
        return "\n".join(parts)

    def child_pid(self, name: str) -> int:
        return int((self.home / "run" / f"{name}.pid").read_text())

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (as Ctrl-C would): everything stops; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return int(self.proc.returncode)

    def client(self) -> Any:
        from client import Client

        return Client.from_kubeconfig(str(self.kubeconfig))

    def kl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        """Run ``kl ARGS`` against this cluster; its stdout (stderr too when it fails)."""
        r = subprocess.run(
            kubelab_kl(*args),
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=str(REPO),
            input=input,
            timeout=60,
        )
        if check and r.returncode != 0:
            raise AssertionError(
                f"kl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}"
            )
        return r.stdout + ("" if r.returncode == 0 else r.stderr)


def kubelab_kl(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "kubectl.main", *args]


def _read(p: Path) -> str:
    try:
        return p.read_text(errors="replace")
    except OSError:
        return ""
