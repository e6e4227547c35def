"""Child processes that are kept running: started with their log file, restarted with
backoff when they die, stopped in order.

Each child runs in its own process group (Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in order: kubelets first, apiserver last) and
is asked by the kernel to exit with SIGTERM if the supervisor itself dies
(``PR_SET_PDEATHSIG``), so a killed ``kubelab up`` leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from client.backoff import Backoff

log = logging.getLogger("kubelab.up")

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: children outlive a SIGKILLed supervisor, nothing worse


def restart_delay(failures: int, initial: float = 1.0, maximum: float = 30.0) -> float:
    """Seconds to wait before restart number ``failures`` (1, 2, 4, ... capped)."""
    return Backoff(initial, cap=maximum).delay(failures)


@dataclass(frozen=True)
class Exit:
    """One process of a child that ended (times are ``time.monotonic``)."""

    pid: int
    code: int  # Popen's: -N for a signal
    started_at: float
    finished_at: float


@dataclass
class Child:
    """One supervised component: ``python -m kubelab ARGS``, logging to ``log_path``."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0
    pid_file: Path | None = None
    history: list[str] = field(default_factory=list)
    last_exit: Exit | None = None  # the latest process that ended (for its mirror pod)

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", "kubelab", *self.args]

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        self.started_at = time.monotonic()
        self.restart_at = None
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self.proc.pid}\n")
        log.info("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(self.argv))

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", self.name)
            self.proc.kill()
            self.proc.wait(5)
        if self.pid_file is not None:
            try:
                self.pid_file.unlink()
            except FileNotFoundError:
                pass


class Supervisor:
    """Keeps ``children`` running; ``poll`` restarts the dead ones with backoff."""

    def __init__(self, stable_after: float = 60.0) -> None:
        self.children: list[Child] = []
        self.stable_after = stable_after  # a child that ran this long restarts at once

    def add(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def poll(self) -> list[str]:
        """Restart what died (after its backoff); return a line per event for the log."""
        events: list[str] = []
        now = time.monotonic()
        for c in self.children:
            if c.proc is None:
                continue
            if c.restart_at is not None:
                if now >= c.restart_at:
                    c.restarts += 1
                    c.start()
                    events.append(f"{c.name} restarted (restart #{c.restarts}, pid {c.pid})")
                continue
            code = c.exit_code()
            if code is None:
                if c.failures and now - c.started_at > self.stable_after:
                    c.failures = 0
                continue
            c.last_exit = Exit(c.pid, code, c.started_at, now)
            c.failures = 1 if now - c.started_at > self.stable_after else c.failures + 1
            delay = restart_delay(c.failures)
            c.restart_at = now + delay
            events.append(
                f"{c.name} exited with code {code}; restarting in {delay:.0f}s (log: {c.log_path})"
            )
        return events

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM every child, last started first, and wait for each (then SIGKILL)."""
        for c in reversed(self.children):
            c.restart_at = None
            c.terminate()
            c.wait_or_kill(time.monotonic() + timeout)


def env_with_home(home: Path) -> dict[str, str]:
    """This process's environment with ``KUBELAB_HOME`` set to ``home``."""
    env = dict(os.environ)
    env["KUBELAB_HOME"] = str(home)
    return env
