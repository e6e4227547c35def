"""Pod startup latency with the image present: pod created (already bound) → Running seen
through a watch, for 30 pods one at a time (p50/p99) and a burst of 30, next to the raw
cost of `docker create` + `start` of the same containers through the docker SDK.

    .venv/bin/python tests/bench/bench_pod_startup.py [--pods 30]

Prints JSON to stdout and writes bench/results/pod_startup.json. Targets (issue 4): p99 ≤
400 ms for single pods; the burst within 1.5x of the raw Docker burst.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from api.errors import ApiError  # noqa: E402
from tests.e2e.images import IMAGE, ensure_busybox_image  # noqa: E402
from tests.harness import start_apiserver  # noqa: E402

NS = "default"
NODE = "bench-node"
COMMAND = ["sh", "-c", "exec sleep 3600"]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


class RunningWatcher:
    """Records when each pod is first seen Running on a watch stream."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.stop = False
        rv = client.list("pods", NS)["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.thread.start()

    def _run(self, rv: str) -> None:
        while not self.stop:
            try:
                for ev in self.client.watch("pods", NS, resource_version=rv, timeout_seconds=60):
                    obj = ev["object"]
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if ev["type"] == "BOOKMARK":
                        continue
                    if (obj.get("status") or {}).get("phase") == "Running":
                        name = obj["metadata"]["name"]
                        with self.cond:
                            self.seen.setdefault(name, time.perf_counter())
                            self.cond.notify_all()
                    if self.stop:
                        return
            except Exception:  # noqa: BLE001 - 410 or a dropped stream: list again
                if self.stop:
                    return
                time.sleep(0.1)
                rv = self.client.list("pods", NS)["metadata"]["resourceVersion"]

    def wait(self, names: list[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in self.seen for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.seen]
                    raise TimeoutError(f"pods never Running: {missing[:5]}")
                self.cond.wait(left)


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": IMAGE, "command": COMMAND}],
        },
    }


def delete_all(client: Any, names: list[str]) -> None:
    for n in names:
        try:
            client.delete("pods", n, NS, grace_period_seconds=0)
        except ApiError:
            pass
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = {p["metadata"]["name"] for p in client.list("pods", NS)["items"]} & set(names)
        if not left:
            return
        time.sleep(0.2)


def kubelab_single(client: Any, watcher: RunningWatcher, n: int) -> list[float]:
    out = []
    for i in range(n):
        name = f"single-{i}"
        t0 = time.perf_counter()
        client.create("pods", pod(name), NS)
        watcher.wait([name])
        out.append((watcher.seen[name] - t0) * 1000)
    delete_all(client, [f"single-{i}" for i in range(n)])
    return out


def kubelab_burst(client: Any, watcher: RunningWatcher, n: int) -> float:
    names = [f"burst-{i}" for i in range(n)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda nm: client.create("pods", pod(nm), NS), names))
    watcher.wait(names)
    took = (max(watcher.seen[nm] for nm in names) - t0) * 1000
    delete_all(client, names)
    return took


def docker_create_start(dk: Any, name: str) -> None:
    c = dk.api.create_container(
        IMAGE,
        entrypoint=COMMAND[:1],
        command=COMMAND[1:],
        name=name,
        labels={"kubelab.bench": "raw"},
        host_config=dk.api.create_host_config(),
    )
    dk.api.start(c["Id"])


def raw_cleanup(dk: Any) -> None:
    for c in dk.containers.list(all=True, filters={"label": "kubelab.bench=raw"}):
        c.remove(force=True)


def raw_single(dk: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        docker_create_start(dk, f"bench-raw-single-{i}")
        out.append((time.perf_counter() - t0) * 1000)
    raw_cleanup(dk)
    return out


def raw_burst(dk: Any, n: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(lambda i: docker_create_start(dk, f"bench-raw-burst-{i}"), range(n)))
    took = (time.perf_counter() - t0) * 1000
    raw_cleanup(dk)
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pods", type=int, default=30, help="pods per round (default 30)")
    ap.add_argument(
        "--out",
        default=str(REPO / "bench" / "results" / "pod_startup.json"),
        help="where to write the JSON results",
    )
    args = ap.parse_args(argv)

    import docker

    dk = docker.from_env(max_pool_size=args.pods + 2)
    ensure_busybox_image(dk)
    raw_cleanup(dk)
    with tempfile.TemporaryDirectory(prefix="kubelab-bench-") as tmp:
        srv = start_apiserver(Path(tmp) / "home")
        kubelet = srv.component_proc(
            "kubelet",
            "--runtime",
            "docker",
            "--node-name",
            NODE,
            "--port",
            "0",
            "--home",
            str(srv.home),
            "--root-dir",
            str(Path(tmp) / "kubelet"),
            "--log-level",
            "warning",
        ).start()
        client = srv.client()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    client.get("nodes", NODE)
                    break
                except ApiError:
                    time.sleep(0.2)
            watcher = RunningWatcher(client)
            # One warm-up pod so first-use costs (connections, imports) are not measured.
            client.create("pods", pod("warmup"), NS)
            watcher.wait(["warmup"])
            delete_all(client, ["warmup"])

            single = kubelab_single(client, watcher, args.pods)
            burst = kubelab_burst(client, watcher, args.pods)
            r_single = raw_single(dk, args.pods)
            r_burst = raw_burst(dk, args.pods)
            watcher.stop = True
        finally:
            kubelet.stop()
            srv.stop()
            raw_cleanup(dk)
            for c in dk.containers.list(all=True, filters={"label": f"io.kubelab.node={NODE}"}):
                c.remove(force=True)

    s = summary(single)
    results = {
        "benchmark": "pod_startup",
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "docker": dk.version().get("Version"),
        },
        "pods": args.pods,
        "kubelab_single": s,
        "docker_raw_single": summary(r_single),
        "kubelab_burst_ms": round(burst, 1),
        "docker_raw_burst_ms": round(r_burst, 1),
        "burst_ratio": round(burst / r_burst, 2) if r_burst else None,
        "targets": {
            "single_p99_ms_max": 400,
            "single_p99_met": s["p99_ms"] <= 400,
            "burst_ratio_max": 1.5,
            "burst_ratio_met": r_burst > 0 and burst / r_burst <= 1.5,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
