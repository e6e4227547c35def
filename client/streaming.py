"""The client side of ``pods/exec`` and ``pods/attach``: a WebSocket speaking the remote
command channel protocols (api/remotecommand.py), for ``kl exec`` and ``kl attach``.

Blocking, for a CLI: the calling thread receives frames and writes them out; a second
thread copies stdin into frames (and, with v5, half-closes stdin at its EOF, so ``cat``
and ``sh`` see their input end). The connection itself is the websockets package's
asyncio client (the library the apiserver relays with) on an event loop thread of its
own: its TLS runs on memory buffers in one thread, where the sync client reads and
writes one SSLSocket from two threads and was seen to hang a handshake (TLS 1.3 tickets
read by its reader thread while the request was being written).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)

from api import remotecommand as rc
from api.errors import ApiError
from client.core import ServerUnreachable, ssl_context
from client.kubeconfig import ClusterConfig

# What kl offers, newest first: v5 has the close signal stdin's EOF needs.
OFFERED = (rc.V5, rc.V4)
_CHUNK = 32 * 1024

Write = Callable[[bytes], None]
T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the streams' event loop thread (started on first use); block the
    calling thread until it is done."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True, name="streams").start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()


@dataclass
class Streams:
    """Where the session's output goes and where its input comes from."""

    stdout: Write
    stderr: Write
    stdin_fd: int | None = None  # a file descriptor to copy to the process (-i)


class Session:
    """One open exec or attach WebSocket."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.codec = rc.ChannelCodec(conn.subprotocol or "")

    def send(self, channel: int, data: bytes) -> None:
        _run(self.conn.send(self.codec.encode(channel, data)))

    def resize(self, width: int, height: int) -> None:
        """Tell the process's terminal its new size (ignored on a closed stream)."""
        try:
            self.send(rc.RESIZE, rc.resize_payload(width, height))
        except ConnectionClosed:
            pass

    def close_stdin(self) -> None:
        if self.codec.close_signal:
            _run(self.conn.send(self.codec.encode_close(rc.STDIN)))

    def pump_stdin(self, fd: int) -> None:
        """Copy ``fd`` to stdin frames until its EOF (run in a thread)."""
        try:
            while True:
                data = os.read(fd, _CHUNK)
                if not data:
                    self.close_stdin()
                    return
                self.send(rc.STDIN, data)
        except (ConnectionClosed, OSError):
            return

    def run(self, streams: Streams) -> int:
        """Receive until the server closes; the process's exit code (0 for attach).
        Raises rc.StreamError for a failure the server reported instead."""
        if streams.stdin_fd is not None:
            threading.Thread(
                target=self.pump_stdin, args=(streams.stdin_fd,), daemon=True, name="stdin"
            ).start()
        error = b""
        try:
            while True:
                try:
                    message = _run(self.conn.recv())
                except ConnectionClosedOK:
                    break
                frame = self.codec.decode(message)
                if frame is None or frame.close:
                    continue
                if frame.channel == rc.STDOUT:
                    streams.stdout(frame.data)
                elif frame.channel == rc.STDERR:
                    streams.stderr(frame.data)
                elif frame.channel == rc.ERROR:
                    error += frame.data
        except ConnectionClosed as e:
            if e.rcvd is None or e.rcvd.code != 1000:
                raise rc.StreamError(f"the stream was cut: {e}") from e
        return rc.exit_code_of(error, self.codec.status_json)

    def close(self) -> None:
        _run(self.conn.close())


def open_stream(
    cfg: ClusterConfig,
    path: str,
    query: Sequence[tuple[str, str]],
    protocols: Sequence[str] = OFFERED,
) -> Session:
    """Open the WebSocket of ``path`` (``/api/v1/namespaces/NS/pods/P/exec``) on the
    cluster of ``cfg``. A refused handshake raises the server's Status as ApiError."""
    base = cfg.server.rstrip("/")
    scheme = "wss" if base.startswith("https") else "ws"
    url = f"{scheme}{base[base.index(':') :]}{path}?{urlencode(list(query))}"
    headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
    tls = ssl_context(cfg.ca_data, None, cfg.verify) if scheme == "wss" else None

    async def opened() -> ClientConnection:
        return await connect(
            url,
            subprotocols=list(protocols),  # type: ignore[arg-type]
            additional_headers=headers,
            ssl=tls if not isinstance(tls, bool) else None,
            max_size=16 * 1024 * 1024,
            compression=None,
            open_timeout=30,
        )

    try:
        conn = _run(opened())
    except InvalidStatus as e:
        body = bytes(e.response.body or b"")
        try:
            raise ApiError.from_status(orjson.loads(body), e.response.status_code) from None
        except orjson.JSONDecodeError:
            raise ApiError(e.response.status_code, body.decode(errors="replace")) from None
    except (OSError, InvalidHandshake, TimeoutError) as e:
        raise ServerUnreachable(cfg.server, str(e)) from e
    return Session(conn)


class PortForwardStream:
    """One forwarded TCP connection over a ``pods/portforward`` WebSocket (one port):
    data on channel 0, the kubelet's error text on channel 1, each opened by the port."""

    def __init__(self, conn: ClientConnection, port: int) -> None:
        self.conn = conn
        self.port = port
        self.codec = rc.ChannelCodec(conn.subprotocol or "")
        self.error = ""

    def send(self, data: bytes) -> None:
        _run(self.conn.send(self.codec.encode(0, data)))

    def receive(self, write: Write) -> None:
        """Copy what the pod's port sends to ``write`` until the stream ends; the error
        channel's text, if any, is kept in ``error``."""
        opened = [False, False]
        try:
            while True:
                message = _run(self.conn.recv())
                frame = self.codec.decode(message)
                if frame is None or frame.channel > 1:
                    continue
                if not opened[frame.channel]:
                    opened[frame.channel] = True  # the port header
                    continue
                if frame.channel == 0:
                    write(frame.data)
                else:
                    self.error += frame.data.decode(errors="replace")
        except ConnectionClosed:
            pass

    def close(self) -> None:
        _run(self.conn.close())


def open_portforward(cfg: ClusterConfig, path: str, port: int) -> PortForwardStream:
    """A port-forward WebSocket for ``port`` of the pod at ``path`` (``.../portforward``)."""
    session = open_stream(cfg, path, [("ports", str(port))], (rc.V4,))
    return PortForwardStream(session.conn, port)
