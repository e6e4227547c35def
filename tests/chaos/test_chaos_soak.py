"""Chaos soak: a cluster under a bounded loop that kills a random pod, container, kubelet,
scheduler, controller manager or the apiserver every few seconds while Deployments roll
(GPU ones too) and Jobs run. Afterwards, within 60 s: every Deployment has its replicas,
every Job its parallelism, no pod was ever bound twice, no GPU UUID ever held by two live
pods, no container runs without a pod, and no acknowledged write is lost.

`make test` runs a short soak (the --chaos-seconds default); `make chaos
SECONDS_TO_RUN=3600` runs it for as long as asked. With a reachable Docker engine one
kubelet runs real containers (and containers get killed with `docker kill`).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.conftest import docker_reachable
from tests.integration.fault_cluster import (
    NODE_LABEL,
    NS,
    Recorder,
    Workload,
    converge,
    deployment,
    deployment_problems,
    docker_node_of,
    job,
    job_problems,
    orphan_containers,
    remove_node_containers,
    settle,
    start_fault_cluster,
)

FINAL = {"web": 4, "api": 2, "gpu-train": 3}
RANGES = {"web": (2, 6), "api": (1, 3), "gpu-train": (1, 4)}


class Chaos:
    """The fault injector: one random fault per step, every fault counted."""

    def __init__(self, cl: Cluster, seed: int) -> None:
        self.cl = cl
        self.rng = random.Random(seed)
        self.client = cl.api.client()
        self.counts: dict[str, int] = {}
        self.down: dict[str, float] = {}  # killed target -> when to start it again
        self.began = time.time()
        self.log: list[str] = []  # "at 12.3 s: kill kubelet/node-0 for 2.0 s", in order

    def step(self) -> None:
        faults = ["pod", "pod", "kubelet", "scheduler", "controllers", "apiserver"]
        if docker_node_of(self.cl):
            faults += ["container", "container"]
        fault = self.rng.choice(faults)
        try:
            getattr(self, f"_{fault}")()
            self.counts[fault] = self.counts.get(fault, 0) + 1
        except Exception:  # noqa: BLE001 - e.g. the API is down while we pick a pod
            self.counts[f"{fault} (not done)"] = self.counts.get(f"{fault} (not done)", 0) + 1
            self._note(f"{fault} (not done)")

    def _note(self, what: str) -> None:
        self.log.append(f"at {time.time() - self.began:.1f} s: {what}")

    def revive(self) -> None:
        """Start what was killed once its downtime is over."""
        now = time.time()
        for target, at in list(self.down.items()):
            if now >= at:
                self.cl.start(target)
                del self.down[target]
                self._note(f"start {target}")

    def _kill(self, target: str, downtime: float) -> None:
        if target in self.down:
            return
        self.cl.kill(target)
        self.down[target] = time.time() + downtime
        self._note(f"kill {target} for {downtime:.1f} s")

    def _pod(self) -> None:
        pods = [
            p
            for p in self.client.list("pods", NS)["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]
        if pods:
            name = self.rng.choice(pods)["metadata"]["name"]
            self.client.delete("pods", name, NS)
            self._note(f"delete pod {name}")

    def _container(self) -> None:
        import docker

        dc = docker.from_env(timeout=10)
        try:
            cs = dc.containers.list(filters={"label": f"{NODE_LABEL}={docker_node_of(self.cl)}"})
            if cs:
                victim = self.rng.choice(cs)
                victim.kill()
                self._note(f"docker kill {victim.name}")
        finally:
            dc.close()

    def _kubelet(self) -> None:
        kubelets = [k for k in self.cl.components if k.startswith("kubelet/")]
        # Mostly a quick restart; sometimes long enough for the node to go NotReady and its
        # pods to be evicted (grace 4 s + eviction 2 s in the fast controller flags).
        downtime = self.rng.choice([0.5, 1.0, 2.0, 8.0])
        self._kill(self.rng.choice(kubelets), downtime)

    def _scheduler(self) -> None:
        self._kill("scheduler", self.rng.uniform(0.2, 2.0))

    def _controllers(self) -> None:
        self._kill("controllers", self.rng.uniform(0.2, 2.0))

    def _apiserver(self) -> None:
        self.cl.kill("apiserver")
        outage = self.rng.uniform(0.0, 1.0)
        time.sleep(outage)  # the outage itself: how long it stays down
        self.cl.start("apiserver")
        self._note(f"kill apiserver, started again after {outage:.1f} s")


def _docker_deployment(image: str) -> dict[str, Any]:
    return deployment(
        "dock",
        2,
        pod_spec={
            "nodeSelector": {"kubelab.io/runtime": "docker"},
            "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}],
        },
    )


def test_chaos_soak(tmp_path: Path, chaos_seconds: float, chaos_seed: int) -> None:
    use_docker = docker_reachable()
    if not use_docker and os.environ.get("KUBELAB_REQUIRE_DOCKER") == "1":
        pytest.fail("KUBELAB_REQUIRE_DOCKER=1 but no Docker engine is reachable for the soak")
    cl = start_fault_cluster(tmp_path / "home", nodes=3, gpus="4", docker=use_docker)
    rec: Recorder | None = None
    wl: Workload | None = None
    try:
        cl.wait_nodes_ready(timeout=60)
        c = cl.client
        final = dict(FINAL)
        for name, n in final.items():
            c.create("deployments", deployment(name, n, gpus=1 if "gpu" in name else 0), NS)
        c.create("jobs", job("batch-a"), NS)
        c.create("jobs", job("batch-b", parallelism=1), NS)
        if use_docker:
            import docker

            from tests.e2e.images import ensure_busybox_image

            dc = docker.from_env(timeout=30)
            image = ensure_busybox_image(dc)
            dc.close()
            c.create("deployments", _docker_deployment(image), NS)
            final["dock"] = 2

        rec = Recorder(cl.api.client()).start()
        wl = Workload(cl.api.client(), dict(RANGES), seed=chaos_seed).start()
        chaos = Chaos(cl, seed=chaos_seed)
        end = time.time() + chaos_seconds
        next_fault = time.time() + 2
        while time.time() < end:
            chaos.revive()
            if time.time() >= next_fault:
                chaos.step()
                next_fault = time.time() + chaos.rng.uniform(2.0, 5.0)
            time.sleep(0.2)  # the fault injector's tick, not a wait for a condition
        wl.stop()

        # Afterwards: everything back up, one last acknowledged scale, then 60 s to converge.
        cl.ensure_all_running()
        cl.wait_nodes_ready(timeout=90)
        began = time.time()
        settle(c, {k: v for k, v in final.items() if k in RANGES})

        def problems() -> list[str]:
            out = deployment_problems(c) + job_problems(c)
            if docker_node_of(cl):
                out += [f"orphan container {o}" for o in orphan_containers(c, docker_node_of(cl))]
            return out

        left = converge(problems, 60 - (time.time() - began))
        assert not left, (
            f"not converged within 60 s (replay: --chaos-seed={chaos_seed}; faults, newest "
            f"last: {chaos.log[-8:]}): {left}\n{cl.logs()}"
        )
        converged_in = time.time() - began
        rec.sample()
        lost = wl.check_acknowledged()
        assert not lost, f"acknowledged writes lost: {lost}"
        assert not rec.bound_twice(), f"pods bound to two nodes: {rec.bound_twice()}"
        assert not rec.gpu_violations, f"GPUs held twice: {rec.gpu_violations[:10]}"
        assert sum(v for k, v in chaos.counts.items() if "not done" not in k) >= chaos_seconds / 6
        print(
            f"chaos soak (seed {chaos_seed}): {chaos_seconds:.0f} s, faults {chaos.counts}, "
            f"{wl.writes_ok} writes acknowledged ({len(wl.acked)} ConfigMaps checked), "
            f"{wl.writes_failed} refused or failed, {rec.samples} pod samples, "
            f"{len(rec.nodes_of)} pods seen, docker={'yes' if use_docker else 'no'}, "
            f"converged in {converged_in:.1f} s: nothing lost"
        )
    finally:
        if wl is not None:
            wl.stop()
        if rec is not None:
            rec.stop()
        cl.stop()
        if docker_node_of(cl):
            remove_node_containers(docker_node_of(cl))
