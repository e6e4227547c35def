"""A lean HTTP/1.1 keep-alive connection pool on asyncio streams, for the async client's
ordinary (non-streaming) requests.

httpx spends about a millisecond of CPU on each request (request and URL models, auth
and redirect layers, anyio streams, the pool's bookkeeping, and a separate TLS write for
the head and the body); this pool spends about a fifth of that, which is what lets a
controller create hundreds of pods a second and a scheduler bind them on a small box.
Watches and logs keep using httpx's streaming. Failures are raised as the httpx
exceptions the client already translates (``ConnectError``, ``ReadError``, timeouts), so
retries and error messages stay the same.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import httpx

_MAX_HEAD = 64 * 1024  # the longest status line and headers accepted


@dataclass
class Reply:
    """A complete response: what ``core.decode`` and the client's callers read."""

    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class _Connection:
    """One kept-alive connection: a request written in one go, its reply read whole."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        # The server closed an idle connection (restart, keep-alive timeout): EOF is seen.
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: bytes, head_only: bool) -> tuple[Reply, bool]:
        """Send ``request``; the reply and whether the connection may be reused."""
        self.writer.write(request)
        reader = self.reader
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise httpx.RemoteProtocolError(f"not an HTTP/1.1 reply: {lines[0][:80]!r}")
            status = int(parts[1])
            if status >= 200 or status == 101:
                break  # 1xx informational replies (100 Continue) precede the real one
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
        # Percent-encode what may not stand raw in a request line (a space, CR/LF from a
        # name typed by a user), as httpx does; "%" stays so encoded paths pass unchanged.
        target = quote(self.prefix + path, safe="/%:@!$&'()*+,;=-._~")
        if params:
            target += "?" + urlencode(params, quote_via=quote, safe="")
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
            conn = None
            while self._idle:
                c = self._idle.pop()
                if c.usable:
                    conn = c
                    break
                c.close()
            if conn is None:
                conn = await self._connect()
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
                conn.close()  # cancelled mid-request: the connection's state is unknown
                raise
            if keep and not self._closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
            return reply

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for c in idle:
            c.close()
