"""Many open dashboards' worth of API streams in one process, for the dashboard benchmark.

    python -m tests.bench.dashboard_clients --url U --token T --ca CA --count N

Each client makes the requests the dashboard's nodes page makes (dashboard/static/api.js
``liveTable``, once for nodes and once for pods in every namespace): the server's Table
list with each row's object, then a watch of it from that list's resourceVersion, with
bookmarks, the Table Accept header and the user's bearer token; the lines are counted as
they arrive (not parsed: that is the browser's cost, not the server's). Each also reads NodeMetrics every 15 s, as the page's GPU grid does. Prints ``READY n`` once every stream is open and ``EVENTS n`` (the
lines received) when stdin ends.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys

import httpx

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
PATHS = ("/api/v1/nodes", "/api/v1/pods")
USAGE = "/apis/metrics.k8s.io/v1beta1/nodes"  # the GPU grid's measured use, read every 15 s
USAGE_PERIOD = 15.0


async def _client(
    http: httpx.AsyncClient,
    path: str,
    gate: asyncio.Semaphore,
    ready: asyncio.Queue[int],
    counts: list[int],
) -> None:
    async with gate:  # the list and the watch's start; the stream then runs ungated
        listed = (await http.get(f"{path}?includeObject=Object")).raise_for_status().json()
        rv = (listed.get("metadata") or {}).get("resourceVersion", "")
        url = f"{path}?watch=1&allowWatchBookmarks=true&includeObject=Object&resourceVersion={rv}"
        stream = http.stream("GET", url, timeout=None)
        resp = await stream.__aenter__()
    try:
        resp.raise_for_status()
        ready.put_nowait(1)
        # Read as fast as the server sends and count the lines: parsing them is the
        # browser's work, not the server's, and on 2 cores a Python parser of 100 pages'
        # streams falls behind and throttles the server it is meant to measure.
        async for chunk in resp.aiter_raw():
            counts[0] += chunk.count(b"\n")
    finally:
        await stream.__aexit__(None, None, None)


async def _usage(http: httpx.AsyncClient) -> None:
    """What each nodes page also does: read NodeMetrics every report period."""
    while True:
        r = await http.get(USAGE, headers={"Accept": "application/json"})
        if r.status_code == 200:
            r.json()
        await asyncio.sleep(USAGE_PERIOD)


async def main_async(args: argparse.Namespace) -> int:
    ctx = ssl.create_default_context(cafile=args.ca)
    limits = httpx.Limits(max_connections=len(PATHS) * args.count + 8)
    headers = {"Authorization": f"Bearer {args.token}", "Accept": TABLE}
    counts = [0]
    ready: asyncio.Queue[int] = asyncio.Queue()
    gate = asyncio.Semaphore(32)  # at most 32 TLS handshakes and lists at a time
    async with httpx.AsyncClient(
        base_url=args.url, verify=ctx, headers=headers, limits=limits, timeout=60
    ) as http:
        tasks = [
            asyncio.ensure_future(_client(http, p, gate, ready, counts))
            for _ in range(args.count)
            for p in PATHS
        ]
        for _ in tasks:
            got = asyncio.ensure_future(ready.get())
            done, _pending = await asyncio.wait([got, *tasks], return_when=asyncio.FIRST_COMPLETED)
            broken = [t for t in done if t is not got]
            if broken:
                got.cancel()
                broken[0].result()  # raises what ended the stream
                raise RuntimeError("a dashboard stream ended before the others opened")
        # Each page reads usage on its own clock: spread the clients over the period.
        for i in range(args.count):
            loop = asyncio.get_running_loop()
            loop.call_later(USAGE_PERIOD * i / args.count,
                            lambda: tasks.append(asyncio.ensure_future(_usage(http))))  # fmt: skip
        print(f"READY {len(tasks)}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(f"EVENTS {counts[0]}", flush=True)
        for t in tasks:
            t.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--count", type=int, default=100)
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
