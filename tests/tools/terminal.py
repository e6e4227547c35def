"""A pseudo-terminal for tests of interactive commands (``kubectl exec -it``): the child
runs on it as in a person's shell (it is the child's controlling terminal, so a window
change signals it), the test types, resizes and waits for text with a deadline."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time


class Terminal:
    """The master side of a pseudo-terminal running a child process."""

    @classmethod
    def spawn(cls, argv: list[str], env: dict[str, str]) -> Terminal:
        """Start ``argv`` on a new pseudo-terminal."""
        pid, fd = pty.fork()
        if pid == 0:  # the child
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        return cls(pid, fd)

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.seen = pid, fd, b""
        self.status: int | None = None

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never appeared; the terminal showed {self.seen[-800:]!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    assert text.encode() in self.seen, self.seen[-800:]
        self.seen = self.seen[self.seen.index(text.encode()) + len(text) :]

    def ask_until(self, question: str, answer: str, timeout: float = 30) -> None:
        """Send ``question`` until ``answer`` appears (for state that reaches the other end
        on its own path, as a window size does beside the typed input)."""
        deadline = time.monotonic() + timeout
        while True:
            self.send(question)
            try:
                self.expect(answer, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                return
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                self.status = os.waitstatus_to_exitcode(with_status[1])
                return self.status
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:
                    pass
        raise AssertionError(f"kubectl did not exit; the terminal showed {self.seen[-800:]!r}")

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
