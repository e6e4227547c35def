"""A lean HTTP/1.1 keep-alive connection pool on asyncio streams, for the async client's
ordinary (non-streaming) requests.

httpx spends about a millisecond of CPU on each request (request and URL models, auth
and redirect layers, anyio streams, the pool's bookkeeping, and a separate TLS write for
the head and the body); this pool spends about a fifth of that, which is what lets a
controller create hundreds of pods a second and a scheduler bind them on a small box.
Watches and logs keep using httpx's streaming. Failures are raised as the httpx
exceptions the client already translates (``ConnectError``, ``ReadError``, timeouts), so
retries and error messages stay the same.

A kept-alive connection can die while it sits in the pool: the server closes it after
its keep-alive timeout, or restarts. The pool drops a connection idle for longer than
``max_idle_seconds`` (a margin below the apiserver's timeout), looks at the socket
before reusing one (as urllib3 and httpcore do), and retries a request once on a fresh
connection when a reused one fails before any byte of the reply, if that cannot apply
the request twice (``may_retry``).
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from client.reuse import MAX_IDLE_SECONDS, Failure, Reply, may_retry, request_target

_MAX_HEAD = 64 * 1024  # the longest status line and headers accepted


class _BrokenBeforeReply(Exception):
    """The connection broke before the first byte of a reply (internal)."""

    def __init__(self, failure: Failure, cause: BaseException | None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.cause = cause


def _socket_has_news(writer: asyncio.StreamWriter) -> bool:
    """Whether the socket under an idle connection is readable: EOF, a reset or stray
    bytes from the server, none of which an idle HTTP/1.1 connection may carry. The
    event loop may not have looked yet (it was busy), so ask the kernel directly."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _Connection:
    """One kept-alive connection: a request written in one go, its reply read whole."""

    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0  # the pool's clock when it went back to the pool

    def usable(self, now: float, max_idle: float) -> bool:
        """Whether an idle connection may carry the next request."""
        if now - self.idle_since > max_idle:
            return False  # the server's keep-alive timer may fire at any moment now
        # The server closed it (restart, keep-alive timeout): EOF seen by the loop, or
        # still only in the kernel when the loop was busy.
        if self.reader.at_eof() or self.writer.is_closing():
            return False
        return not _socket_has_news(self.writer)

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: bytes, head_only: bool) -> tuple[Reply, bool]:
        """Send ``request``; the reply and whether the connection may be reused.

        Raises ``_BrokenBeforeReply`` when the connection fails before the reply began."""
        self.writer.write(request)
        if self.writer.is_closing():
            # The transport tries to send at once and closes itself when the kernel
            # refuses (ECONNRESET, EPIPE): the request was not sent, not even in part.
            raise _BrokenBeforeReply(Failure.UNSENT, None)
        reader = self.reader
        try:
            first = await reader.readexactly(1)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError) as e:
            raise _BrokenBeforeReply(Failure.NO_REPLY, e) from e
        head = first + await reader.readuntil(b"\r\n\r\n")
        while True:
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise httpx.RemoteProtocolError(f"not an HTTP/1.1 reply: {lines[0][:80]!r}")
            status = int(parts[1])
            if status >= 200 or status == 101:
                break  # 1xx informational replies (100 Continue) precede the real one
            head = await reader.readuntil(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        keep = "close" not in headers.get("connection", "").lower() and parts[0] != "HTTP/1.0"
        if head_only or status in (204, 304):
            return Reply(status, b"", headers), keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    break
                chunks.append(await reader.readexactly(size + 2))
            return Reply(status, b"".join(c[:-2] for c in chunks), headers), keep
        length = headers.get("content-length")
        if length is not None:
            return Reply(status, await reader.readexactly(int(length)), headers), keep
        return Reply(status, await reader.read(), headers), False  # until the server closes


def _transport_error(e: _BrokenBeforeReply) -> httpx.TransportError:
    """The httpx exception the client maps, for a request that got no reply."""
    if e.failure is Failure.UNSENT:
        return httpx.WriteError("the connection was reset before the request could be sent")
    if isinstance(e.cause, asyncio.IncompleteReadError):
        return httpx.RemoteProtocolError("the server closed the connection without replying")
    return httpx.ReadError(str(e.cause) or type(e.cause).__name__)


class Http1Pool:
    """Keep-alive connections to one server, reused last-in first-out."""

    def __init__(
        self,
        base_url: str,
        tls: ssl.SSLContext | bool,
        headers: dict[str, str],
        timeout: httpx.Timeout,
        max_idle: int = 50,
        max_in_flight: int = 100,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        u = urlsplit(base_url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.tls: ssl.SSLContext | None = None
        if u.scheme == "https":
            self.tls = tls if isinstance(tls, ssl.SSLContext) else ssl.create_default_context()
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if u.scheme == "https" else 80
        base = {"Host": host if self.port == default_port else f"{host}:{self.port}", **headers}
        self._base_head = "".join(f"{k}: {v}\r\n" for k, v in base.items())
        self.connect_timeout = timeout.connect
        self.read_timeout = timeout.read
        self.max_idle = max_idle
        self.max_idle_seconds = max_idle_seconds
        self._clock = clock
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._max_in_flight = max_in_flight
        self._closed = False

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                    limit=_MAX_HEAD,
                )
        except TimeoutError as e:
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port} timed out") from e
        except (OSError, ssl.SSLError) as e:
            raise httpx.ConnectError(str(e) or type(e).__name__) from e
        return _Connection(reader, writer)

    def _encode(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        content: bytes | None,
        headers: dict[str, str] | None,
    ) -> bytes:
        target = request_target(self.prefix, path, params)
        head = f"{method} {target} HTTP/1.1\r\n{self._base_head}"
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if content is not None or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(content or b'')}\r\n"
        data = (head + "\r\n").encode("latin-1")
        return data + content if content else data

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request and its complete reply. Raises httpx transport exceptions."""
        if self._closed:
            raise httpx.ConnectError("the client is closed")
        if self._slots is None:  # made on first use: it belongs to the running loop
            self._slots = asyncio.Semaphore(self._max_in_flight)
        data = self._encode(method, path, params, content, headers)
        async with self._slots:
            conn = self._reusable()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                return await self._exchange(conn, method, path, data)
            except _BrokenBeforeReply as e:
                if not may_retry(method, reused, e.failure):
                    raise _transport_error(e) from e.cause
            # Once, on a new connection: the others in the pool are as old as this one.
            conn = await self._connect()
            try:
                return await self._exchange(conn, method, path, data)
            except _BrokenBeforeReply as e:
                raise _transport_error(e) from e.cause

    def _reusable(self) -> _Connection | None:
        """The most recently used idle connection that is still good, or None."""
        now = self._clock()
        idle = self._idle
        # The oldest are at the bottom: drop every one past its idle limit at once.
        while idle and now - idle[0].idle_since > self.max_idle_seconds:
            idle.pop(0).close()
        while idle:
            c = idle.pop()
            if c.usable(now, self.max_idle_seconds):
                return c
            c.close()
        return None

    async def _exchange(self, conn: _Connection, method: str, path: str, data: bytes) -> Reply:
        """One request on ``conn``; the connection goes back to the pool or is closed."""
        try:
            async with asyncio.timeout(self.read_timeout):
                reply, keep = await conn.exchange(data, method == "HEAD")
        except TimeoutError as e:
            conn.close()
            raise httpx.ReadTimeout(f"no reply to {method} {path} in time") from e
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            conn.close()
            raise httpx.RemoteProtocolError(
                f"the server closed the connection mid-reply ({type(e).__name__})"
            ) from e
        except (ConnectionError, ssl.SSLError, OSError) as e:
            conn.close()
            raise httpx.ReadError(str(e) or type(e).__name__) from e
        except BaseException:
            conn.close()  # cancelled mid-request, or broken before the reply: state unknown
            raise
        if keep and not self._closed and len(self._idle) < self.max_idle:
            conn.idle_since = self._clock()
            self._idle.append(conn)
        else:
            conn.close()
        return reply

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for c in idle:
            c.close()
