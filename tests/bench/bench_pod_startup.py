"""Pod startup latency with the image present: pod created (already bound) → Running seen
through a watch, for 30 pods one at a time (p50/p99) and a burst of 30, next to the raw
cost of `docker create` + `start` of the same containers through the docker SDK.

    .venv/bin/python tests/bench/bench_pod_startup.py [--pods 30]

Prints JSON to stdout and writes bench/results/pod_startup.json (`make bench` calls
``run(args)``; the format is tests/bench/README.md's). Targets (issue 4): p99 ≤
400 ms for single pods; the burst within 1.5x of the raw Docker burst.
"""

from __future__ import annotations

import argparse
import json
import os
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
from tests.bench import swarm  # noqa: E402
from tests.bench.common import Results  # noqa: E402
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


def measure(pods: int) -> dict[str, Any]:
    """Run the three measurements; raw figures in milliseconds."""
    import docker

    dk = docker.from_env(max_pool_size=pods + 2)
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

            single = kubelab_single(client, watcher, pods)
            burst = kubelab_burst(client, watcher, pods)
            r_single = raw_single(dk, pods)
            r_burst = raw_burst(dk, pods)
            raw_cleanup(dk)  # the engine as the other two found it, for Swarm's turn
            swarm_s, swarm_note = swarm.time_service_create(pods, IMAGE, *COMMAND)
            watcher.stop = True
        finally:
            kubelet.stop()
            srv.stop()
            raw_cleanup(dk)
            for c in dk.containers.list(all=True, filters={"label": f"io.kubelab.node={NODE}"}):
                c.remove(force=True)
    return {
        "pods": pods,
        "docker": dk.version().get("Version"),
        "kubelab_single_ms": single,
        "docker_raw_single_ms": r_single,
        "kubelab_burst_ms": burst,
        "docker_raw_burst_ms": r_burst,
        "swarm_burst_ms": None if swarm_s is None else swarm_s * 1000,
        "swarm_note": swarm_note,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The `make bench` entry point: report lines in tests/bench/README.md's format."""
    pods = 10 if getattr(args, "quick", False) else 30
    res = Results("pod_startup")
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as e:  # noqa: BLE001 - no engine: the lines say so
        for what in ("single pod p99", "burst of 30"):
            res.add(f"pod startup, {what}", None, "ms", skipped=f"no Docker engine: {e}")
        return {
            "name": "pod_startup",
            "lines": res.lines,
            "failures": res.failures,
            "notes": res.notes,
            "extra": res.extra,
        }
    m = measure(pods)
    single, raw = summary(m["kubelab_single_ms"]), summary(m["docker_raw_single_ms"])
    res.add(
        f"pod startup created→Running (watch), {pods} pods one at a time, p99",
        single["p99_ms"],
        "ms",
        target="<= 400 ms",
        met=single["p99_ms"] <= 400,
        peer=raw["p99_ms"],
        peer_label="raw docker create+start of the same container, p99",
        higher_is_better=False,
        stats={"kubelab": single, "docker_raw": raw},
        note=f"p50 {single['p50_ms']} ms vs raw docker p50 {raw['p50_ms']} ms",
    )
    burst, raw_burst_ms = m["kubelab_burst_ms"], m["docker_raw_burst_ms"]
    res.add(
        f"pod startup, burst of {pods} created at once → all Running",
        round(burst, 1),
        "ms",
        target="<= 1.5x raw docker burst",
        met=raw_burst_ms > 0 and burst / raw_burst_ms <= 1.5,
        peer=round(raw_burst_ms, 1),
        peer_label=f"raw docker create+start of {pods} containers, {pods} threads",
        higher_is_better=False,
    )
    swarm_ms = m["swarm_burst_ms"]
    res.add(
        f"pod startup, burst of {pods} vs Docker Swarm",
        round(burst, 1),
        "ms",
        target="faster than Swarm",
        met=None if swarm_ms is None else burst < swarm_ms,
        peer=None if swarm_ms is None else round(swarm_ms, 1),
        peer_label=f"docker service create --replicas {pods} → all running, same engine",
        higher_is_better=False,
        note=m["swarm_note"],
    )
    res.note(
        "image present; pods bound at creation (spec.nodeName); Running seen on a watch; "
        f"Docker {m['docker']}"
    )
    res.extra.update({k: v for k, v in m.items() if k.endswith("_ms") and v is not None})
    res.write()
    return {
        "name": "pod_startup",
        "lines": res.lines,
        "failures": res.failures,
        "notes": res.notes,
        "extra": res.extra,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10 pods instead of 30")
    ap.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results" / "pod_startup.json",
        help="where to write the JSON results",
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("KUBELAB_BENCH_OUT", str(args.out))
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
