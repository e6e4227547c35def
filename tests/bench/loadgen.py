"""A small HTTP/1.1 load generator on raw asyncio TLS streams (the fallback when wrk is
missing). It runs in its own process so the apiserver keeps its core.

    python -m tests.bench.loadgen --url https://127.0.0.1:P --token T --ca ca.crt \
        --method POST --path /api/v1/namespaces/default/pods --clients 32 --seconds 5

prints one line ``LOADJSON {...}`` with requests, ok, errors, rate, p50/p90/p99 (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import ssl
import time
from urllib.parse import urlsplit

from tests.bench.common import percentiles, pod_template


class Conn:
    """One keep-alive HTTPS connection that sends a request and reads its response."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext) -> None:
        self.host, self.port, self.ctx = host, port, ctx
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ctx, limit=1 << 22
        )

    async def request(
        self, method: str, path: str, token: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        chunked = False
        while True:
            ln = await self.reader.readline()
            if ln in (b"\r\n", b""):
                break
            k, _, v = ln.decode("latin-1").partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v:
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            return status, b"".join(parts)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def tls_context(ca: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


async def _main(a: argparse.Namespace) -> dict[str, object]:
    u = urlsplit(a.url)
    ctx = tls_context(a.ca)
    pre, post = json.loads(a.template) if a.template else pod_template(a.namespace, a.node_name)
    lat: list[float] = []
    ok = errors = 0
    counter = 0
    deadline = time.monotonic() + a.seconds

    async def client(i: int) -> None:
        nonlocal ok, errors, counter
        c = Conn(u.hostname or "127.0.0.1", u.port or 443, ctx)
        try:
            while time.monotonic() < deadline:
                if a.method == "GET":
                    path = f"{a.path}{a.prefix}-{random.randrange(a.pool)}"
                    body = b""
                else:
                    counter += 1
                    if a.limit and counter > a.limit:
                        return
                    path = a.path
                    # a fill (--limit) names PREFIX-0.., a timed run PREFIX-CLIENT-N
                    name = f"{a.prefix}-{counter - 1}" if a.limit else f"{a.prefix}-{i}-{counter}"
                    body = f"{pre}{name}{post}".encode()
                t0 = time.perf_counter()
                try:
                    status, _ = await c.request(a.method, path, a.token, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    c.close()
                    c = Conn(u.hostname or "127.0.0.1", u.port or 443, ctx)
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
                if status < 300:
                    ok += 1
                else:
                    errors += 1
        finally:
            c.close()

    t0 = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(a.clients)))
    dur = time.monotonic() - t0
    p = percentiles(lat)
    return {
        "tool": "python loadgen",
        "clients": a.clients,
        "requests": len(lat),
        "ok": ok,
        "errors": errors,
        "timeouts": 0,
        "seconds": dur,
        "rate": ok / dur if dur else 0.0,
        "p50_ms": p.get("p50", 0),
        "p90_ms": p.get("p90", 0),
        "p99_ms": p.get("p99", 0),
        "max_ms": p.get("max", 0),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="HTTP load against the kubelab apiserver")
    p.add_argument("--url", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--token", required=True, help="bearer token")
    p.add_argument("--ca", required=True, help="CA certificate file")
    p.add_argument("--method", default="POST", help="POST (create pods) or GET (random pods)")
    p.add_argument("--path", required=True, help="collection path (POST) or path prefix (GET)")
    p.add_argument("--namespace", default="default", help="namespace of the pods")
    p.add_argument("--prefix", default="b", help="pod name prefix")
    p.add_argument("--clients", type=int, default=1, help="concurrent connections")
    p.add_argument("--seconds", type=float, default=5, help="how long to run")
    p.add_argument("--limit", type=int, default=0, help="stop after this many creates (0: none)")
    p.add_argument("--pool", type=int, default=0, help="GET picks among PREFIX-0..PREFIX-(pool-1)")
    p.add_argument(
        "--node-name", default="", help="create pods bound to this node (default: unbound)"
    )
    p.add_argument(
        "--template", default="", help='JSON ["before name", "after name"] of the created object'
    )
    a = p.parse_args()
    print("LOADJSON " + json.dumps(asyncio.run(_main(a))), flush=True)


if __name__ == "__main__":
    main()
