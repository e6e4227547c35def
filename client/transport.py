"""The blocking client's I/O, and what both clients' transports share.

A transport is what differs between ``client.aio`` and the ``client.sync`` generated from
it: how connections are made, and how one ordinary request is sent (retried once when a
kept-alive connection turns out dead; a failure leaves as ``ServerUnreachable``). Streams
and raw requests go through the transport's httpx client (``http``), whose sync and async
APIs match. Everything above it (the verbs, watches, the reflector loop) is written
once, in ``client.aio``.

The blocking transport sends ordinary requests through ``client.blocking`` (the standard
library's ``http.client``) and makes its httpx client only when a stream, a raw request
or a proxy needs it: importing httpx takes longer than the rest of a one-shot
``kl get pods``.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from client import core
from client.blocking import TRANSPORT_ERRORS, BlockingPool

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach one API server. ``timeout``: seconds for every step, or an
    httpx.Timeout; None: ``core.REQUEST_TIMEOUT_SECONDS``, connecting within
    ``core.CONNECT_TIMEOUT_SECONDS``."""

    base_url: str
    headers: dict[str, str]
    tls: ssl.SSLContext | bool
    timeout: float | httpx.Timeout | None = None

    def httpx_timeout(self) -> httpx.Timeout:
        import httpx

        t = self.timeout
        if t is None:
            return httpx.Timeout(core.REQUEST_TIMEOUT_SECONDS, connect=core.CONNECT_TIMEOUT_SECONDS)
        return t if isinstance(t, httpx.Timeout) else httpx.Timeout(t)

    def seconds(self) -> tuple[float | None, float | None]:
        """(connect, read) timeouts in seconds; None waits for ever."""
        t = self.timeout
        if t is None:
            return core.CONNECT_TIMEOUT_SECONDS, core.REQUEST_TIMEOUT_SECONDS
        if isinstance(t, int | float):
            return float(t), float(t)
        return t.connect, t.read

    def httpx_settings(self, max_connections: int, max_keepalive: int) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client`` / ``httpx.AsyncClient``: HTTP/1.1
        only (watches are long-lived streams; HTTP/2 gains nothing here)."""
        import httpx

        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        )
        return {
            "base_url": self.base_url,
            "headers": self.headers,
            "verify": self.tls,
            "timeout": self.httpx_timeout(),
            "http1": True,
            "http2": False,
            "limits": limits,
        }


def httpx_args(spec: core.RequestSpec) -> dict[str, Any]:
    """The keyword arguments of httpx's ``request`` for ``spec`` (after method and path)."""
    return {
        "params": spec.params or None,
        "content": spec.content,
        "headers": spec.headers or None,
    }


def give_up(server: str, spec: core.RequestSpec, attempt: int, exc: Exception) -> None:
    """After a failed ``attempt`` at ``spec``: return to try once more, or raise the
    ServerUnreachable the caller gets (see ``core.retryable``)."""
    if attempt == 1 and core.retryable(spec.method, exc):
        return
    raise core.unreachable(server, exc) from exc


class SyncTransport:
    """Ordinary requests through a blocking keep-alive pool (thread-safe), streams and raw
    requests through an ``httpx.Client`` made on first use; with a proxy in the
    environment, httpx carries everything (it speaks to proxies, the pool does not)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.server = endpoint.base_url
        self._http: httpx.Client | None = None
        self._pool: BlockingPool | None = None
        if not core.proxied(endpoint.base_url):
            connect, read = endpoint.seconds()
            self._pool = BlockingPool(
                endpoint.base_url, endpoint.tls, endpoint.headers, connect, read
            )

    @property
    def http(self) -> httpx.Client:
        """The httpx client for streams and raw requests (made on first use)."""
        if self._http is None:
            import httpx

            self._http = httpx.Client(**self.endpoint.httpx_settings(100, 20))
        return self._http

    def send(self, spec: core.RequestSpec) -> core.Reply:
        """One ordinary request and its complete reply, whatever its status; a 429 with
        Retry-After is sent again after the wait it names (``core.retry_after``)."""
        tries = 1
        while True:
            reply = self._send_once(spec)
            wait = core.retry_after(reply, tries)
            if wait is None:
                return reply
            tries += 1
            time.sleep(wait)

    def _send_once(self, spec: core.RequestSpec) -> core.Reply:
        pool = self._pool
        if pool is None:
            return self._send_by_httpx(spec)
        for attempt in (1, 2):
            try:
                return pool.request(
                    spec.method, spec.path, spec.params or None, spec.content, spec.headers or None
                )
            except TRANSPORT_ERRORS as e:
                give_up(self.server, spec, attempt, e)
        raise AssertionError("unreachable")

    def _send_by_httpx(self, spec: core.RequestSpec) -> core.Reply:
        import httpx

        for attempt in (1, 2):
            try:
                return self.http.request(spec.method, spec.path, **httpx_args(spec))
            except httpx.TransportError as e:
                give_up(self.server, spec, attempt, e)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._http is not None:
            self._http.close()
