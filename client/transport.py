"""The blocking client's I/O, and what both clients' transports share.

A transport is what differs between ``client.aio`` and the ``client.sync`` generated from
it: how connections are made, and how one ordinary request is sent (retried once when a
kept-alive connection turns out dead; a failure leaves as ``ServerUnreachable``). Streams
and raw requests go through the transport's httpx client (``http``), whose sync and async
APIs match. Everything above it (the verbs, watches, the reflector loop) is written
once, in ``client.aio``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from client import core


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach one API server."""

    base_url: str
    headers: dict[str, str]
    tls: ssl.SSLContext | bool
    timeout: float | httpx.Timeout

    def httpx_settings(self, max_connections: int, max_keepalive: int) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client`` / ``httpx.AsyncClient``: HTTP/1.1
        only (watches are long-lived streams; HTTP/2 gains nothing here)."""
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        )
        return {
            "base_url": self.base_url,
            "headers": self.headers,
            "verify": self.tls,
            "timeout": self.timeout,
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
    if attempt == 1 and isinstance(exc, httpx.TransportError) and core.retryable(spec.method, exc):
        return
    raise core.unreachable(server, exc) from exc


class SyncTransport:
    """One keep-alive ``httpx.Client`` (thread-safe) for every request."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.server = endpoint.base_url
        self.http = httpx.Client(**endpoint.httpx_settings(100, 20))

    def send(self, spec: core.RequestSpec) -> core.Reply:
        """One ordinary request and its complete reply, whatever its status."""
        for attempt in (1, 2):
            try:
                return self.http.request(spec.method, spec.path, **httpx_args(spec))
            except httpx.TransportError as e:
                give_up(self.server, spec, attempt, e)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.http.close()
