"""A blocking HTTP/1.1 keep-alive pool on the standard library's ``http.client``, for the
sync client's ordinary (non-streaming) requests.

Importing httpx (with httpcore, h11, anyio's pieces and its command line) takes longer
than everything else a one-shot ``kl get pods`` does, and a CLI that a lab types all day
must start fast. ``http.client`` is already loaded by little more than ``ssl``. Watches,
logs, raw requests and servers behind a proxy keep httpx, which the sync client imports
only when it needs one.

Connections are reused as ``client.http1`` reuses them (``client.reuse``): one idle past
``MAX_IDLE_SECONDS`` or with news on its socket is closed instead, and a request that a
reused connection broke before any byte of the reply is sent once more on a new one
when ``may_retry`` allows. Failures are raised as ``OSError`` (``ssl.SSLError``,
``TimeoutError``, ``ConnectionError``) or ``http.client.HTTPException``.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from client.reuse import MAX_IDLE_SECONDS, Failure, Reply, may_retry, request_target

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class _Broken(Exception):
    """The connection broke before the first byte of a reply (internal)."""

    def __init__(self, failure: Failure, cause: BaseException) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.cause = cause


def _has_news(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection's socket is readable: EOF, a reset or stray bytes,
    none of which an idle HTTP/1.1 connection may carry."""
    sock = conn.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _headers(resp: http.client.HTTPResponse) -> dict[str, str]:
    """Header names in lower case; a repeated header (several ``Warning`` lines) joined
    with ", " as RFC 9110 allows and as httpx's ``headers.get`` returns it."""
    out: dict[str, str] = {}
    for name, value in resp.getheaders():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class BlockingPool:
    """Keep-alive connections to one server, reused last-in first-out (thread-safe)."""

    def __init__(
        self,
        base_url: str,
        tls: ssl.SSLContext | bool,
        headers: dict[str, str],
        connect_timeout: float | None,  # None: wait for ever
        read_timeout: float | None,
        max_idle: int = 20,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        u = urlsplit(base_url)
        self.https = u.scheme == "https"
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or (443 if self.https else 80)
        self.prefix = u.path.rstrip("/")
        self.tls = tls if isinstance(tls, ssl.SSLContext) else ssl.create_default_context()
        self.headers = dict(headers)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.max_idle_seconds = max_idle_seconds
        self._clock = clock
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout, context=self.tls
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        return conn

    def _reusable(self) -> http.client.HTTPConnection | None:
        """The most recently used idle connection that is still good, or None."""
        now = self._clock()
        with self._lock:
            while self._idle:
                since, conn = self._idle.pop()
                if now - since <= self.max_idle_seconds and not _has_news(conn):
                    return conn
                conn.close()
        return None

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request and its complete reply."""
        if self._closed:
            raise ConnectionError("the client is closed")
        target = request_target(self.prefix, path, params)
        hdrs = {**self.headers, **(headers or {})}
        if content is None and method in ("POST", "PUT", "PATCH"):
            content = b""  # http.client then says Content-Length: 0
        conn = self._reusable()
        reused = conn is not None
        try:
            return self._exchange(conn or self._connect(), method, target, content, hdrs)
        except _Broken as e:
            if not may_retry(method, reused, e.failure):
                raise e.cause from None
        # Once, on a new connection: the others in the pool are as old as this one.
        try:
            return self._exchange(self._connect(), method, target, content, hdrs)
        except _Broken as e:
            raise e.cause from None

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        content: bytes | None,
        headers: dict[str, str],
    ) -> Reply:
        """One request on ``conn``; the connection goes back to the pool or is closed."""
        try:
            # http.client writes the head and a bytes body in one send (no Nagle stall).
            conn.request(method, target, body=content, headers=headers)
        except TRANSPORT_ERRORS as e:
            conn.close()
            raise _Broken(Failure.UNSENT, e) from e
        try:
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            conn.close()
            raise _Broken(Failure.NO_REPLY, e) from e
        except BaseException:
            conn.close()
            raise
        try:
            body = resp.read()
        except BaseException:
            conn.close()
            raise
        reply = Reply(resp.status, body, _headers(resp))
        with self._lock:
            if resp.will_close or self._closed or len(self._idle) >= self.max_idle:
                conn.close()
            else:
                self._idle.append((self._clock(), conn))
        return reply

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()
