"""The audit log's cost: pod creates per second through a real apiserver (HTTPS) writing
the default audit policy (every create at Request level, body included) against the same
server with the audit log off (``--audit-log-path ''``), in the same run.

Two servers run side by side; rounds alternate between them (off, on, off, on) so load on
the machine falls on both alike; 32 concurrent clients create ~2 KB pods. Target: the
audit log costs at most 10 % of creates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from client import AsyncClient
from tests.bench.common import QUICK, Results, bench_pod, median, workdir
from tests.harness import ApiServer, start_apiserver

CLIENTS = 32


def creates_per_second(srv: ApiServer, prefix: str, n: int) -> float:
    async def main() -> float:
        client = AsyncClient.from_kubeconfig(str(srv.kubeconfig))
        todo = iter(range(n))

        async def worker() -> None:
            for i in todo:
                await client.create("pods", bench_pod(f"{prefix}-{i}"), "default")

        try:
            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CLIENTS)))
            return n / (time.perf_counter() - t0)
        finally:
            await client.close()

    return asyncio.run(main())


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("audit")
    wd = workdir("audit")
    off = start_apiserver(wd / "off", extra_args=["--audit-log-path", ""])
    on = start_apiserver(wd / "on")
    try:
        n = 500 if quick else 2000
        plain: list[float] = []
        audited: list[float] = []
        for r in range(2 if quick else 3):
            plain.append(creates_per_second(off, f"r{r}", n))
            audited.append(creates_per_second(on, f"r{r}", n))
        p, a = median(plain), median(audited)
        lines = (on.home / "logs" / "audit.log").read_bytes().count(b"\n")
        res.add(
            f"pod creates/s with the audit log at Request level ({CLIENTS} clients, median of rounds)",
            round(a),
            "creates/s",
            target=">= 0.9x without the audit log",
            met=a >= 0.9 * p,
            peer=round(p),
            peer_label="the same apiserver without an audit log",
            stats={
                "off": [round(x) for x in plain],
                "on": [round(x) for x in audited],
                "audit_lines": lines,
            },
        )
    finally:
        off.stop()
        on.stop()
    return res.as_dict()
