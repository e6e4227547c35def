"""Live exec and attach streams on the Docker engine (``docker exec -it``, ``docker attach``).

The engine hijacks the HTTP connection of ``POST /exec/ID/start`` (or ``/containers/ID/
attach``) and then carries the process's streams on it: raw bytes with a TTY, otherwise
frames of an 8-byte header (stream 1 or 2, three zero bytes, a big-endian length) and the
payload. Stdin goes the other way, unframed; half-closing the socket is stdin's EOF.

The docker SDK makes the request and hands the socket over; the bytes its HTTP parser
read past the response head (output the process wrote at once) are taken from its
buffer, so nothing the process printed first is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from kubelet.runtime.base import RuntimeError_, StreamRequest

log = logging.getLogger(__name__)

Call = Callable[..., Awaitable[Any]]  # DockerRuntime._call: a blocking SDK call in the pool

_CHUNK = 64 * 1024
_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


def _hijacked(api: Any, response: Any) -> tuple[socket.socket, bytes, Any]:
    """The hijacked connection of an upgraded engine response: a socket of our own (a
    duplicate, so the SDK's objects can be collected without closing it), the bytes
    already buffered past the head, and the response (kept alive with the session)."""
    api._raise_for_status(response)
    buffered = response.raw._fp.fp  # the BufferedReader http.client read the head through
    raw = buffered.raw
    sock: socket.socket = getattr(raw, "_sock", raw)
    sock.setblocking(False)  # so peek returns what is buffered without waiting for more
    leftover = bytes(buffered.peek(_CHUNK)) if buffered.readable() else b""
    return sock.dup(), leftover, response


class DockerStreamSession:
    """One hijacked exec or attach connection as a StreamSession."""

    def __init__(
        self,
        call: Call,
        api: Any,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        leftover: bytes,
        keep: Any,
        streams: StreamRequest,
        exec_id: str | None,
        container_id: str,
    ) -> None:
        self._call = call
        self._api = api
        self._reader = reader
        self._writer = writer
        self._pending = bytearray(leftover)
        self._keep = keep  # the SDK response owning the original socket
        self._streams = streams
        self._exec_id = exec_id
        self._container_id = container_id
        self._stdin_closed = False

    async def _read_exactly(self, n: int) -> bytes | None:
        while len(self._pending) < n:
            chunk = await self._reader.read(_CHUNK)
            if not chunk:
                return None
            self._pending += chunk
        data = bytes(self._pending[:n])
        del self._pending[:n]
        return data

    async def read(self) -> tuple[int, bytes] | None:
        if self._streams.tty:
            if self._pending:
                data = bytes(self._pending)
                self._pending.clear()
                return 1, data
            data = await self._reader.read(_CHUNK)
            return (1, data) if data else None
        while True:
            head = await self._read_exactly(8)
            if head is None:
                return None
            size = int.from_bytes(head[4:8], "big")
            payload = await self._read_exactly(size) if size else b""
            if payload is None:
                return None
            if payload and head[0] in (1, 2):
                return head[0], payload

    async def write(self, data: bytes) -> None:
        if not self._streams.stdin or self._stdin_closed or not data:
            return
        self._writer.write(data)
        await self._writer.drain()

    async def close_stdin(self) -> None:
        if self._stdin_closed or not self._streams.stdin:
            return
        self._stdin_closed = True
        with contextlib.suppress(OSError):
            if self._writer.can_write_eof():
                self._writer.write_eof()

    async def resize(self, width: int, height: int) -> None:
        if not self._streams.tty:
            return
        try:
            if self._exec_id is not None:
                await self._call(self._api.exec_resize, self._exec_id, height=height, width=width)
            else:
                await self._call(self._api.resize, self._container_id, height, width)
        except Exception as e:  # noqa: BLE001 - a resize racing the process's end
            log.debug("resize of %s failed: %s", self._exec_id or self._container_id, e)

    async def exit_code(self) -> int | None:
        if self._exec_id is None:
            return None
        # The output ends as the process does; the engine may report it a moment later.
        for _ in range(200):
            info = await self._call(self._api.exec_inspect, self._exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.01)
        return None

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        with contextlib.suppress(Exception):
            self._keep.close()


async def _open(
    call: Call,
    api: Any,
    start: Callable[[], Any],
    streams: StreamRequest,
    exec_id: str | None,
    container_id: str,
) -> DockerStreamSession:
    sock, leftover, keep = await call(lambda: _hijacked(api, start()))
    reader, writer = await asyncio.open_connection(sock=sock, limit=_CHUNK * 4)
    return DockerStreamSession(
        call, api, reader, writer, leftover, keep, streams, exec_id, container_id
    )


async def exec_stream(
    call: Call, api: Any, container_id: str, command: list[str], streams: StreamRequest
) -> DockerStreamSession:
    """``docker exec`` with live streams: create the exec, start it on a hijacked
    connection."""
    ex = await call(
        api.exec_create,
        container_id,
        command,
        stdin=streams.stdin,
        stdout=streams.stdout,
        stderr=streams.stderr and not streams.tty,
        tty=streams.tty,
    )
    exec_id = str(ex["Id"])

    def start() -> Any:
        return api._post_json(
            api._url("/exec/{0}/start", exec_id),
            headers=_UPGRADE,
            data={"Tty": streams.tty, "Detach": False},
            stream=True,
        )

    return await _open(call, api, start, streams, exec_id, container_id)


async def attach(
    call: Call, api: Any, container_id: str, streams: StreamRequest
) -> DockerStreamSession:
    """``docker attach``: the main process' streams from now on. The container must have
    been created with a TTY for ``tty`` and with stdin open for ``stdin`` to mean
    anything (the pod's ``tty`` and ``stdin`` fields)."""
    info = await call(api.inspect_container, container_id)
    config = info.get("Config") or {}
    if streams.stdin and not config.get("OpenStdin"):
        raise RuntimeError_(
            "the container was not created with stdin open: set stdin: true on the "
            "container in the pod spec to attach to its stdin"
        )
    # The TTY is the container's: a TTY container's output is raw, framed otherwise.
    real = StreamRequest(streams.stdin, streams.stdout, streams.stderr, bool(config.get("Tty")))
    params = {
        "stdin": int(streams.stdin),
        "stdout": int(streams.stdout),
        "stderr": int(streams.stderr),
        "stream": 1,
    }

    def start() -> Any:
        return api.post(
            api._url("/containers/{0}/attach", container_id),
            None,
            params=params,
            stream=True,
            headers=_UPGRADE,
        )

    return await _open(call, api, start, real, None, container_id)


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _connect_in_netns(pid: int, port: int) -> socket.socket:
    """A socket connected to 127.0.0.1:``port`` in the network namespace of ``pid``: this
    thread enters it, connects, and comes back (the socket stays in the pod's namespace),
    as the CRI runtimes' port-forward does; nothing is needed in the image."""
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
    sock.setblocking(False)
    return sock


async def connect_port(
    call: Call, api: Any, container_id: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    info = await call(api.inspect_container, container_id)
    pid = int((info.get("State") or {}).get("Pid") or 0)
    if not pid:
        raise RuntimeError_(f"container {container_id[:12]} is not running")
    try:
        sock = await call(_connect_in_netns, pid, port)
    except PermissionError:
        # Without CAP_SYS_ADMIN the namespace cannot be entered: the container's address.
        net = info.get("NetworkSettings") or {}
        ips = [net.get("IPAddress")] + [
            n.get("IPAddress") for n in (net.get("Networks") or {}).values()
        ]
        ip = next((i for i in ips if i), None)
        if ip is None:
            raise RuntimeError_(
                "the kubelet may not enter the pod's network namespace and the container has "
                "no address of its own"
            ) from None
        return await asyncio.open_connection(ip, port)
    except OSError as e:
        raise RuntimeError_(f"cannot connect to port {port} in the pod: {e.strerror or e}") from e
    return await asyncio.open_connection(sock=sock)
