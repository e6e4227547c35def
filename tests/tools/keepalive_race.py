"""Reproduce "Connection lost" on idle kept-alive connections, and count it.

A uvicorn server over TLS (as the apiserver runs it, with a short ``timeout_keep_alive``)
answers POSTs; a client sends N of them with an idle gap longer than that timeout
between each, and counts the requests that fail. ``--client pool`` uses
client/http1.Http1Pool (or the one in ``--pool-file``, e.g. an older revision);
``--client binder`` uses the scheduler's binder. ``--busy`` spends the gap blocking the
event loop (a loaded process) instead of awaiting.

    .venv/bin/python -m tests.tools.keepalive_race --client pool -n 20
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from kubelet.tls import ensure_serving_cert


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


def serve(cert: Path, key: Path, keep_alive: float) -> tuple[uvicorn.Server, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="error",
        lifespan="off",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, sock.getsockname()[1]


def load_pool(path: str | None) -> Any:
    if path is None:
        from client.http1 import Http1Pool

        return Http1Pool
    spec = importlib.util.spec_from_file_location("http1_under_test", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod.Http1Pool


async def run(args: argparse.Namespace, url: str, ctx: ssl.SSLContext) -> int:
    failures = 0
    if args.client == "binder":
        from scheduler.binder import HttpBinder

        binder = HttpBinder(url, ssl_context=ctx, connections=1)

        async def once() -> None:
            await binder.bind("default", "p", {"kind": "Binding", "target": {"name": "n"}})

        close = binder.close
    else:
        pool = load_pool(args.pool_file)(url, ctx, {}, httpx.Timeout(5.0))

        async def once() -> None:
            await pool.request("POST", "/api/v1/namespaces/default/pods/p/binding", content=b"{}")

        close = pool.close
    await once()
    for i in range(args.n):
        if args.busy:
            time.sleep(args.gap)  # the loop is blocked: it cannot see the server's close
        else:
            await asyncio.sleep(args.gap)
        try:
            await once()
        except Exception as e:  # noqa: BLE001 - counting every failure is the point
            failures += 1
            print(f"request {i + 1}: {type(e).__name__}: {e}", file=sys.stderr)
    await close()
    return failures


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--client", choices=["pool", "binder"], default="pool")
    p.add_argument("--pool-file", help="load Http1Pool from this file instead")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--keep-alive", type=float, default=0.5, help="server idle timeout, s")
    p.add_argument("--gap", type=float, default=0.8, help="idle time between requests, s")
    p.add_argument("--busy", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = ensure_serving_cert(Path(tmp), "race", "127.0.0.1")
        server, port = serve(cert, key, args.keep_alive)
        ctx = ssl.create_default_context(cafile=str(cert))
        try:
            failures = asyncio.run(run(args, f"https://127.0.0.1:{port}", ctx))
        finally:
            server.should_exit = True
    print(f"{args.client} busy={args.busy}: {failures} failed of {args.n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
