"""Live exec sessions on the fake runtime (kubelet/runtime/fake_streams.py): the command
model's output and exit code, ``cat`` copying stdin, an interactive ``sh`` with and without
a terminal (echo, prompt, Ctrl-C, ``stty size`` after a resize)."""

from __future__ import annotations

import asyncio

import pytest

from kubelet.runtime.base import ContainerSpec, StreamRequest
from kubelet.runtime.fake_streams import FakeSession, exec_session

SPEC = ContainerSpec(name="c", image="busybox", labels={})


async def _drain(session: FakeSession) -> tuple[bytes, bytes, int | None]:
    out, err = b"", b""
    while (item := await asyncio.wait_for(session.read(), 5)) is not None:
        if item[0] == 1:
            out += item[1]
        else:
            err += item[1]
    return out, err, await session.exit_code()


def test_a_modelled_command_writes_its_output_and_exits_with_its_code() -> None:
    async def go() -> tuple[bytes, bytes, int | None]:
        s = exec_session(SPEC, ["sh", "-c", "echo a; exit 3"], StreamRequest())
        return await _drain(s)

    assert asyncio.run(go()) == (b"a\n", b"", 3)


@pytest.mark.parametrize("command", [["cat"], ["/bin/sh", "-c", "cat"], ["sh", "-c", " cat "]])
def test_cat_copies_stdin_until_its_eof(command: list[str]) -> None:
    async def go() -> tuple[bytes, bytes, int | None]:
        s = exec_session(SPEC, command, StreamRequest(stdin=True))
        await s.write(b"hello ")
        await s.write(b"world\n")
        await s.close_stdin()
        return await _drain(s)

    assert asyncio.run(go()) == (b"hello world\n", b"", 0)


def test_a_shell_runs_each_line_and_exit_ends_it() -> None:
    async def go() -> tuple[bytes, bytes, int | None]:
        s = exec_session(SPEC, ["sh"], StreamRequest(stdin=True))
        await s.write(b"echo one\nnope\nexit 4\necho never\n")
        return await _drain(s)

    out, err, code = asyncio.run(go())
    assert out == b"one\n" and b"nope: not modelled" in err and code == 4


def test_a_terminal_echoes_prompts_and_honours_ctrl_c_and_resize() -> None:
    async def go() -> tuple[bytes, bytes, int | None]:
        s = exec_session(SPEC, ["sh"], StreamRequest(stdin=True, stderr=False, tty=True))
        await s.resize(132, 43)
        await s.write(b"echo dropped\x03")  # Ctrl-C: the typed line is thrown away
        await s.write(b"stty size\r")
        await s.write(b"exit\r")
        return await _drain(s)

    out, _, code = asyncio.run(go())
    text = out.decode()
    assert text.startswith("/ # ")
    assert "echo dropped^C\r\n/ # " in text  # echoed as typed, then a fresh prompt
    assert "stty size\r\n43 132\r\n" in text  # rows, columns: the size last reported
    assert "dropped\r\n" not in text.replace("echo dropped^C", "")  # never ran
    assert code == 0
