"""HttpBinder against a small real HTTP/1.1 server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from api.errors import ApiError
from scheduler.binder import HttpBinder


class Server:
    """Answers each request with the next scripted (status, body, extra headers, close)."""

    def __init__(self, script: list[tuple[int, dict[str, Any], str, bool]]) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((line.decode().strip(), headers, body))
                status, obj, extra, close = self.script.pop(0)
                data = json.dumps(obj).encode()
                if extra == "chunked":
                    half = len(data) // 2
                    payload = (
                        f"{half:x}\r\n".encode()
                        + data[:half]
                        + b"\r\n"
                        + f"{len(data) - half:x}\r\n".encode()
                        + data[half:]
                        + b"\r\n0\r\n\r\n"
                    )
                    head = "Transfer-Encoding: chunked\r\n"
                else:
                    payload, head = data, f"Content-Length: {len(data)}\r\n"
                if close:
                    head += "Connection: close\r\n"
                writer.write(f"HTTP/1.1 {status} X\r\n{head}\r\n".encode() + payload)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()


async def _with_server(script: list[Any], fn: Any) -> Server:
    srv = Server(script)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    binder = HttpBinder(f"http://127.0.0.1:{port}", token="tok", connections=2)
    try:
        await fn(binder)
    finally:
        await binder.close()
        server.close()
    return srv


BINDING = {"kind": "Binding", "target": {"name": "n1"}}
OK = (201, {"kind": "Status", "status": "Success"}, "", False)


def test_posts_the_binding_with_token_and_reuses_the_connection() -> None:
    async def go(b: HttpBinder) -> None:
        await b.bind("ns", "p1", BINDING)
        await b.bind("ns", "p2", BINDING)

    srv = asyncio.run(_with_server([OK, OK], go))
    line, headers, body = srv.requests[0]
    assert line == "POST /api/v1/namespaces/ns/pods/p1/binding HTTP/1.1"
    assert headers["authorization"] == "Bearer tok"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == BINDING
    assert srv.connections == 1


def test_conflict_becomes_api_error_with_the_server_message() -> None:
    status = {"kind": "Status", "code": 409, "reason": "Conflict", "message": "GPU taken"}

    async def go(b: HttpBinder) -> None:
        with pytest.raises(ApiError) as exc:
            await b.bind("ns", "p", BINDING)
        assert exc.value.code == 409 and "GPU taken" in exc.value.message

    asyncio.run(_with_server([(409, status, "", False)], go))


def test_chunked_answers_and_closed_connections() -> None:
    async def go(b: HttpBinder) -> None:
        await b.bind("ns", "a", BINDING)  # chunked, then the server closes
        await b.bind("ns", "b", BINDING)  # needs a new connection

    srv = asyncio.run(_with_server([(201, {"ok": 1}, "chunked", True), OK], go))
    assert len(srv.requests) == 2 and srv.connections == 2


def test_an_unreachable_server_is_a_connection_error() -> None:
    async def go() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        b = HttpBinder(f"http://127.0.0.1:{port}", timeout=2)
        with pytest.raises(ConnectionError):
            await b.bind("ns", "p", BINDING)

    asyncio.run(go())
