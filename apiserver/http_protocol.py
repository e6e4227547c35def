"""uvicorn's httptools protocol, with each response's head and body in one TLS write.

uvicorn writes a response's status line and headers as soon as the app starts the
response, and the body in a second write: over TLS that is two records, two
encryptions and two ``send`` syscalls per answer, where one would do. Here the head
is held back until the next write (the body, in the same step of the event loop for
an ordinary response), or until the loop's next turn at the latest, so a streamed
response (a watch) still sends its headers at once.

It also hands kubectl's ``Upgrade: SPDY/3.1`` port-forward to apiserver/spdy_upgrade.py
(uvicorn upgrades to WebSocket only, and answered any other upgrade as a plain request).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD = b"HTTP/1.1 "


class _HeadHoldingTransport:
    """A transport that holds a response head until the next write or loop turn."""

    __slots__ = ("_transport", "_held", "_loop")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_HEAD):
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, ...) as is.
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose responses go out as one write each."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadHoldingTransport(transport))  # type: ignore[arg-type]

    # -- kubectl's SPDY/3.1 port-forward upgrade (apiserver/spdy_upgrade.py) ------------------

    def _should_upgrade(self) -> bool:
        from apiserver.spdy_upgrade import wants_spdy_portforward

        if wants_spdy_portforward(self._get_upgrade(), self.url):
            return True
        return bool(super()._should_upgrade())

    def handle_websocket_upgrade(self) -> None:
        from apiserver import spdy_upgrade

        if not spdy_upgrade.wants_spdy_portforward(self._get_upgrade(), self.url):
            super().handle_websocket_upgrade()
            return
        parsed = httptools.parse_url(self.url)
        path = urllib.parse.unquote(parsed.path.decode("ascii"))
        scope = spdy_upgrade.websocket_scope(dict(self.scope), path, parsed.query or b"")
        scope["server"], scope["client"] = self.server, self.client
        self.connections.discard(self)
        protocol = spdy_upgrade.SpdyUpgrade(self.app, scope)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
