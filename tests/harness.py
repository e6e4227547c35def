"""Start real kubelab processes for tests: an apiserver over HTTPS on a free port, and
other components as subprocesses pointed at it."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.wait import wait_for

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubelab_cmd(*args: str) -> list[str]:
    """The command line of ``kubelab ARGS`` with this interpreter."""
    return [sys.executable, "-m", "kubelab", *args]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KUBELAB_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KUBECONFIG", None)
    return env


@dataclass
class Component:
    """A kubelab component running as a subprocess, with its log file."""

    args: list[str]
    home: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Component:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            kubelab_cmd(*self.args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(self.home),
            cwd=str(REPO),
            start_new_session=True,
        )
        log.close()
        return self

    def with_new_log(self) -> Component:
        """The same command, not started, logging to a file of its own."""
        path = self.log_path.with_name(f"{self.log_path.stem}-{free_port()}.log")
        return Component(list(self.args), self.home, path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the way a crash or power loss ends a process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, chars: int = 3000) -> str:
        """The end of the log: what a failure message shows."""
        return self.log()[-chars:]

    def check_alive(self) -> None:
        """Raise ``ComponentExited`` (with its log) when the process has ended."""
        if not self.alive():
            raise ComponentExited(f"{' '.join(self.args[:1])} exited:\n{self.tail(4000)}")


class ComponentExited(RuntimeError):
    """A component process ended while a test waited on it: waiting longer cannot help."""


@dataclass
class ApiServer:
    """A real `kubelab apiserver` process on a free 127.0.0.1 port."""

    home: Path
    port: int
    db: str = ""
    extra_args: list[str] = field(default_factory=list)
    component: Component | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def token(self) -> str:
        return (self.home / "admin-token").read_text().strip()

    @property
    def ca_file(self) -> Path:
        return self.home / "pki" / "ca.crt"

    def start(self, timeout: float = 30) -> ApiServer:
        args = ["apiserver", "--home", str(self.home), "--port", str(self.port), *self.extra_args]
        if self.db:
            args += ["--db", self.db]
        self.component = Component(args, self.home, self.home / "logs" / "apiserver.log").start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        component = self.component
        assert component is not None

        def ready() -> bool:
            component.check_alive()
            ctx = ssl.create_default_context(cafile=str(self.ca_file))
            with urllib.request.urlopen(f"{self.url}/readyz", context=ctx, timeout=2) as r:
                return r.status == 200 and self.kubeconfig.exists()

        wait_for(
            ready,
            f"apiserver {self.url} ready",
            timeout,
            give_up_on=(ComponentExited,),
            diagnostics=component.log,
        )

    def kill(self) -> None:
        if self.component:
            self.component.kill()

    def stop(self) -> None:
        if self.component:
            self.component.stop()

    def restart(self) -> ApiServer:
        self.stop()
        return self.start()

    def client(self) -> Any:
        from client import Client

        return Client.from_kubeconfig(str(self.kubeconfig))

    def async_client(self) -> Any:
        from client import AsyncClient

        return AsyncClient.from_kubeconfig(str(self.kubeconfig))

    def component_proc(self, name: str, *args: str) -> Component:
        """Another component (scheduler, controllers, kubelet) pointed at this server."""
        # The scheduler and controller manager use their own identities, as under `kubelab up`.
        own = self.home / f"{name}.kubeconfig"
        kubeconfig = own if own.exists() else self.kubeconfig
        full = [name, "--kubeconfig", str(kubeconfig), *args]
        return Component(full, self.home, self.home / "logs" / f"{name}-{free_port()}.log")


def start_apiserver(home: Path, db: str = "", extra_args: list[str] | None = None) -> ApiServer:
    """Start an apiserver with its state in ``home`` and wait until it is ready."""
    home.mkdir(parents=True, exist_ok=True)
    return ApiServer(home, free_port(), db, list(extra_args or [])).start()
