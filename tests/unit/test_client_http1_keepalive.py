"""The lean HTTP/1.1 pool and kept-alive connections that die while idle, against real
servers on 127.0.0.1 (each in its own thread, so the server acts while the client's
event loop is busy, as a loaded scheduler's is):

- a connection the server closed (FIN) or reset (RST) while idle is never written to;
- a connection idle past ``max_idle_seconds`` is dropped before the server's timer;
- a request met by a close before any reply byte is retried once on a new connection
  when it is idempotent, and a POST only when it was never sent.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from client import http1
from client.http1 import Failure, Http1Pool, may_retry
from kubelet.tls import ensure_serving_cert
from scheduler.binder import HttpBinder
from tests.wait import wait_for, wait_for_async

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ThreadServer:
    """A blocking HTTP/1.1 server in threads: answers ``OK``, records each request line.

    ``drop_reused``: a request on a connection that already served one is read, then
    the connection is closed without a reply (the server's keep-alive timer fired as
    the request arrived: it may or may not have been acted on, the client cannot tell).
    ``close_idle(reset)``: every idle connection is closed now, with a FIN (or an RST),
    by its own thread; returns once done, blocking the caller's event loop meanwhile.
    """

    def __init__(self, drop_reused: bool = False) -> None:
        self.drop_reused = drop_reused
        self.requests: list[str] = []
        self.connections = 0
        self._idle = 0
        self._close: str = ""  # "fin" or "rst" while idle connections are to close
        self._cond = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            with self._cond:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _wait_for_request(self, conn: socket.socket, buf: bytearray) -> bool:
        """Read until a request head is buffered; False once the connection is gone."""
        with self._cond:
            self._idle += 1
            self._cond.notify_all()
        try:
            while b"\r\n\r\n" not in buf:
                with self._cond:
                    how = self._close
                if how and not buf:
                    if how == "rst":  # SO_LINGER 0: close() sends an RST, not a FIN
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    conn.close()
                    return False
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return False
                if not chunk or self._stopping:
                    return False
                buf += chunk
            return True
        finally:
            with self._cond:
                self._idle -= 1
                self._cond.notify_all()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.01)  # to look at close requests between reads
        buf = bytearray()
        served = 0
        with conn:
            while self._wait_for_request(conn, buf):
                head, _, rest = bytes(buf).partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    rest += conn.recv(65536)
                buf[:] = rest[length:]
                with self._cond:
                    self.requests.append(head.split(b"\r\n")[0].decode())
                if self.drop_reused and served:
                    return  # closed with the request read and unanswered
                conn.sendall(OK)
                served += 1

    def close_idle(self, reset: bool = False) -> None:
        with self._cond:
            self._close = "rst" if reset else "fin"
            assert self._cond.wait_for(lambda: self._idle == 0, 10), "idle connections stay"
            self._close = ""

    def wait_idle(self, n: int) -> None:
        """Block (the caller's event loop too) until ``n`` connections sit idle."""
        with self._cond:
            assert self._cond.wait_for(lambda: self._idle >= n, 10), "no idle connection"

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()
        self.close_idle()

    def post_count(self) -> int:
        return sum(r.startswith("POST ") for r in self.requests)


@contextmanager
def thread_server(drop_reused: bool = False) -> Iterator[ThreadServer]:
    srv = ThreadServer(drop_reused)
    try:
        yield srv
    finally:
        srv.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(url: str, clock: FakeClock | None = None) -> Http1Pool:
    return Http1Pool(url, False, {}, httpx.Timeout(5.0, connect=2.0), clock=clock or time.monotonic)


def test_retry_policy_follows_idempotency_and_how_far_the_request_got() -> None:
    for method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"):
        assert may_retry(method, True, Failure.NO_REPLY)
    for method in ("POST", "PATCH"):
        assert not may_retry(method, True, Failure.NO_REPLY)
        assert may_retry(method, True, Failure.UNSENT)
    # A fresh connection that fails: the server is down or broken; no retry.
    assert not may_retry("GET", False, Failure.NO_REPLY)
    assert not may_retry("POST", False, Failure.UNSENT)


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_connection_closed_while_the_loop_was_busy_is_not_written_to(how: str) -> None:
    async def main() -> None:
        with thread_server() as srv:
            p = make_pool(srv.url)
            assert (await p.request("GET", "/a")).content == b"ok"
            srv.wait_idle(1)
            # The server closes the idle connection while this loop is blocked (a busy
            # scheduler), so the loop has not seen the FIN/RST when the next request
            # picks a connection: only the kernel knows.
            srv.close_idle(reset=how == "rst")
            r = await p.request("POST", "/api/v1/namespaces/default/pods/x/binding", content=b"{}")
            assert r.content == b"ok"
            await p.close()
            assert srv.connections == 2
            assert srv.post_count() == 1

    asyncio.run(main())


def test_post_whose_write_fails_on_a_reset_connection_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The RST lands between the pool's look at the socket and its write (a window of
    # microseconds in life): here the look is made to miss it, so the write is refused.
    monkeypatch.setattr(http1, "_socket_has_news", lambda _w: False)

    async def main() -> None:
        with thread_server() as srv:
            p = make_pool(srv.url)
            await p.request("GET", "/a")
            srv.wait_idle(1)
            srv.close_idle(reset=True)
            r = await p.request("POST", "/b", content=b"{}")
            assert r.content == b"ok"
            await p.close()
            assert srv.connections == 2
            assert srv.post_count() == 1  # sent once: the first write never left

    asyncio.run(main())


def test_idempotent_request_cut_off_before_the_reply_is_retried_once() -> None:
    async def main() -> None:
        with thread_server(drop_reused=True) as srv:
            p = make_pool(srv.url)
            await p.request("GET", "/a")
            srv.wait_idle(1)
            assert (await p.request("GET", "/b")).content == b"ok"
            assert srv.requests == ["GET /a HTTP/1.1", "GET /b HTTP/1.1", "GET /b HTTP/1.1"]
            assert (await p.request("DELETE", "/c")).content == b"ok"
            await p.close()
            assert srv.connections == 3

    asyncio.run(main())


def test_post_cut_off_after_it_was_sent_is_not_retried() -> None:
    async def main() -> None:
        with thread_server(drop_reused=True) as srv:
            p = make_pool(srv.url)
            await p.request("GET", "/a")
            srv.wait_idle(1)
            # The server read the POST and closed: it may have applied it. Sending it
            # again could apply it twice, so the caller gets the error.
            with pytest.raises(httpx.RemoteProtocolError):
                await p.request("POST", "/b", content=b"{}")
            await p.close()
            assert srv.post_count() == 1
            assert srv.connections == 1

    asyncio.run(main())


def test_connection_idle_past_the_limit_is_dropped_before_the_servers_timer() -> None:
    clock = FakeClock()

    async def main() -> None:
        # drop_reused plays the server's keep-alive timer firing as a request arrives on
        # a connection it has kept: unless the pool drops the connection first, a POST
        # on it fails and is not retried.
        with thread_server(drop_reused=True) as srv:
            p = make_pool(srv.url, clock)
            await p.request("GET", "/a")
            srv.wait_idle(1)
            clock.now += http1.MAX_IDLE_SECONDS - 1
            await p.request("GET", "/b")  # still young: reused (cut off, then retried)
            assert srv.connections == 2
            srv.wait_idle(1)
            clock.now += http1.MAX_IDLE_SECONDS + 1
            assert (await p.request("POST", "/c", content=b"{}")).content == b"ok"
            await p.close()
            assert srv.connections == 3
            assert srv.post_count() == 1

    asyncio.run(main())


def test_idle_limit_is_below_the_apiservers_keep_alive_timeout() -> None:
    main_py = (Path(__file__).parents[2] / "apiserver" / "main.py").read_text()
    marker = "timeout_keep_alive="
    server_timeout = float(main_py.split(marker, 1)[1].split(",", 1)[0])
    assert http1.MAX_IDLE_SECONDS <= server_timeout - 5


async def _binding_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-length", b"2"), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def test_binding_after_the_servers_keep_alive_timeout_succeeds(tmp_path: Path) -> None:
    """The reported failure: a scheduler idle past uvicorn's keep-alive timeout got
    ``ConnectionResetError('Connection lost')`` on its next Binding over TLS."""
    cert, key = ensure_serving_cert(tmp_path, "keepalive", "127.0.0.1")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _binding_app,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="error",
        lifespan="off",
        timeout_keep_alive=0.2,  # type: ignore[arg-type]  # a float works; keeps it short
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ctx = ssl.create_default_context(cafile=str(cert))

    async def main() -> None:
        binder = HttpBinder(f"https://127.0.0.1:{sock.getsockname()[1]}", ssl_context=ctx)
        body = {"kind": "Binding", "target": {"name": "n1"}}
        try:
            for pod in ("p1", "p2", "p3"):
                await binder.bind("default", pod, body)
                # Idle until the server has closed the kept-alive connection.
                await wait_for_async(
                    lambda: not server.server_state.connections,
                    "uvicorn to close the idle connection",
                    10,
                    interval=0.01,
                )
        finally:
            await binder.close()

    try:
        wait_for(lambda: server.started, "uvicorn to start", 10, interval=0.01)
        asyncio.run(main())
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
