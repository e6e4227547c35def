"""The client side of ``pods/exec`` and ``pods/attach``: a WebSocket speaking the remote
command channel protocols (api/remotecommand.py), for ``kl exec`` and ``kl attach``.

Blocking, for a CLI: the calling thread receives frames and writes them out; a second
thread copies stdin into frames (and, with v5, half-closes stdin at its EOF, so ``cat``
and ``sh`` see their input end). Uses the websockets package's sync client, the same
library the apiserver relays with.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from api import remotecommand as rc
from api.errors import ApiError
from client.core import ServerUnreachable, ssl_context
from client.kubeconfig import ClusterConfig

# What kl offers, newest first: v5 has the close signal stdin's EOF needs.
OFFERED = (rc.V5, rc.V4)
_CHUNK = 32 * 1024

Write = Callable[[bytes], None]


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
        self._send_lock = threading.Lock()

    def send(self, channel: int, data: bytes) -> None:
        with self._send_lock:
            self.conn.send(self.codec.encode(channel, data))

    def resize(self, width: int, height: int) -> None:
        """Tell the process's terminal its new size (ignored on a closed stream)."""
        try:
            self.send(rc.RESIZE, rc.resize_payload(width, height))
        except ConnectionClosed:
            pass

    def close_stdin(self) -> None:
        if self.codec.close_signal:
            with self._send_lock:
                self.conn.send(self.codec.encode_close(rc.STDIN))

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
            for message in self.conn:
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
        self.conn.close()


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
    try:
        conn = connect(
            url,
            subprotocols=list(protocols),  # type: ignore[arg-type]
            additional_headers=headers,
            ssl=tls if not isinstance(tls, bool) else None,
            max_size=16 * 1024 * 1024,
            compression=None,
            open_timeout=30,
        )
    except InvalidStatus as e:
        body = bytes(e.response.body or b"")
        try:
            raise ApiError.from_status(orjson.loads(body), e.response.status_code) from None
        except orjson.JSONDecodeError:
            raise ApiError(e.response.status_code, body.decode(errors="replace")) from None
    except (OSError, InvalidHandshake, TimeoutError) as e:
        raise ServerUnreachable(cfg.server, str(e)) from e
    return Session(conn)
