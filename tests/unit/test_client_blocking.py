"""The blocking HTTP/1.1 pool (``client.blocking``, the sync client's ordinary requests)
against real servers on 127.0.0.1: connections are reused, one the server closed while
idle is never written to, a request a reused connection broke before any reply byte is
retried once when ``may_retry`` allows (a GET, never a written POST), and repeated
headers are kept."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from client.blocking import BlockingPool
from tests.unit.test_client_http1_keepalive import FakeClock, thread_server


def make_pool(url: str, clock: FakeClock | None = None) -> BlockingPool:
    kw = {"clock": clock} if clock else {}
    return BlockingPool(url, False, {"User-Agent": "t"}, 2.0, 5.0, **kw)


def test_connections_are_kept_alive_and_reused() -> None:
    with thread_server() as srv:
        p = make_pool(srv.url)
        for _ in range(3):
            assert p.request("GET", "/api/v1/pods", {"limit": "5"}).content == b"ok"
        p.close()
        assert srv.connections == 1
        assert srv.requests == ["GET /api/v1/pods?limit=5 HTTP/1.1"] * 3


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_connection_the_server_closed_while_idle_is_not_written_to(how: str) -> None:
    with thread_server() as srv:
        p = make_pool(srv.url)
        assert p.request("GET", "/a").content == b"ok"
        srv.wait_idle(1)
        srv.close_idle(reset=how == "rst")
        r = p.request("POST", "/api/v1/namespaces/default/pods", content=b"{}")
        assert r.content == b"ok"
        p.close()
        assert srv.connections == 2 and srv.post_count() == 1


def test_a_get_the_server_dropped_unanswered_is_sent_again_on_a_new_connection() -> None:
    with thread_server(drop_reused=True) as srv:
        p = make_pool(srv.url)
        assert p.request("GET", "/a").content == b"ok"
        assert p.request("GET", "/b").content == b"ok"  # dropped on the reused one, retried
        p.close()
        assert srv.requests == ["GET /a HTTP/1.1", "GET /b HTTP/1.1", "GET /b HTTP/1.1"]


def test_a_post_the_server_may_have_applied_is_not_sent_twice() -> None:
    with thread_server(drop_reused=True) as srv:
        p = make_pool(srv.url)
        assert p.request("POST", "/a", content=b"{}").content == b"ok"
        with pytest.raises(ConnectionError):
            p.request("POST", "/b", content=b"{}")
        p.close()
        assert srv.post_count() == 2


def test_a_connection_idle_past_the_limit_is_not_reused() -> None:
    clock = FakeClock()
    with thread_server() as srv:
        p = make_pool(srv.url, clock)
        p.request("GET", "/a")
        clock.now += p.max_idle_seconds - 1
        p.request("GET", "/b")
        assert srv.connections == 1
        clock.now += p.max_idle_seconds + 1
        p.request("GET", "/c")
        p.close()
        assert srv.connections == 2


class _Warns(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Warning", '299 - "first"')
        self.send_header("Warning", '299 - "second"')
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def warning_server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Warns)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_repeated_headers_are_joined_and_names_are_lower_case() -> None:
    from client.core import parse_warnings

    with warning_server() as url:
        p = make_pool(url)
        r = p.request("GET", "/x")
        p.close()
    assert r.status_code == 200 and r.content == b"{}"
    assert parse_warnings(r.headers["warning"]) == ["first", "second"]
