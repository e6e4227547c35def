"""Many pod watchers in one process, for the watch-delivery benchmark.

    python -m tests.bench.watchers --url U --token T --ca CA --namespace NS --count N \
        --resource-version RV --out FILE

Opens N watch streams on pods in NS (at most 64 TLS handshakes at a time), prints
``READY n`` once every stream answered, records for each watcher the monotonic time at
which each pod named ``wv-<i>`` first arrived, and on EOF of stdin writes
``{"arrivals": {i: [t, ...]}, "broken": n}`` to FILE. ``time.monotonic`` is one clock
for every process on Linux, so the writer's ack times compare with these.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import sys
import time
from urllib.parse import urlsplit

NAME = re.compile(rb'"name":"wv-(\d+)"')


async def _watch(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    path: str,
    token: str,
    gate: asyncio.Semaphore,
    ready: list[int],
    arrivals: dict[int, list[float]],
    broken: list[int],
) -> None:
    async with gate:
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx, limit=1 << 20)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            status = await reader.readline()
            if b" 200 " not in status:
                raise OSError(f"watch answered {status!r}")
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
        except (OSError, asyncio.IncompleteReadError) as exc:
            print(f"watch failed: {exc}", file=sys.stderr, flush=True)
            broken[0] += 1
            ready[0] += 1
            return
    ready[0] += 1
    seen: set[int] = set()
    tail = b""
    try:
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            now = time.monotonic()
            buf = tail + chunk
            for m in NAME.finditer(buf):
                i = int(m.group(1))
                if i not in seen:
                    seen.add(i)
                    arrivals.setdefault(i, []).append(now)
            tail = buf[-48:]
    except (OSError, asyncio.IncompleteReadError):
        broken[0] += 1
    finally:
        writer.close()


async def _main(a: argparse.Namespace) -> None:
    u = urlsplit(a.url)
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    path = (
        f"/api/v1/namespaces/{a.namespace}/pods?watch=true&resourceVersion={a.resource_version}"
        "&timeoutSeconds=600"
    )
    gate = asyncio.Semaphore(64)
    ready = [0]
    broken = [0]
    arrivals: dict[int, list[float]] = {}
    tasks = [
        asyncio.create_task(
            _watch(
                u.hostname or "127.0.0.1",
                u.port or 443,
                ctx,
                path,
                a.token,
                gate,
                ready,
                arrivals,
                broken,
            )
        )
        for _ in range(a.count)
    ]
    while ready[0] < a.count:
        await asyncio.sleep(0.05)
    print(f"READY {a.count - broken[0]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the writer closes stdin when done
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with open(a.out, "w") as f:
        json.dump({"arrivals": arrivals, "broken": broken[0]}, f)


def main() -> None:
    p = argparse.ArgumentParser(description="open many pod watches and time event arrival")
    p.add_argument("--url", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--token", required=True, help="bearer token")
    p.add_argument("--ca", required=True, help="CA certificate file")
    p.add_argument("--namespace", required=True, help="namespace to watch")
    p.add_argument("--count", type=int, required=True, help="number of watch streams")
    p.add_argument("--resource-version", required=True, help="watch from this revision")
    p.add_argument("--out", required=True, help="where to write the arrival times (JSON)")
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
