"""The Ingress router's WebSocket relay: the client's WebSocket (accepted by uvicorn, an
ASGI ``websocket`` scope) joined to one the ``websockets`` client opens to the backend,
message by message, until either side closes. No frame is parsed here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

log = logging.getLogger(__name__)


async def proxy_websocket(
    url: str, headers: list[tuple[str, str]], subprotocols: list[str], receive: Any, send: Any
) -> None:
    """Open ``url`` for the client waiting on ``receive``/``send`` and relay; the client's
    handshake is accepted only once the backend's is done (with its subprotocol)."""
    await receive()  # websocket.connect
    try:
        upstream = await ws_connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols or None,  # type: ignore[arg-type]
            open_timeout=5,
            max_size=None,
            compression=None,
        )
    except (OSError, WebSocketException, TimeoutError) as e:
        log.info("ingress router: WebSocket backend %s failed: %s", url, e)
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    await _relay_websocket(upstream, receive, send)


async def _relay_websocket(upstream: Any, receive: Any, send: Any) -> None:
    """Copy messages both ways until either side closes."""

    async def from_client() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close()
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message.get("text") or "")

    async def from_backend() -> None:
        try:
            async for data in upstream:
                key = "bytes" if isinstance(data, bytes) else "text"
                await send({"type": "websocket.send", key: data})
        except ConnectionClosed:
            pass
        code = upstream.close_code or 1000
        await send({"type": "websocket.close", "code": code if code != 1005 else 1000})

    tasks = [asyncio.create_task(from_client()), asyncio.create_task(from_backend())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await upstream.close()
