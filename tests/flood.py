"""A runaway client for overload tests and benchmarks (issue 26 item 3): one user's
connections looping list/create as fast as they can, ignoring 429s, and optionally a
crowd of watches that reopen as soon as they end or are refused. It runs in processes
of its own (fork), so the test's interpreter stays free to measure."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from typing import Any

import httpx

FLOOD_PROCESSES = 2  # the request loops are split over this many processes
# Replies by class (0: no reply), and the 429s among the 4xx on their own.
REPLY_CLASSES = ["failed", "1xx", "2xx", "3xx", "4xx", "5xx", "429"]


def _count(codes: Any, code: int) -> None:
    with codes.get_lock():
        codes[min(code // 100, 5)] += 1
        if code == 429:
            codes[6] += 1


def _flood_process(server: str, token: str, ca: str, conns: int, stop: Any, codes: Any) -> None:
    """One flooding process: ``conns`` connections looping list/create until ``stop``."""
    prefix = uuid.uuid4().hex[:8]

    async def main() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=conns)
        async with httpx.AsyncClient(
            base_url=server, headers=headers, verify=ca, limits=limits, timeout=30
        ) as http:

            async def one(n: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        if i % 2:
                            r = await http.get("/api/v1/namespaces/default/pods")
                        else:
                            name = f"flood-{prefix}-{n}-{i}"
                            body = {"metadata": {"name": name}, "data": {"x": "y" * 512}}
                            r = await http.post("/api/v1/namespaces/default/configmaps", json=body)
                        code = r.status_code
                    except httpx.HTTPError:
                        code = 0
                    _count(codes, code)

            await asyncio.gather(*(one(n) for n in range(conns)))

    asyncio.run(main())


def _watch_process(server: str, token: str, ca: str, watches: int, stop: Any, codes: Any) -> None:
    """``watches`` watches of ConfigMaps held open; one that ends or is refused is opened
    again after a second (5 s after a 429), until ``stop``. Each reply's code is counted."""

    async def main() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        # One connection per watch (HTTP/1.1 streams), as a thousand kubectl get -w would.
        limits = httpx.Limits(max_connections=watches, max_keepalive_connections=0)
        timeout = httpx.Timeout(30, read=None)
        async with httpx.AsyncClient(
            base_url=server, headers=headers, verify=ca, limits=limits, timeout=timeout
        ) as http:

            async def one() -> None:
                while not stop.is_set():
                    try:
                        async with http.stream(
                            "GET", "/api/v1/namespaces/default/configmaps?watch=1"
                        ) as r:
                            code = r.status_code
                            _count(codes, code)
                            if r.status_code == 200:
                                async for _ in r.aiter_raw():
                                    if stop.is_set():
                                        return
                    except httpx.HTTPError:
                        _count(codes, 0)
                        code = 0
                    # A refused watch is tried again every few seconds, not at once: the
                    # test machine has two cores, and the flood's own TLS handshakes are
                    # not what is under test.
                    await asyncio.sleep(5.0 if code == 429 else 1.0)

            await asyncio.gather(*(one() for _ in range(watches)))

    asyncio.run(main())


class Flood:
    """``connections`` request loops and ``watches`` watches of one user, until stopped."""

    def __init__(self, server: str, token: str, ca: str, connections: int, watches: int = 0):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.counts: Any = ctx.Array(
            "q", len(REPLY_CLASSES)
        )  # request replies by class: 0 (failed), 1xx..5xx
        self.watch_counts: Any = ctx.Array("q", len(REPLY_CLASSES))  # watch replies, the same way
        conns = connections // FLOOD_PROCESSES
        self._procs = [
            ctx.Process(
                target=_flood_process, args=(server, token, ca, conns, self.stop, self.counts)
            )
            for _ in range(FLOOD_PROCESSES)
        ]
        if watches:
            self._procs.append(
                ctx.Process(
                    target=_watch_process,
                    args=(server, token, ca, watches, self.stop, self.watch_counts),
                )
            )

    def __enter__(self) -> Flood:
        for p in self._procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for p in self._procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()

    @property
    def codes(self) -> dict[str, int]:
        """Request replies by class."""
        return {REPLY_CLASSES[i]: int(v) for i, v in enumerate(self.counts) if v}

    @property
    def watch_codes(self) -> dict[str, int]:
        """Watch replies by class."""
        return {REPLY_CLASSES[i]: int(v) for i, v in enumerate(self.watch_counts) if v}
