"""The async client's lean HTTP/1.1 pool against a scripted server on 127.0.0.1: reply
framings (length, chunked, until close, 204), keep-alive reuse, a connection the
server closed while idle, query encoding, and the transport errors the client maps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from client.http1 import Http1Pool

Handler = Callable[[bytes], Awaitable[bytes | None]]  # request head+body -> reply (None: close)


class Scripted:
    """A server answering each request with ``handler``; counts connections."""

    def __init__(self, handler: Handler, close_after_reply: bool = False) -> None:
        self.handler = handler
        self.close_after_reply = close_after_reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                req = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(req)
                reply = await self.handler(req)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if self.close_after_reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def pool(url: str, read: float = 5.0) -> Http1Pool:
    return Http1Pool(url, False, {"Authorization": "Bearer t"}, httpx.Timeout(read, connect=2.0))


def test_framings_and_keep_alive() -> None:
    replies = [
        b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}',
        b'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"b\r\n4\r\n":2}\r\n0\r\n\r\n',
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ]

    async def handler(_req: bytes) -> bytes:
        return replies.pop(0)

    async def main() -> None:
        srv = Scripted(handler)
        async with srv as url:
            p = pool(url)
            r = await p.request("GET", "/api/v1/pods", {"labelSelector": "app in (a,b)"})
            assert (r.status_code, r.content) == (200, b'{"a":1}')
            r = await p.request("POST", "/x", content=b"{}", headers={"Content-Type": "a/b"})
            assert (r.status_code, r.content) == (201, b'{"b":2}')
            r = await p.request("DELETE", "/x")
            assert (r.status_code, r.content) == (204, b"")
            r = await p.request("GET", "/y")
            assert (r.status_code, r.text) == (200, "ok")
            await p.close()
        assert srv.connections == 1  # every request on one kept-alive connection
        first = srv.requests[0].decode()
        assert first.startswith("GET /api/v1/pods?labelSelector=app%20in%20%28a%2Cb%29 HTTP/1.1")
        assert "Authorization: Bearer t\r\n" in first and "Host: 127.0.0.1:" in first
        post = srv.requests[1].decode()
        assert "Content-Type: a/b\r\n" in post and post.endswith("Content-Length: 2\r\n\r\n{}")

    asyncio.run(main())


def test_connection_close_and_read_until_eof() -> None:
    async def handler(req: bytes) -> bytes:
        if req.startswith(b"GET /close"):
            return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"

    async def main() -> None:
        srv = Scripted(handler)
        async with srv as url:
            p = pool(url)
            assert (await p.request("GET", "/close")).content == b"a"
            assert (await p.request("GET", "/other")).content == b"b"
            await p.close()
        assert srv.connections == 2  # "Connection: close" was honoured

    asyncio.run(main())


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def handler(_req: bytes) -> bytes | None:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def main() -> None:
        # The server closes each connection after its reply, as after a restart or its
        # keep-alive timeout, without saying so in the reply.
        srv = Scripted(handler, close_after_reply=True)
        async with srv as url:
            p = pool(url)
            await p.request("GET", "/a")
            # The close reaches the pool unannounced; the point is a request on a connection
            # that has (most likely) gone, and the pool must cope either way.
            await asyncio.sleep(0.05)
            assert (await p.request("GET", "/b")).content == b"ok"
            await p.close()
        assert srv.connections == 2

    asyncio.run(main())


def test_transport_errors_are_httpx_errors() -> None:
    async def drop(_req: bytes) -> bytes | None:
        return None  # close without answering

    async def slow(_req: bytes) -> bytes:
        await asyncio.sleep(5)  # a server that never answers within the client's timeout
        return b""

    async def main() -> None:
        async with Scripted(drop) as url:
            p = pool(url)
            with pytest.raises(httpx.RemoteProtocolError):
                await p.request("GET", "/x")
            await p.close()
        async with Scripted(slow) as url:
            p = pool(url, read=0.2)
            with pytest.raises(httpx.ReadTimeout):
                await p.request("GET", "/x")
            await p.close()
        p = pool("http://127.0.0.1:9")  # nothing listens on the discard port
        with pytest.raises(httpx.ConnectError):
            await p.request("GET", "/x")

    asyncio.run(main())


def test_path_is_percent_encoded_never_raw() -> None:
    """A name typed by a user cannot break the request line or add a header."""

    async def handler(_req: bytes) -> bytes:
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"

    async def main() -> None:
        srv = Scripted(handler)
        async with srv as url:
            p = pool(url)
            r = await p.request("GET", "/api/v1/namespaces/default/pods/a b\r\nX-Evil: 1")
            assert r.status_code == 404
            r = await p.request("GET", "/api/v1/pods/already%20encoded")
            await p.close()
        first, second = (req.split(b"\r\n")[0] for req in srv.requests)
        assert first == b"GET /api/v1/namespaces/default/pods/a%20b%0D%0AX-Evil:%201 HTTP/1.1"
        assert second == b"GET /api/v1/pods/already%20encoded HTTP/1.1"
        assert not any(b"X-Evil: 1" in req for req in srv.requests)

    asyncio.run(main())
