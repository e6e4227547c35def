"""The Bind step: POST ``pods/NAME/binding``.

Binding is the one request the scheduler sends per pod, so at a thousand pods a
second its cost per request decides the scheduler's throughput. Profiling showed
httpx/httpcore spending ~85 % of the scheduler's CPU there (connection-pool
bookkeeping per request), so :class:`HttpBinder` speaks HTTP/1.1 itself over a few
keep-alive TLS connections: write one request, read one response, nothing else.
:class:`ClientBinder` goes through the ordinary AsyncClient (used by tests that build
a Scheduler around a client).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from api.errors import ApiError
from client import AsyncClient
from client.core import error_from

Obj = dict[str, Any]


class Binder(Protocol):
    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        """Write the Binding; raise ApiError on a non-2xx answer, ConnectionError when
        the server cannot be reached."""
        ...

    async def close(self) -> None: ...


class ClientBinder:
    """Bindings through :class:`client.AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        await self.client.create("pods", body, namespace, subresource="binding", name=name)

    async def close(self) -> None:
        return None


class _Conn:
    __slots__ = ("reader", "writer", "used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False


class HttpBinder:
    """Bindings over a pool of at most ``connections`` keep-alive HTTP/1.1 connections."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        ssl_context: ssl.SSLContext | bool | None = None,
        connections: int = 16,
        timeout: float = 30.0,
    ) -> None:
        url = urlsplit(server)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        if url.scheme == "https":
            if isinstance(ssl_context, ssl.SSLContext):
                self.ssl: ssl.SSLContext | None = ssl_context
            elif ssl_context is False:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                self.ssl = ctx
            else:
                self.ssl = ssl.create_default_context()
        else:
            self.ssl = None
        host_header = self.host if url.port is None else f"{self.host}:{self.port}"
        self._headers = (
            f"Host: {host_header}\r\nUser-Agent: kubelab-scheduler\r\n"
            "Accept: application/json\r\nContent-Type: application/json\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
        )
        self.timeout = timeout
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(connections)
        self.server = server

    @classmethod
    def from_kubeconfig(
        cls, path: str | None, context: str | None = None, **kwargs: Any
    ) -> HttpBinder:
        """A binder for the cluster of a kubeconfig (same lookup as the client)."""
        from client import load_kubeconfig
        from client.core import ssl_context

        cfg = load_kubeconfig(path, context)
        return cls(cfg.server, cfg.token, ssl_context(cfg.ca_data, None, cfg.verify), **kwargs)

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None
        )
        return _Conn(reader, writer)

    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        path = f"{self.prefix}/api/v1/namespaces/{namespace}/pods/{name}/binding"
        payload = orjson.dumps(body)
        request = (
            f"POST {path} HTTP/1.1\r\n{self._headers}Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        async with self._slots:
            for attempt in (0, 1):
                conn = self._idle.pop() if self._idle else None
                reused = conn is not None
                if conn is None:
                    try:
                        conn = await asyncio.wait_for(self._connect(), self.timeout)
                    except (OSError, TimeoutError) as exc:
                        raise ConnectionError(f"cannot reach {self.server}: {exc}") from exc
                try:
                    status, keep_alive, content = await asyncio.wait_for(
                        self._exchange(conn, request), self.timeout
                    )
                except _StaleConnection:
                    conn.writer.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle keep-alive connection: retry once
                    raise ConnectionError(f"{self.server} closed the connection") from None
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                    conn.writer.close()
                    raise ConnectionError(f"binding {namespace}/{name}: {exc!r}") from exc
                if keep_alive:
                    self._idle.append(conn)
                else:
                    conn.writer.close()
                if status >= 300:
                    raise error_from(status, content)
                return
        raise ConnectionError(f"binding {namespace}/{name}: no connection")  # not reached

    async def _exchange(self, conn: _Conn, request: bytes) -> tuple[int, bool, bytes]:
        conn.writer.write(request)
        await conn.writer.drain()
        line = await conn.reader.readline()
        if not line:
            raise _StaleConnection
        conn.used = True
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {line[:80]!r}")
        status = int(parts[1])
        keep_alive = parts[0] == b"HTTP/1.1"
        length: int | None = None
        chunked = False
        while True:
            h = await conn.reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.partition(b":")
            k = k.strip().lower()
            v = v.strip()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
            elif k == b"connection":
                keep_alive = v.lower() != b"close"
        if chunked:
            content = b""
            while True:
                size = int((await conn.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await conn.reader.readline()
                    break
                content += await conn.reader.readexactly(size + 2)
                content = content[:-2]
        elif length is not None:
            content = await conn.reader.readexactly(length)
        else:
            content = await conn.reader.read()
            keep_alive = False
        return status, keep_alive, content

    async def close(self) -> None:
        for conn in self._idle:
            conn.writer.close()
        self._idle.clear()


class _StaleConnection(Exception):
    """The connection closed before a response began."""


__all__ = ["ApiError", "Binder", "ClientBinder", "HttpBinder"]
