"""Scheduler throughput, scheduler_perf's way (SchedulingBasic and an extended-resource
variant), apiserver included.

Once: an apiserver (SQLite) gets ``--nodes`` Node objects (a quarter with 8 simulated
GPUs in ``status.gpus`` and ``nvidia.com/gpu`` allocatable) and ``--init-pods`` pods
already placed (created with ``spec.nodeName``), created concurrently through the
AsyncClient; it is stopped and its home kept. Each variant starts an apiserver on a copy
of that home, creates ``--pods`` pending pods up front, then starts a ``kubelab
scheduler`` process and the bench samples its
``scheduler_schedule_attempts_total{result="scheduled"}`` counter — Bindings the
apiserver answered 201, i.e. persisted — once per second until every pod is bound.
Reported: average pods/s (pods / time from first to last bind) and the p50/p90/p99 of
the per-second samples, as scheduler_perf's throughput collector does. At the end all
pods are listed to check every one is bound and no GPU UUID is held twice.

The ``churn`` variant is capacity arriving for a backlog (a lab powering boxes on, a
control plane restart): ``--churn-pods`` pods are created on a cluster without nodes,
the scheduler tries each (all unschedulable, reported), then ``--churn-nodes`` nodes are
created. Reported: seconds from the last node created to the last pod bound, and pods/s
overall (from the first node created to the last bind), beside the warm start: the same
scheduler started on the same backlog with the nodes already there.

    .venv/bin/python tests/bench/bench_scheduler.py                 # the issue's sizes
    .venv/bin/python tests/bench/bench_scheduler.py --nodes 500 --pods 1000 --init-pods 100
    .venv/bin/python tests/bench/bench_scheduler.py --variants churn --churn-hints off  # before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from client import AsyncClient  # noqa: E402
from tests.bench.loadgen import Conn, tls_context  # noqa: E402
from tests.harness import ApiServer, Component, free_port, start_apiserver  # noqa: E402

Obj = dict[str, Any]


def node_body(i: int, gpus: int) -> tuple[Obj, Obj]:
    """A Node like scheduler_perf's node-default.yaml (4 cpu, 32Gi, 110 pods), optionally
    with ``gpus`` simulated GPUs. Returns (object, status)."""
    name = f"node-{i:05d}"
    alloc = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    labels = {"kubernetes.io/hostname": name}
    status: Obj = {"conditions": [{"type": "Ready", "status": "True"}]}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
        labels.update({"nvidia.com/gpu.product": "H100-80GB", "nvidia.com/gpu.count": str(gpus)})
        status["gpus"] = [
            {
                "index": g,
                "uuid": f"GPU-{i:05d}-{g}",
                "model": "H100-80GB",
                "memoryMiB": 81920,
                "health": "Healthy",
            }
            for g in range(gpus)
        ]
    status["allocatable"] = alloc
    status["capacity"] = dict(alloc)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
    }, status


def pod_body(name: str, gpu: bool, node: str = "") -> Obj:
    """A pod like scheduler_perf's pod-default.yaml (100m cpu, 500Mi); GPU pods also ask
    for one nvidia.com/gpu."""
    resources: Obj = {"requests": {"cpu": "100m", "memory": "500Mi"}}
    if gpu:
        resources["limits"] = {"nvidia.com/gpu": "1"}
    spec: Obj = {"containers": [{"name": "pause", "image": "pause:3.9", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


class Creator:
    """Creates objects over raw keep-alive HTTP/1.1 connections (tests.bench.loadgen.Conn):
    the httpx client costs ~10x more CPU per request and would make populating 5,000
    nodes and 11,000 pods take minutes on two cores."""

    def __init__(self, srv: ApiServer, connections: int) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.token = srv.token
        self.ctx = tls_context(str(srv.ca_file))
        self.connections = connections

    async def run(self, jobs: list[list[tuple[str, str, Any]]]) -> None:
        """Each job is a list of (method, path, body) sent in order; a callable body is
        called with the previous answer (e.g. to PUT a status onto the created object)."""
        it = iter(jobs)

        async def worker() -> None:
            conn = Conn(self.host, self.port, self.ctx)
            try:
                for job in it:
                    last: Obj = {}
                    for method, path, body in job:
                        payload = orjson.dumps(body(last) if callable(body) else body)
                        status, content = await conn.request(method, path, self.token, payload)
                        if status >= 300:
                            raise RuntimeError(f"{method} {path}: {status} {content[:300]!r}")
                        last = orjson.loads(content)
            finally:
                conn.close()

        await asyncio.gather(*(worker() for _ in range(self.connections)))


async def populate(
    srv: ApiServer, args: argparse.Namespace, gpu_percent: float | None
) -> dict[str, float]:
    """With ``gpu_percent`` None: create the nodes and the placed pods. Otherwise: create
    the pending pods, ``gpu_percent`` % of them asking for a GPU. Returns step timings."""
    times: dict[str, float] = {}
    creator = Creator(srv, args.concurrency)
    gpu_nodes = int(args.nodes * args.gpu_node_fraction)
    pods_path = "/api/v1/namespaces/default/pods"

    def node_job(i: int) -> list[tuple[str, str, Any]]:
        body, status = node_body(i, args.gpus_per_node if i < gpu_nodes else 0)
        name = body["metadata"]["name"]

        # Create ignores status (as upstream); PUT it on the status subresource with the
        # created object's resourceVersion.
        def with_status(created: Obj) -> Obj:
            return {**created, "status": status}

        return [
            ("POST", "/api/v1/nodes", body),
            ("PUT", f"/api/v1/nodes/{name}/status", with_status),
        ]

    if gpu_percent is None:
        t = time.perf_counter()
        await creator.run([node_job(i) for i in range(args.nodes)])
        times["nodes_s"] = time.perf_counter() - t
        # Placed pods go on non-GPU nodes, round robin, as a scheduler would spread them.
        cpu_nodes = [f"node-{i:05d}" for i in range(gpu_nodes, args.nodes)] or ["node-00000"]
        t = time.perf_counter()
        await creator.run(
            [
                [("POST", pods_path, pod_body(f"init-{i}", False, cpu_nodes[i % len(cpu_nodes)]))]
                for i in range(args.init_pods)
            ]
        )
        times["init_pods_s"] = time.perf_counter() - t
    else:
        every = round(100 / gpu_percent) if gpu_percent else 0
        t = time.perf_counter()
        await creator.run(
            [
                [("POST", pods_path, pod_body(f"pod-{i}", bool(every) and i % every == 0))]
                for i in range(args.pods)
            ]
        )
        times["pending_pods_s"] = time.perf_counter() - t
    return times


def scrape(port: int) -> dict[str, float]:
    """The scheduler's /metrics as {series: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[idx]


def measure(srv: ApiServer, args: argparse.Namespace) -> Obj:
    """Start the scheduler and sample its bound-pod counter every second."""
    port = free_port()
    sched_args = ["--metrics-port", str(port), "--log-level", "WARNING"]
    sched_args += list(args.scheduler_arg or [])
    sched: Component = srv.component_proc("scheduler", *sched_args)
    profiles: list[Any] = []
    sched.start()
    try:
        deadline = time.time() + args.timeout
        key = 'scheduler_schedule_attempts_total{result="scheduled"}'
        # Wait for the first Binding: startup (imports, listing 11k pods) is not measured.
        last = 0.0
        while time.time() < deadline:
            try:
                last = scrape(port).get(key, 0.0)
            except OSError:
                last = 0.0
            if last > 0:
                break
            if not sched.alive():
                raise RuntimeError(f"scheduler exited:\n{sched.log()[-3000:]}")
            time.sleep(0.05)
        profiles = []
        if args.profile and sched.proc is not None:
            import subprocess

            assert srv.component is not None and srv.component.proc is not None
            for who, pid in (("scheduler", sched.proc.pid), ("apiserver", srv.component.proc.pid)):
                out = Path(args.out).with_suffix(f".{args.variant_name}.{who}.folded")
                profiles.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "-o",
                            str(out),
                            "--format",
                            "raw",
                            "-p",
                            str(pid),
                            "-d",
                            str(args.profile),
                            "-r",
                            "50",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        start = time.perf_counter()
        first_bound = last
        samples: list[float] = []
        prev_t, prev_n = start, last
        end = start
        # Poll every 50 ms so the end is known precisely; one sample per full second.
        while last < args.pods and time.time() < deadline:
            time.sleep(0.05)
            now = time.perf_counter()
            last = scrape(port).get(key, 0.0)
            end = now
            if now - prev_t >= 1.0 or last >= args.pods:
                samples.append((last - prev_n) / (now - prev_t))
                prev_t, prev_n = now, last
        metrics = scrape(port)
    finally:
        sched.stop()
        for prof in profiles:
            prof.wait(60)
    if last < args.pods:
        raise RuntimeError(
            f"only {last:.0f}/{args.pods} pods bound before the timeout\n{sched.log()[-3000:]}"
        )
    # The last sample is usually a partial second: leave it out of the percentiles.
    full = sorted(samples[:-1] if len(samples) > 1 else samples)
    return {
        "pods_per_second_avg": round((args.pods - first_bound) / (end - start), 1),
        "pods_per_second_p50": round(percentile(full, 50), 1),
        "pods_per_second_p90": round(percentile(full, 90), 1),
        "pods_per_second_p99": round(percentile(full, 99), 1),
        "duration_s": round(end - start, 2),
        "samples": [round(s, 1) for s in samples],
        "binding_conflicts": metrics.get("scheduler_binding_conflicts_total", 0),
        "errors": metrics.get('scheduler_schedule_attempts_total{result="error"}', 0),
        "mean_attempt_latency_ms": round(
            1000
            * metrics.get("scheduler_scheduling_duration_seconds_sum", 0)
            / max(metrics.get("scheduler_scheduling_duration_seconds_count", 1), 1),
            2,
        ),
        "scheduler_log_tail": sched.log()[-1500:],
    }


async def verify(srv: ApiServer, args: argparse.Namespace) -> Obj:
    """Every pod bound (persisted), GPU pods with one UUID each, no UUID twice."""
    async with AsyncClient.from_kubeconfig(str(srv.kubeconfig)) as c:
        pods = (await c.list("pods", "default"))["items"]
    bound = sum(1 for p in pods if p["spec"].get("nodeName"))
    seen: dict[tuple[str, str], str] = {}
    twice = 0
    gpu_pods = 0
    for p in pods:
        raw = (p["metadata"].get("annotations") or {}).get("kubelab.io/gpu-uuids", "")
        if raw:
            gpu_pods += 1
        for u in filter(None, raw.split(",")):
            k = (p["spec"]["nodeName"], u)
            if k in seen:
                twice += 1
            seen[k] = p["metadata"]["name"]
    return {
        "pods": len(pods),
        "bound": bound,
        "gpu_pods_with_uuids": gpu_pods,
        "gpu_uuids_held_twice": twice,
    }


def build_base(args: argparse.Namespace, workdir: Path) -> tuple[Path, dict[str, float]]:
    """Nodes and placed pods, created once; each variant starts from a copy of this home."""
    base = workdir / "base" / "home"
    srv = start_apiserver(base)
    try:
        print(f"populating {args.nodes} nodes and {args.init_pods} placed pods", flush=True)
        times = asyncio.run(populate(srv, args, None))
        print(f"populated in {sum(times.values()):.1f}s {times}", flush=True)
    finally:
        srv.stop()
    return base, times


def run_once(
    args: argparse.Namespace, name: str, gpu_percent: float, base: Path, workdir: Path, rep: int
) -> Obj:
    home = workdir / f"{name}-{rep}" / "home"
    shutil.copytree(base, home)
    srv = start_apiserver(home)
    try:
        times = asyncio.run(populate(srv, args, gpu_percent))
        args.variant_name = name
        result = measure(srv, args)
        result["verify"] = asyncio.run(verify(srv, args))
        result["populate"] = {k: round(v, 1) for k, v in times.items()}
        print(
            f"[{name} #{rep + 1}] {args.pods} pods created in {sum(times.values()):.1f}s; "
            f"avg {result['pods_per_second_avg']} pods/s over {result['duration_s']}s; "
            f"{result['verify']}",
            flush=True,
        )
        return result
    finally:
        srv.stop()
        shutil.rmtree(home.parent, ignore_errors=True)


def run_variant(
    args: argparse.Namespace, name: str, gpu_percent: float, base: Path, workdir: Path
) -> Obj:
    """``--repeat`` runs: the median run's average, percentiles over every run's samples."""
    runs = [run_once(args, name, gpu_percent, base, workdir, i) for i in range(args.repeat)]
    runs.sort(key=lambda r: r["pods_per_second_avg"])
    median = runs[len(runs) // 2]
    pooled = sorted(s for r in runs for s in (r["samples"][:-1] or r["samples"]))
    ok = all(
        r["verify"]["bound"] == r["verify"]["pods"] and r["verify"]["gpu_uuids_held_twice"] == 0
        for r in runs
    )
    result = {
        "pods_per_second_avg": median["pods_per_second_avg"],
        "pods_per_second_p50": round(percentile(pooled, 50), 1),
        "pods_per_second_p90": round(percentile(pooled, 90), 1),
        "pods_per_second_p99": round(percentile(pooled, 99), 1),
        "duration_s": median["duration_s"],
        "runs_avg": [r["pods_per_second_avg"] for r in runs],
        "samples": [r["samples"] for r in runs],
        "gpu_pod_percent": gpu_percent,
        "verify": median["verify"] | {"all_runs_ok": ok},
        "binding_conflicts": sum(r["binding_conflicts"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "mean_attempt_latency_ms": median["mean_attempt_latency_ms"],
        "populate": median["populate"],
        "scheduler_log_tail": median["scheduler_log_tail"],
    }
    print(
        f"[{name}] median avg {result['pods_per_second_avg']} pods/s (runs {result['runs_avg']}), "
        f"p50 {result['pods_per_second_p50']}, p90 {result['pods_per_second_p90']}, "
        f"p99 {result['pods_per_second_p99']}; all bound, no GPU twice: {ok}",
        flush=True,
    )
    return result


def _node_jobs(args: argparse.Namespace, count: int) -> list[list[tuple[str, str, Any]]]:
    """POST each node, then PUT its status (Ready, allocatable): the two events a kubelet's
    registration brings."""
    jobs = []
    for i in range(count):
        body, status = node_body(i, 0)

        def with_status(created: Obj, status: Obj = status) -> Obj:
            return {**created, "status": status}

        jobs.append(
            [
                ("POST", "/api/v1/nodes", body),
                ("PUT", f"/api/v1/nodes/{body['metadata']['name']}/status", with_status),
            ]
        )
    return jobs


def _pending_jobs(count: int) -> list[list[tuple[str, str, Any]]]:
    return [
        [("POST", "/api/v1/namespaces/default/pods", pod_body(f"pod-{i}", False))]
        for i in range(count)
    ]


async def _count_reported(srv: ApiServer) -> int:
    """Pods the scheduler has reported PodScheduled=False on."""
    async with AsyncClient.from_kubeconfig(str(srv.kubeconfig)) as c:
        pods = (await c.list("pods", "default"))["items"]
    return sum(
        1
        for p in pods
        if any(
            c.get("type") == "PodScheduled" and c.get("status") == "False"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    )


async def _capacity_arrives(srv: ApiServer, args: argparse.Namespace, port: int) -> Obj:
    """Create the nodes while polling the scheduler's bound counter every 20 ms."""
    key = 'scheduler_schedule_attempts_total{result="scheduled"}'
    creator = Creator(srv, args.concurrency)
    t0 = time.perf_counter()
    nodes_done: list[float] = []

    async def create() -> None:
        await creator.run(_node_jobs(args, args.churn_nodes))
        nodes_done.append(time.perf_counter())

    task = asyncio.create_task(create())
    bound, last_bind = 0.0, 0.0
    deadline = t0 + args.timeout
    timeline: list[tuple[float, float]] = []  # (s since the first node, pods bound)
    while time.perf_counter() < deadline:
        bound = (await asyncio.to_thread(scrape, port)).get(key, 0.0)
        now = time.perf_counter() - t0
        if not timeline or now - timeline[-1][0] >= 0.25:
            timeline.append((round(now, 2), bound))
        if bound >= args.churn_pods:
            last_bind = time.perf_counter()
            break
        if task.done() and task.exception():
            break
        await asyncio.sleep(0.02)
    await task
    if not last_bind:
        raise RuntimeError(f"only {bound:.0f}/{args.churn_pods} pods bound before the timeout")
    return {
        "last_node_to_last_bind_s": round(last_bind - nodes_done[0], 2),
        "nodes_created_s": round(nodes_done[0] - t0, 2),
        "first_node_to_last_bind_s": round(last_bind - t0, 2),
        "pods_per_second_overall": round(args.churn_pods / (last_bind - t0), 1),
        "bound_timeline": timeline,
    }


def _profile(args: argparse.Namespace, name: str, sched: Component, srv: ApiServer) -> list[Any]:
    """py-spy the scheduler and the apiserver for ``--profile`` seconds (raw stacks)."""
    import subprocess

    assert sched.proc is not None and srv.component is not None and srv.component.proc
    out = []
    for who, pid in (("scheduler", sched.proc.pid), ("apiserver", srv.component.proc.pid)):
        path = Path(args.out).with_suffix(f".{name}.{who}.folded")
        cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-o", str(path)]
        cmd += ["--format", "raw", "-p", str(pid), "-d", str(args.profile), "-r", "50"]
        out.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return out


def run_churn(args: argparse.Namespace, workdir: Path) -> Obj:
    """Pods pending on an empty cluster, then the nodes; then the warm start to compare."""
    sched_args = list(args.scheduler_arg or [])
    if args.churn_hints == "off":
        sched_args.append("--no-queueing-hints")
    # 1. The backlog with no node, every pod tried and reported; then capacity arrives.
    srv = start_apiserver(workdir / "churn" / "home")
    port = free_port()
    sched: Component = srv.component_proc(
        "scheduler", "--metrics-port", str(port), "--log-level", "WARNING", *sched_args
    )
    try:
        asyncio.run(Creator(srv, args.concurrency).run(_pending_jobs(args.churn_pods)))
        sched.start()
        deadline = time.time() + args.timeout
        reported = 0
        while time.time() < deadline:
            if not sched.alive():
                raise RuntimeError(f"scheduler exited:\n{sched.log()[-3000:]}")
            try:
                tried = scrape(port).get(
                    'scheduler_schedule_attempts_total{result="unschedulable"}', 0.0
                )
            except OSError:
                tried = 0.0
            if tried >= args.churn_pods:
                reported = asyncio.run(_count_reported(srv))
                if reported >= args.churn_pods:
                    break
            time.sleep(0.5)
        if reported < args.churn_pods:
            raise RuntimeError(f"only {reported}/{args.churn_pods} pods reported unschedulable")
        profiles = _profile(args, "churn", sched, srv) if args.profile else []
        churn = asyncio.run(_capacity_arrives(srv, args, port))
        for prof in profiles:
            prof.wait(60)
        metrics = scrape(port)
        churn["attempts_unschedulable"] = metrics.get(
            'scheduler_schedule_attempts_total{result="unschedulable"}', 0
        )
        churn["verify"] = asyncio.run(verify(srv, args))
    finally:
        sched.stop()
        srv.stop()
        shutil.rmtree(workdir / "churn", ignore_errors=True)
    # 2. Warm start: the same nodes and backlog, then the scheduler.
    srv = start_apiserver(workdir / "churn-warm" / "home")
    try:
        creator = Creator(srv, args.concurrency)
        asyncio.run(creator.run(_node_jobs(args, args.churn_nodes)))
        asyncio.run(creator.run(_pending_jobs(args.churn_pods)))
        warm_args = argparse.Namespace(
            **{**vars(args), "pods": args.churn_pods, "scheduler_arg": sched_args, "profile": 0}
        )
        warm = measure(srv, warm_args)
    finally:
        srv.stop()
        shutil.rmtree(workdir / "churn-warm", ignore_errors=True)
    churn["warm_start_pods_per_second"] = warm["pods_per_second_avg"]
    churn["warm_start_duration_s"] = warm["duration_s"]
    churn["hints"] = args.churn_hints
    print(
        f"[churn] {args.churn_pods} pods pending, {args.churn_nodes} nodes created in "
        f"{churn['nodes_created_s']}s: last bind {churn['last_node_to_last_bind_s']}s after "
        f"the last node, {churn['pods_per_second_overall']} pods/s overall "
        f"({churn['attempts_unschedulable']:.0f} unschedulable attempts); warm start "
        f"{churn['warm_start_pods_per_second']} pods/s; hints {args.churn_hints}; "
        f"{churn['verify']}",
        flush=True,
    )
    return churn


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # `make bench --quick` (KUBELAB_BENCH_QUICK=1): a smoke run at a tenth of the size.
    quick = os.environ.get("KUBELAB_BENCH_QUICK") == "1"
    p.add_argument(
        "--quick", action="store_true", default=quick, help="500 nodes, 100 placed, 1,000 pods"
    )
    p.add_argument("--nodes", type=int, default=5000, help="Node objects (default 5000)")
    p.add_argument("--gpu-node-fraction", type=float, default=0.25, help="share of nodes with GPUs")
    p.add_argument("--gpus-per-node", type=int, default=8, help="simulated GPUs per GPU node")
    p.add_argument("--init-pods", type=int, default=1000, help="pods already placed (default 1000)")
    p.add_argument("--pods", type=int, default=10000, help="pods measured (default 10000)")
    p.add_argument(
        "--gpu-percent", type=float, default=5.0, help="GPU pods in the GPU variant (%%)"
    )
    p.add_argument("--variants", default="basic,gpu,churn", help="comma list of: basic, gpu, churn")
    p.add_argument("--churn-pods", type=int, default=5000, help="churn: pods pending (5000)")
    p.add_argument("--churn-nodes", type=int, default=1000, help="churn: nodes arriving (1000)")
    p.add_argument(
        "--churn-hints",
        choices=("on", "off"),
        default="on",
        help="churn: off runs the scheduler with --no-queueing-hints (the figure before)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per variant (median reported)")
    p.add_argument(
        "--concurrency", type=int, default=32, help="connections creating objects while populating"
    )
    p.add_argument("--scheduler-arg", action="append", help="extra flag for the scheduler (repeat)")
    p.add_argument(
        "--timeout", type=float, default=600, help="give up after this many seconds per variant"
    )
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        help="py-spy the scheduler for N seconds (collapsed stacks next to --out)",
    )
    p.add_argument(
        "--out", default=str(REPO / "bench" / "results" / "scheduler.json"), help="result file"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.nodes, args.init_pods, args.pods = (
            min(args.nodes, 500),
            min(args.init_pods, 100),
            min(args.pods, 1000),
        )
        args.churn_pods, args.churn_nodes = min(args.churn_pods, 1000), min(args.churn_nodes, 200)

    results: Obj = {
        "benchmark": "scheduler",
        "method": "scheduler_perf style: nodes, placed pods and pending pods created first; "
        "a scheduler process then binds every pending pod; pods/s sampled each second from "
        "its count of Bindings answered 201; apiserver (SQLite) on the same machine",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "variant_name")},
        "targets": {
            "basic_avg_pods_per_second": 1500,
            "gpu_avg_pods_per_second": 500,
            "churn_last_node_to_last_bind_s": 1.0,
            "churn_pods_per_second_overall": 2500,
        },
        "variants": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="kl-bench-sched-"))
    try:
        names = [v.strip() for v in args.variants.split(",") if v.strip()]
        if "churn" in names:
            names.remove("churn")
            results["variants"]["churn"] = run_churn(args, workdir)
        if names:
            base, times = build_base(args, workdir)
            results["populate_cluster"] = {k: round(v, 1) for k, v in times.items()}
        for name in names:
            gpu_percent = args.gpu_percent if name == "gpu" else 0.0
            results["variants"][name] = run_variant(args, name, gpu_percent, base, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
