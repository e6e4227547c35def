"""A plain ``Upgrade: SPDY/3.1`` port-forward (kubectl before 1.31, and 1.35's fallback),
served as the SPDY-in-WebSocket tunnel already is.

After the 101, a SPDY upgrade carries the same SPDY byte stream the tunnel carries in
WebSocket binary messages. So the HTTP protocol (apiserver/http_protocol.py) hands such
a connection to ``SpdyUpgrade``, which runs the app's WebSocket route with an ASGI
``websocket`` scope offering ``SPDY/3.1+portforward.k8s.io``: the same authentication,
RBAC, pod checks and SPDY session (apiserver/streaming.py, portforward_tunnel.py). The
app's accept becomes the SPDY 101 (``X-Stream-Protocol-Version: portforward.k8s.io``), a
refusal its Status as an HTTP response, and each message raw bytes on the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from api.spdy_portforward import PROTOCOL, TUNNEL_PROTOCOL

log = logging.getLogger(__name__)

UPGRADE = b"spdy/3.1"
SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    + f"X-Stream-Protocol-Version: {PROTOCOL}\r\n\r\n".encode()
)
_REASONS = {400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found"}

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def wants_spdy_portforward(upgrade: bytes | None, path: bytes) -> bool:
    """An upgrade this module serves: SPDY/3.1 to a ``pods/NAME/portforward`` path."""
    return upgrade == UPGRADE and path.split(b"?", 1)[0].rstrip(b"/").endswith(b"/portforward")


def websocket_scope(http_scope: dict[str, Any], path: str, query: bytes) -> dict[str, Any]:
    """The ASGI websocket scope the app's WebSocket route sees for this upgrade."""
    return {
        **{k: v for k, v in http_scope.items() if k in ("server", "client", "state", "headers")},
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "wss",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "subprotocols": [TUNNEL_PROTOCOL],
        "extensions": {"websocket.http.response": {}},
    }


class SpdyUpgrade(asyncio.Protocol):
    """The connection after the upgrade request: ASGI websocket events to and from bytes."""

    def __init__(self, app: App, scope: dict[str, Any]) -> None:
        self.app = app
        self.scope = scope
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.accepted = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) or hasattr(transport, "write")
        self.transport = transport  # type: ignore[assignment]
        self.events.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(self._run(), name="spdy-upgrade")

    def data_received(self, data: bytes) -> None:
        self.events.put_nowait({"type": "websocket.receive", "bytes": data})

    def eof_received(self) -> bool | None:
        self.events.put_nowait({"type": "websocket.disconnect", "code": 1000})
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.put_nowait({"type": "websocket.disconnect", "code": 1006})
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self.events.get, self._send)
        except Exception as e:  # noqa: BLE001 - the connection ends; the server goes on
            log.info("SPDY port-forward ended: %s", e)
        finally:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

    async def _send(self, message: dict[str, Any]) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted = True
            t.write(SWITCHING)
        elif kind == "websocket.send":
            await self.writable.wait()
            t.write(message.get("bytes") or (message.get("text") or "").encode())
        elif kind == "websocket.http.response.start":
            status = int(message["status"])
            head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Error"))]
            head += [name + b": " + value + b"\r\n" for name, value in message.get("headers", [])]
            t.write(b"".join(head) + b"connection: close\r\n\r\n")
        elif kind == "websocket.http.response.body":
            t.write(message.get("body") or b"")
            if not message.get("more_body"):
                t.close()
        elif kind == "websocket.close":
            with contextlib.suppress(Exception):
                t.close()
