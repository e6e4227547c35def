"""Live exec and attach sessions on the fake runtime: the remote command protocol can be
learned and tested without Docker.

An exec runs the one command model (``fake_model``: ``echo``, ``true``, ``false``, ``exit
N``, ``sleep N``, ``sh -c`` scripts of those), writing each output when the model says.
Two commands read stdin: ``cat`` (alone or as the whole script of ``sh -c``) copies it
to stdout, and a shell without ``-c`` (``sh``,
``bash``) runs each line it reads through the model, so ``kubectl exec -it pod -- sh``
gives a prompt, ``echo hi``, ``stty size`` (the size the terminal last reported) and
``exit 3``. With a TTY it echoes what is typed, ends lines with CR LF, and Ctrl-C drops
the line being typed, as a terminal's line discipline does. An attach follows the
container's modelled output from now until the container stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from kubelet.runtime.base import ContainerSpec, StreamRequest
from kubelet.runtime.fake_model import SHELLS, Run, model

_PROMPT = "/ # "
_CTRL_C, _CTRL_D, _BACKSPACES = "\x03", "\x04", ("\x7f", "\x08")


class FakeSession:
    """A StreamSession whose process is a coroutine (``_run``) over two queues."""

    def __init__(self, streams: StreamRequest) -> None:
        self.streams = streams
        self._out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._in: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._code: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._buffer = ""  # stdin read but not yet consumed (line by line)
        self._eof = False
        self.size = (80, 24)

    def start(self, program: Callable[[FakeSession], Awaitable[int | None]]) -> FakeSession:
        async def run() -> None:
            try:
                self._code = await program(self)
            finally:
                self._out.put_nowait(None)

        self._task = asyncio.create_task(run(), name="fake-exec")
        return self

    # -- what the "process" uses --------------------------------------------------------

    def emit(self, text: str, channel: int = 1) -> None:
        if self.streams.tty:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
            channel = 1  # a terminal has one output
        if (channel == 1 and self.streams.stdout) or (channel == 2 and self.streams.stderr):
            if text:
                self._out.put_nowait((channel, text.encode()))

    async def read_stdin(self) -> bytes | None:
        """The next stdin bytes; None at EOF (at once when stdin was not asked for)."""
        if not self.streams.stdin or self._eof:
            return None
        data = await self._in.get()
        if data is None:
            self._eof = True
        return data

    async def read_line(self) -> str | None:
        """One line of stdin (a TTY's line discipline applied); None at EOF."""
        while True:
            for i, ch in enumerate(self._buffer):
                if ch in "\r\n":
                    line, self._buffer = self._buffer[:i], self._buffer[i + 1 :]
                    if self.streams.tty:
                        self.emit("\n")
                    return line
                if self.streams.tty and ch == _CTRL_C:
                    self._buffer = self._buffer[i + 1 :]
                    self.emit("^C\n" + _PROMPT)
                    break
                if self.streams.tty and ch == _CTRL_D and i == 0:
                    self._buffer = self._buffer[1:]
                    return None
            else:
                data = await self.read_stdin()
                if data is None:
                    if self._buffer:
                        line, self._buffer = self._buffer, ""
                        return line
                    return None
                self._take(data.decode(errors="replace"))

    def _take(self, text: str) -> None:
        """Typed text into the line buffer; a TTY echoes it and honours backspace."""
        for ch in text:
            if self.streams.tty and ch in _BACKSPACES:
                if self._buffer and self._buffer[-1] not in "\r\n":
                    self._buffer = self._buffer[:-1]
                    self.emit("\b \b")
                continue
            self._buffer += ch
            if self.streams.tty and ch not in "\r\n" + _CTRL_C + _CTRL_D:
                self.emit(ch)

    # -- StreamSession ------------------------------------------------------------------

    async def read(self) -> tuple[int, bytes] | None:
        return await self._out.get()

    async def write(self, data: bytes) -> None:
        if self.streams.stdin and not self._eof and data:
            self._in.put_nowait(data)

    async def close_stdin(self) -> None:
        self._in.put_nowait(None)

    async def resize(self, width: int, height: int) -> None:
        if self.streams.tty:
            self.size = (width, height)

    async def exit_code(self) -> int | None:
        if self._task is not None:
            await self._task
        return self._code

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _play(session: FakeSession, run: Run, skip: float = 0.0) -> None:
    """Write a modelled run's output at the times the model gives (from ``skip`` on)."""
    t = skip
    for at, text in run.output:
        if at < skip:
            continue
        if at > t:
            await asyncio.sleep(at - t)
            t = at
        session.emit(text)


def _modelled(spec: ContainerSpec, command: list[str]) -> Run:
    return model(replace(spec, command=command, args=None, labels={}))


async def _shell(session: FakeSession, spec: ContainerSpec) -> int:
    """An interactive shell: each line through the model; ``exit`` or EOF ends it."""
    status = 0
    while True:
        if session.streams.tty:
            session.emit(_PROMPT)
        line = await session.read_line()
        if line is None:
            return status
        words = line.split()
        if not words:
            continue
        if words == ["stty", "size"]:
            width, height = session.size
            session.emit(f"{height} {width}\n")
            status = 0
            continue
        run = _modelled(spec, ["sh", "-c", line])
        if not run.modelled or (run.exit_code is None and not run.output):
            session.emit(f"sh: {words[0]}: not modelled by the fake runtime\n", 2)
            status = 127
            continue
        await _play(session, run)
        if run.exit_code is None:  # `sleep infinity` and the like: the shell is busy
            while await session.read_stdin() is not None:
                pass
            return 0
        status = run.exit_code
        if words[0] == "exit":
            return status


async def _cat(session: FakeSession) -> int:
    while True:
        data = await session.read_stdin()
        if data is None:
            return 0
        session.emit(data.decode(errors="replace"))


def _reads_stdin_as_cat(command: list[str]) -> bool:
    """``cat``, or a shell whose whole ``-c`` script is ``cat`` (``sh -c cat``)."""
    if len(command) == 3 and command[0] in SHELLS and command[1] == "-c":
        command = command[2].split()
    return command in (["cat"], ["/bin/cat"])


def exec_session(spec: ContainerSpec, command: list[str], streams: StreamRequest) -> FakeSession:
    """Start ``command`` (as the module docstring says) in a container made from ``spec``."""
    session = FakeSession(streams)
    if _reads_stdin_as_cat(command):
        return session.start(_cat)
    if command[0] in SHELLS and "-c" not in command[1:]:
        return session.start(lambda s: _shell(s, spec))

    async def modelled(s: FakeSession) -> int:
        run = _modelled(spec, command)
        await _play(s, run)
        if run.exit_code is None:
            return 0  # a command the model does not know succeeds silently (as exec did)
        if run.after:
            await asyncio.sleep(max(0.0, run.after - (run.output[-1][0] if run.output else 0)))
        return run.exit_code

    return session.start(modelled)


def attach_session(
    run: Run, started: float, running: Callable[[], bool], streams: StreamRequest
) -> FakeSession:
    """The container's modelled output from now on, until it stops (``running``)."""
    session = FakeSession(streams)

    async def follow(s: FakeSession) -> None:
        elapsed = time.time() - started
        await _play(s, run, skip=elapsed)
        while running():  # its end is the runtime's business (a modelled exit, a stop)
            await asyncio.sleep(0.2)

    return session.start(follow)
