"""The local terminal of an interactive ``kl exec -it`` / ``kl attach -it``: raw mode
while the session lasts (so Ctrl-C and line editing reach the remote shell, as kubectl
does), its size, and a callback on each SIGWINCH so the remote size follows."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from typing import Any


def is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def size(fd: int) -> tuple[int, int]:
    """(columns, rows) of the terminal on ``fd``."""
    try:
        s = os.get_terminal_size(fd)
        return s.columns, s.lines
    except OSError:
        s = shutil.get_terminal_size()
        return s.columns, s.lines


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw mode, restored however the block ends."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def on_resize(fd: int, resized: Callable[[int, int], None]) -> Iterator[None]:
    """Call ``resized(columns, rows)`` now and after every window change (SIGWINCH),
    from a thread of its own (a signal handler must not block on the network)."""

    def fire(*_: Any) -> None:
        threading.Thread(target=lambda: resized(*size(fd)), daemon=True).start()

    fire()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGWINCH, fire)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def stdin_fd() -> int:
    return sys.stdin.fileno()
