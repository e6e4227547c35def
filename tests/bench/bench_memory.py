"""Control-plane memory: resident set size of the apiserver, the scheduler and the
controller manager with 10,000 and 100,000 pods stored, and MiB per 1,000 pods, beside
k3s's documented server footprint (1,596 MB).

Pods are the API benchmark's ~2 KB pod, created by the load generator with 32
connections. By default (issue 25 item 4: bound pods are the realistic case) they are
created bound to one node (``spec.nodeName``; no such node exists, so nothing runs them
and nothing writes them again): the scheduler then also counts every pod on that node,
which is what it holds for the pods of a real cluster. With ``--unbound`` they carry a
schedulerName no scheduler serves instead (the figure before issue 25).

    python -m tests.bench.bench_memory [--quick] [--unbound] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.bench.common import QUICK, LoadGen, Results, raise_nofile, rss_kib, workdir
from tests.harness import ApiServer, Component, start_apiserver

K3S_SERVER_MB = 1596.0  # k3s docs, resource profiling: server with an agent, the documented peak
NAMESPACE = "bench-mem"
BOUND_NODE = "bench-mem-node"


def _rss(procs: dict[str, int]) -> dict[str, float]:
    """RSS in MiB of each named process, and their sum."""
    out = {name: rss_kib(pid) / 1024 for name, pid in procs.items()}
    out["total"] = sum(out.values())
    return out


def _settle(procs: dict[str, int], seconds: float) -> dict[str, float]:
    """Wait for the components to digest the last writes (RSS stops growing), then sample."""
    deadline = time.monotonic() + seconds
    last = _rss(procs)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = _rss(procs)
        if abs(now["total"] - last["total"]) < 1.0:
            return now
        last = now
    return last


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    bound = not bool(getattr(args, "unbound", False))
    res = Results("memory")
    raise_nofile()
    wd = workdir("memory")
    srv: ApiServer = start_apiserver(wd / "home")
    comps: list[Component] = []
    big = 30_000 if quick else 100_000
    try:
        for name in ("scheduler", "controllers"):
            comps.append(srv.component_proc(name).start())
        time.sleep(3)
        assert srv.component is not None and srv.component.proc is not None
        procs = {"apiserver": srv.component.proc.pid}
        for name, c in zip(("scheduler", "controller-manager"), comps, strict=True):
            if not c.alive():
                res.fail(f"{name} exited at start: {c.log()[-1500:]}")
                continue
            assert c.proc is not None
            procs[name] = c.proc.pid
        http = httpx.Client(
            base_url=srv.url,
            verify=str(srv.ca_file),
            timeout=120,
            headers={"Authorization": f"Bearer {srv.token}"},
        )
        r = http.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        if r.status_code not in (201, 409):
            raise RuntimeError(f"namespace: {r.status_code} {r.text[:200]}")
        empty = _settle(procs, 6)
        lg = LoadGen(srv.url, srv.token, srv.ca_file, wd, node_name=BOUND_NODE if bound else "")
        what = f"bound to node {BOUND_NODE}" if bound else "nobody schedules"
        suffix = " (bound pods)" if bound else ""
        res.note(f"pods created by {lg.tool}, 32 connections; ~2 KB pods {what}")

        t0 = time.monotonic()
        lg.creates(NAMESPACE, "m1", 32, limit=10_000)
        rate1 = 10_000 / (time.monotonic() - t0)
        at10k = _settle(procs, 30)
        t0 = time.monotonic()
        lg.creates(NAMESPACE, "m2", 32, limit=big - 10_000)
        rate2 = (big - 10_000) / (time.monotonic() - t0)
        at_big = _settle(procs, 60)
        items = len(http.get(f"/api/v1/namespaces/{NAMESPACE}/pods").json()["items"])
        http.close()
        if items != big:
            res.fail(f"expected {big} pods stored, found {items}")
        db = wd / "home" / "state.db"
        db_mib = sum(p.stat().st_size for p in db.parent.glob("state.db*")) / 2**20
        res.extra.update(
            {
                "rss_empty": empty,
                "rss_10k": at10k,
                f"rss_{big}": at_big,
                "create_rate_first_10k": rate1,
                "create_rate_rest": rate2,
                "db_mib": db_mib,
                "pods": items,
            }
        )
        per_k = (at_big["total"] - at10k["total"]) / ((big - 10_000) / 1000)
        detail = {k: round(v, 1) for k, v in at10k.items() if k != "total"}
        res.add(
            f"control-plane RSS, 10,000 pods{suffix}",
            round(at10k["total"], 1),
            "MiB",
            target="—",
            stats={**detail, "empty_total": round(empty["total"], 1)},
        )
        detail = {k: round(v, 1) for k, v in at_big.items() if k != "total"}
        total_mb = at_big["total"] * 1.048576
        res.add(
            f"control-plane RSS, {big:,} pods{suffix}",
            round(total_mb, 1),
            "MB",
            target="< 400 MB",
            met=total_mb < 400 if big == 100_000 else None,
            higher_is_better=False,
            peer=K3S_SERVER_MB,
            peer_label="k3s documented server footprint (published, not run here)",
            stats={
                **detail,
                "db_file_mib": round(db_mib, 1),
                "creates_per_s_during_fill": round(rate2),
            },
            note="" if big == 100_000 else "quick run: 30,000 pods, the target is for 100,000",
        )
        res.add(
            f"control-plane MiB per 1,000 pods{suffix}",
            round(per_k, 2),
            "MiB",
            target="<= 1.5 MiB",
            met=per_k <= 1.5,
            higher_is_better=False,
            stats={
                name: round((at_big[name] - at10k[name]) / ((big - 10_000) / 1000), 2)
                for name in at_big
                if name != "total"
            },
            note=f"(RSS at {big:,} - RSS at 10,000) / {(big - 10_000) // 1000}",
        )
        for c in comps:
            if not c.alive():
                res.fail(f"{c.args[0]} died during the run: {c.log()[-1500:]}")
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for c in comps:
            c.stop()
        srv.stop()
        res.write()
        shutil.rmtree(wd, ignore_errors=True)
    return res.as_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="kubelab control-plane memory benchmark")
    p.add_argument("--quick", action="store_true", help="30,000 pods instead of 100,000")
    p.add_argument(
        "--unbound",
        action="store_true",
        help="pods nobody schedules instead of pods bound to a node (the default)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="result file (default bench/results/memory.json)"
    )
    args = p.parse_args(argv)
    if args.out:
        os.environ["KUBELAB_BENCH_OUT"] = str(args.out)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
