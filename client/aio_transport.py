"""The asyncio client's I/O: one keep-alive ``httpx.AsyncClient`` for watches, logs and
raw requests, and the lean HTTP/1.1 pool (``client.http1``, a fifth of httpx's CPU per
request) for ordinary requests, unless a proxy is in the way (then httpx does all).
What a transport is: ``client.transport``."""

from __future__ import annotations

import asyncio

import httpx

from client import core
from client.http1 import Http1Pool
from client.transport import Endpoint, give_up, httpx_args


class AsyncTransport:
    """The asyncio transport (use it from one event loop)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.server = endpoint.base_url
        # Informers hold one connection per watch, so allow plenty.
        self.http = httpx.AsyncClient(**endpoint.httpx_settings(200, 50))
        self._pool: Http1Pool | None = None
        if not core.proxied(endpoint.base_url):
            self._pool = Http1Pool(
                endpoint.base_url, endpoint.tls, endpoint.headers, endpoint.httpx_timeout()
            )

    async def send(self, spec: core.RequestSpec) -> core.Reply:
        """One ordinary request and its complete reply, whatever its status; a 429 with
        Retry-After is sent again after the wait it names (``core.retry_after``)."""
        tries = 1
        while True:
            reply = await self._send_once(spec)
            wait = core.retry_after(reply, tries)
            if wait is None:
                return reply
            tries += 1
            await asyncio.sleep(wait)

    async def _send_once(self, spec: core.RequestSpec) -> core.Reply:
        for attempt in (1, 2):
            try:
                if self._pool is None:
                    return await self.http.request(spec.method, spec.path, **httpx_args(spec))
                return await self._pool.request(
                    spec.method, spec.path, spec.params or None, spec.content, spec.headers or None
                )
            except httpx.TransportError as e:
                give_up(self.server, spec, attempt, e)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        await self.http.aclose()
