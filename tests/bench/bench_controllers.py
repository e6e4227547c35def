"""Controller benchmarks (issue 5).

1. Scale 0 → 1,000 replicas on hollow nodes: pods created per second by the ReplicaSet
   controller (peer: kube-controller-manager's default client limit, about 20 pods/s).
2. Rolling update of 10 replicas with a readiness probe on the real Docker engine
   (maxSurge 25 %, maxUnavailable 25 %): spec change → 10 new pods Ready and the old ones
   gone, beside Docker Swarm doing the same update on the same engine. Skipped, with a
   line saying so, when no Docker engine is reachable.

Run: ``.venv/bin/python -m tests.bench.bench_controllers`` (writes
bench/results/controllers.json).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.bench import swarm
from tests.bench.common import QUICK, Results
from tests.cluster import start_cluster
from tests.integration.ctrl_cluster import deployment, is_ready, live_pods, rollout_done
from tests.wait import wait_for

BENCH_IMAGE = os.environ.get("KUBELAB_BENCH_IMAGE", "kubelab/busybox:1")


class PodCounter(threading.Thread):
    """Counts pod ADDED events in a namespace through a watch; notes when N were seen."""

    def __init__(self, client: Any, ns: str, target: int) -> None:
        super().__init__(daemon=True)
        self.client, self.ns, self.target = client, ns, target
        self.seen: set[str] = set()
        self.first: float | None = None
        self.done_at: float | None = None
        self.stop = False

    def run(self) -> None:
        rv = self.client.list("pods", self.ns)["metadata"].get("resourceVersion")
        while not self.stop and self.done_at is None:
            try:
                for ev in self.client.watch(
                    "pods", self.ns, resource_version=rv, timeout_seconds=30
                ):
                    obj = ev.get("object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if ev.get("type") == "ADDED":
                        self.first = self.first or time.time()
                        self.seen.add(obj["metadata"]["name"])
                        if len(self.seen) >= self.target:
                            self.done_at = time.time()
                            return
                    if self.stop:
                        return
            except Exception:
                time.sleep(0.2)


def bench_scale(res: Results, replicas: int, hollow: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="kl-bench-ctrl-")) / "home"
    cl = start_cluster(home, nodes=0, controller_flags=["--workers", "5"])
    try:
        cl.add_kubelet("hollow", hollow=hollow)
        wait_for(lambda: len(cl.ready_nodes()) >= hollow, f"{hollow} hollow nodes", 120)
        c = cl.client
        c.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scale"}}
        )
        c.create("deployments", deployment("big", 0, image=BENCH_IMAGE), "scale")
        wait_for(lambda: c.list("replicasets", "scale")["items"], "the ReplicaSet")
        counter = PodCounter(c, "scale", replicas)
        counter.start()
        time.sleep(0.5)
        t0 = time.time()
        c.patch(
            "deployments", "big", {"spec": {"replicas": replicas}}, "scale", subresource="scale"
        )
        counter.join(timeout=300)
        counter.stop = True
        if counter.done_at is None:
            res.fail(f"scale: only {len(counter.seen)} of {replicas} pods created in 300 s")
            return
        created_s = counter.done_at - t0
        rate = replicas / created_s
        ready_s = None
        try:
            wait_for(
                lambda: (
                    (c.get("deployments", "big", "scale").get("status") or {}).get("readyReplicas")
                    == replicas
                ),
                "all ready",
                300,
                interval=0.5,
            )
            ready_s = time.time() - t0
        except AssertionError as e:
            res.note(f"scale: not all pods ready: {e}")
        res.add(
            f"scale 0 → {replicas} replicas ({hollow} hollow nodes): pods created per second",
            round(rate, 1),
            "pods/s",
            target="≥ 1000 pods/s",
            met=rate >= 1000,
            peer=20.0,
            peer_label="kube-controller-manager default client QPS (≈20 pods/s)",
            stats={
                "created_seconds": round(created_s, 2),
                "all_ready_seconds": round(ready_s, 2) if ready_s else None,
                "first_pod_after_s": round((counter.first or t0) - t0, 3),
            },
            note="apiserver (SQLite), scheduler, hollow kubelets and controller manager share this machine",
        )
    finally:
        cl.stop()


def _docker_ok() -> str:
    try:
        import docker

        cli = docker.from_env(timeout=5)
        cli.ping()
        cli.images.get(BENCH_IMAGE)
        return ""
    except Exception as e:  # no engine, or no image
        return f"Docker engine or image {BENCH_IMAGE} not available: {e}"


def _web(image: str, version: str) -> dict[str, Any]:
    d = deployment("roll", 10, image=image)
    ctr = d["spec"]["template"]["spec"]["containers"][0]
    ctr["command"] = ["httpd", "-f", "-p", "8080"]
    ctr["env"] = [{"name": "VERSION", "value": version}]
    ctr["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    d["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    return d


def _remove_node_containers(node: str) -> None:
    """A stopped kubelet leaves its containers running (a restarted one adopts them): the
    benchmark's cluster is gone, so are they."""
    import docker

    dk = docker.from_env(timeout=30)
    for c in dk.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
        c.remove(force=True)


def bench_rolling_docker(res: Results) -> None:
    home = Path(tempfile.mkdtemp(prefix="kl-bench-roll-")) / "home"
    cl = start_cluster(home, nodes=0, controller_flags=["--workers", "5"])
    try:
        kubelet = cl.add_kubelet("dock", runtime="docker")
        wait_for(lambda: "dock" in cl.ready_nodes(), "docker node", 60)
        c = cl.client
        c.create("deployments", _web(BENCH_IMAGE, "1"), "default")
        wait_for(
            lambda: rollout_done(c.get("deployments", "roll", "default")), "initial rollout", 120
        )
        t0 = time.time()
        c.patch(
            "deployments",
            "roll",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "srv", "env": [{"name": "VERSION", "value": "2"}]}
                            ]
                        }
                    }
                }
            },
            "default",
            patch_type="strategic",
        )

        def done() -> bool:
            pods = c.list("pods", "default")["items"]
            new = [
                p
                for p in live_pods(c, "default")
                if p["spec"]["containers"][0]["env"][0]["value"] == "2" and is_ready(p)
            ]
            return len(new) == 10 and len(pods) == 10

        wait_for(done, "rolling update on Docker", 180, interval=0.05)
        kl_s = time.time() - t0
    finally:
        kubelet.stop(30)
        cl.stop()
        _remove_node_containers("dock")
    swarm_s, swarm_note = _swarm_update()
    if swarm_s is None:
        res.note(f"Docker Swarm comparison not measured: {swarm_note}")
    res.add(
        "rolling update of 10 replicas with a readiness probe on Docker (25 %/25 %)",
        round(kl_s, 2),
        "s",
        target="≤ 3 s and faster than Swarm",
        met=kl_s <= 3 and (swarm_s is None or kl_s < swarm_s),
        peer=round(swarm_s, 2) if swarm_s is not None else None,
        peer_label="Docker Swarm service update, same engine",
        higher_is_better=False,
        note=swarm_note,
    )


def _swarm_update() -> tuple[float | None, str]:
    """`docker service update` of 10 replicas, parallelism 3, start-first (surge) with a
    health check."""
    health = [
        # A TCP check like the kubelab side's tcpSocket probe (busybox nc has no -z).
        "--health-cmd", "echo | nc -w 1 127.0.0.1 8080 >/dev/null || exit 1",
        "--health-interval", "1s",
        "--health-start-period", "0s",
    ]  # fmt: skip
    try:
        with swarm.swarm(), swarm.service(
            "--replicas", "10", "--env", "VERSION=1", *health,
            BENCH_IMAGE, "httpd", "-f", "-p", "8080",
        ) as name:  # fmt: skip
            why = swarm.swarm_wait(name, 10, swarm.SWARM_START_S)
            if why:
                return None, f"Swarm could not start the service here: {why}"
            t0 = time.time()
            r = swarm.docker_cli(
                "service", "update", "--detach", "-q", "--env-add", "VERSION=2",
                "--update-parallelism", "3", "--update-order", "start-first",
                "--update-delay", "0s", "--update-monitor", "1s", name,
            )  # fmt: skip
            if r.returncode != 0:
                return None, f"swarm update failed: {r.stderr.strip()[:200]}"
            why = swarm.swarm_wait(name, 10, swarm.SWARM_UPDATE_S, updated=True)
            took = time.time() - t0
            if why:
                return None, f"Swarm update did not finish: {why}"
            return (
                took,
                "Swarm: --update-parallelism 3 --update-order start-first, health check 1 s",
            )
    except swarm.SwarmUnavailable as e:
        return None, str(e)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--replicas",
        type=int,
        default=200 if QUICK else 1000,
        help="replicas to scale to (default 1000)",
    )
    p.add_argument("--hollow", type=int, default=10, help="hollow nodes (default 10)")
    p.add_argument(
        "--skip-docker", action="store_true", help="skip the Docker rolling-update benchmark"
    )
    args = p.parse_args(argv)
    res = Results("controllers")
    bench_scale(res, args.replicas, args.hollow)
    why = "skipped by --skip-docker" if args.skip_docker else _docker_ok()
    if why:
        res.add("rolling update of 10 replicas on Docker vs Swarm", None, "s", skipped=why)
    else:
        try:
            bench_rolling_docker(res)
        except Exception as e:
            res.fail(f"rolling update on Docker: {e}")
    print(f"wrote {res.write()}")
    return 1 if res.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
