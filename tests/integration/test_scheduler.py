"""The scheduler against a real apiserver, with Node objects and no kubelets (the way
scheduler_perf runs): placements, reasons, races, preemption, two schedulers, a crash."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.harness import ApiServer, Component, free_port
from tests.unit.sched_world import node as node_obj
from tests.unit.sched_world import pod as pod_obj
from tests.wait import wait_for

Obj = dict[str, Any]
GPU_ANN = "kubelab.io/gpu-uuids"
REASONS_ANN = "kubelab.io/scheduling-reasons"
BROKEN = {"key": "gpu", "value": "broken", "effect": "NoSchedule"}


def add_node(c: Any, name: str, **kw: Any) -> None:
    """Create a Node and then set its status (create ignores status, as upstream)."""
    n = node_obj(name, **kw)
    status = n.pop("status")
    c.create("nodes", n)
    c.patch("nodes", name, {"status": status}, subresource="status")


def add_pod(c: Any, name: str, priority_class: str = "", **kw: Any) -> Obj:
    p = pod_obj(name, **kw)
    if priority_class:
        # The apiserver's Priority admission fills spec.priority from the class.
        p["spec"]["priorityClassName"] = priority_class
    for k in ("uid", "creationTimestamp"):
        p["metadata"].pop(k, None)
    p.pop("status", None)
    return c.create("pods", p, "default")


def get_pod(c: Any, name: str) -> Obj:
    return c.get("pods", name, "default")


def bound_to(c: Any, name: str) -> str:
    return get_pod(c, name)["spec"].get("nodeName") or ""


def start_scheduler(srv: ApiServer, metrics_port: int = 0) -> Component:
    return Cluster.on(srv).add_scheduler("--metrics-port", str(metrics_port))


@pytest.fixture
def scheduler(apiserver: ApiServer) -> Any:
    comp = start_scheduler(apiserver)
    yield comp
    comp.stop()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def live_gpu_holders(c: Any) -> dict[tuple[str, str], list[str]]:
    """(node, GPU UUID) -> live pods holding it (a live pod: bound, not finished)."""
    holders: dict[tuple[str, str], list[str]] = {}
    for p in c.list("pods", "default")["items"]:
        node = p["spec"].get("nodeName")
        if not node or p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for u in filter(None, (p["metadata"].get("annotations") or {}).get(GPU_ANN, "").split(",")):
            holders.setdefault((node, u), []).append(p["metadata"]["name"])
    return holders


def test_placements_by_resources_gpus_selectors_affinity_and_taints(apiserver: ApiServer) -> None:
    port = free_port()
    scheduler = start_scheduler(apiserver, port)
    try:
        _placements(apiserver, scheduler)
        wait_for(
            lambda: 'result="scheduled"} 4' in scrape(port),
            "metrics",
            20,
            diagnostics=scheduler.tail,
        )
        text = scrape(port)
        assert "scheduler_scheduling_duration_seconds_count 4" in text
        assert 'scheduler_pending_pods{queue="active"} 0' in text
    finally:
        scheduler.stop()


def _placements(apiserver: ApiServer, scheduler: Component) -> None:
    c = apiserver.client()
    add_node(c, "cpu-1", cpu="2")
    add_node(
        c,
        "a10-box",
        gpus=4,
        model="A10",
        labels={"nvidia.com/gpu.product": "A10", "nvidia.com/gpu.memory": "24576"},
    )
    add_node(
        c,
        "h100-box",
        gpus=8,
        labels={"nvidia.com/gpu.product": "H100-80GB", "nvidia.com/gpu.memory": "81920"},
    )
    add_node(c, "broken", gpus=4, taints=[BROKEN])
    add_node(c, "cordoned", cpu="64", unschedulable=True)

    add_pod(c, "web", cpu="500m")
    add_pod(c, "train-a10", gpus=2, node_selector={"nvidia.com/gpu.product": "A10"})
    add_pod(
        c,
        "train-big-mem",
        gpus=1,
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "nvidia.com/gpu.memory",
                                    "operator": "Gt",
                                    "values": ["40000"],
                                }
                            ]
                        }
                    ]
                }
            }
        },
    )
    add_pod(
        c,
        "fixer",
        gpus=4,
        tolerations=[{"key": "gpu", "operator": "Equal", "value": "broken"}],
        node_selector={"kubernetes.io/hostname": "broken"},
    )

    wait_for(
        lambda: all(bound_to(c, n) for n in ("web", "train-a10", "train-big-mem", "fixer")),
        "all four placed",
        20,
        diagnostics=scheduler.tail,
    )
    assert bound_to(c, "web") == "cpu-1"  # CPU-only pods stay off GPU boxes
    a10 = get_pod(c, "train-a10")
    assert a10["spec"]["nodeName"] == "a10-box"
    uuids = a10["metadata"]["annotations"][GPU_ANN].split(",")
    assert len(uuids) == 2 and all(u.startswith("GPU-a10-box-") for u in uuids)
    big = get_pod(c, "train-big-mem")
    assert big["spec"]["nodeName"] == "h100-box"
    assert big["metadata"]["annotations"][GPU_ANN].startswith("GPU-h100-box-")
    assert bound_to(c, "fixer") == "broken"


def test_unschedulable_pod_says_why_node_by_node_and_gpu_by_gpu(
    apiserver: ApiServer, scheduler: Component
) -> None:
    c = apiserver.client()
    add_node(c, "gpu-box-1", gpus=1)
    add_node(c, "gpu-box-2", gpus=4)
    add_node(c, "gpu-box-3", gpus=4, taints=[BROKEN])
    add_pod(c, "holder", gpus=3, node_selector={"kubernetes.io/hostname": "gpu-box-2"})
    wait_for(lambda: bound_to(c, "holder"), "holder bound", 20, diagnostics=scheduler.tail)
    add_pod(c, "needs-two", gpus=2)

    def reported() -> Obj | None:
        p = get_pod(c, "needs-two")
        conds = [x for x in p["status"].get("conditions") or [] if x["type"] == "PodScheduled"]
        ann = (p["metadata"].get("annotations") or {}).get(REASONS_ANN)
        return p if conds and ann else None

    p = wait_for(reported, "unschedulable report", 20, diagnostics=scheduler.tail)
    assert not p["spec"].get("nodeName")
    cond = next(x for x in p["status"]["conditions"] if x["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"].startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: broken}, "
        "2 Insufficient nvidia.com/gpu."
    )
    why = json.loads(p["metadata"]["annotations"][REASONS_ANN])
    assert why["summary"] == cond["message"]
    assert why["nodes"]["gpu-box-2"] == [
        "Insufficient nvidia.com/gpu: 1 of 4 GPUs free, pod needs 2"
    ]
    assert why["nodes"]["gpu-box-1"] == [
        "Insufficient nvidia.com/gpu: 1 of 1 GPUs free, pod needs 2"
    ]
    assert why["gpus"]["gpu-box-2"][0].endswith("in use by default/holder")
    assert why["gpus"]["gpu-box-2"][3].endswith(": free")

    def failed_event() -> Obj | None:
        for e in c.list("events", "default")["items"]:
            if e["involvedObject"]["name"] == "needs-two" and e["reason"] == "FailedScheduling":
                return e
        return None

    ev = wait_for(failed_event, "FailedScheduling event", 20, diagnostics=scheduler.tail)
    assert ev["type"] == "Warning"
    assert ev["source"]["component"] == "default-scheduler"
    assert ev["message"] == cond["message"]
    assert ev["count"] >= 1 and ev["firstTimestamp"] and ev["lastTimestamp"]
    assert (
        ev["involvedObject"]["kind"] == "Pod"
        and ev["involvedObject"]["uid"] == p["metadata"]["uid"]
    )

    # A new node with room is a cluster event: the pod is retried and lands there.
    add_node(c, "gpu-box-4", gpus=2)
    wait_for(
        lambda: bound_to(c, "needs-two") == "gpu-box-4",
        "placed on the new node",
        20,
        diagnostics=scheduler.tail,
    )


def test_two_pods_race_for_the_last_gpu(apiserver: ApiServer, scheduler: Component) -> None:
    c = apiserver.client()
    add_node(c, "one-gpu", gpus=1)
    add_pod(c, "racer-a", gpus=1)
    add_pod(c, "racer-b", gpus=1)

    def settled() -> bool:
        names = {"racer-a", "racer-b"}
        bound = [n for n in names if bound_to(c, n)]
        if len(bound) != 1:
            return False
        loser = get_pod(c, (names - set(bound)).pop())
        conds = loser["status"].get("conditions") or []
        return any("Insufficient nvidia.com/gpu" in (x.get("message") or "") for x in conds)

    wait_for(settled, "one winner, one Insufficient", 20, diagnostics=scheduler.tail)
    time.sleep(0.5)  # and it stays that way
    assert settled()
    assert all(len(v) == 1 for v in live_gpu_holders(c).values())


def test_preemption_evicts_the_fewest_lower_priority_pods(
    apiserver: ApiServer, scheduler: Component
) -> None:
    c = apiserver.client()
    for name, value in (("low", 1), ("high", 100)):
        c.create(
            "priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
            },
        )
    add_node(c, "box-a", gpus=2)
    add_node(c, "box-b", gpus=2)
    add_pod(
        c, "low-a1", gpus=1, priority_class="low", node_selector={"kubernetes.io/hostname": "box-a"}
    )
    add_pod(
        c, "low-a2", gpus=1, priority_class="low", node_selector={"kubernetes.io/hostname": "box-a"}
    )
    add_pod(
        c, "low-b", gpus=2, priority_class="low", node_selector={"kubernetes.io/hostname": "box-b"}
    )
    add_pod(
        c,
        "peer-b",
        cpu="100m",
        priority_class="high",
        node_selector={"kubernetes.io/hostname": "box-b"},
    )
    wait_for(
        lambda: all(bound_to(c, n) for n in ("low-a1", "low-a2", "low-b", "peer-b")),
        "low pods bound",
        20,
        diagnostics=scheduler.tail,
    )

    add_pod(c, "vip", gpus=2, priority_class="high")
    victim = wait_for(
        lambda: [
            p for p in c.list("pods", "default")["items"] if p["metadata"].get("deletionTimestamp")
        ],
        "a victim being deleted",
        20,
        diagnostics=scheduler.tail,
    )
    # One victim (box-b) beats two (box-a); the equal-priority peer is never touched.
    assert [p["metadata"]["name"] for p in victim] == ["low-b"]
    assert all(
        not get_pod(c, n)["metadata"].get("deletionTimestamp")
        for n in ("low-a1", "low-a2", "peer-b")
    )

    def events_for(name: str, reason: str) -> bool:
        return any(
            e["involvedObject"]["name"] == name and e["reason"] == reason
            for e in c.list("events", "default")["items"]
        )

    wait_for(
        lambda: events_for("low-b", "Preempted"), "Preempted event", 20, diagnostics=scheduler.tail
    )
    wait_for(
        lambda: events_for("vip", "Preempting"), "Preempting event", 20, diagnostics=scheduler.tail
    )
    assert get_pod(c, "vip")["status"].get("nominatedNodeName") == "box-b"
    # The GPUs stay held until the pod is gone (no kubelet here: finish the delete as one would).
    time.sleep(0.5)  # to prove vip does not bind while low-b still holds the GPUs
    assert not bound_to(c, "vip")
    c.delete("pods", "low-b", "default", grace_period_seconds=0)
    wait_for(
        lambda: bound_to(c, "vip") == "box-b", "vip bound on box-b", diagnostics=scheduler.tail
    )
    assert sorted(get_pod(c, "vip")["metadata"]["annotations"][GPU_ANN].split(",")) == [
        "GPU-box-b-0",
        "GPU-box-b-1",
    ]


def test_two_schedulers_and_a_killed_one_never_share_a_gpu(apiserver: ApiServer) -> None:
    c = apiserver.client()
    nodes, per_node, pods = 10, 2, 30
    for i in range(nodes):
        add_node(c, f"g{i}", gpus=per_node)
    first = start_scheduler(apiserver)
    second = start_scheduler(apiserver)
    try:
        for i in range(pods):
            add_pod(c, f"job-{i}", gpus=1, cpu="10m")

        def bound_count() -> int:
            return sum(1 for p in c.list("pods", "default")["items"] if p["spec"].get("nodeName"))

        wait_for(lambda: bound_count() >= 4, "some bound", 20, diagnostics=first.tail)
        first.kill()  # SIGKILL mid-run, Bindings possibly in flight
        restarted = start_scheduler(apiserver)
        try:
            wait_for(
                lambda: bound_count() == nodes * per_node,
                "every GPU used",
                40,
                diagnostics=restarted.tail,
            )
            time.sleep(1.0)  # nothing more may bind: every GPU is taken
            assert bound_count() == nodes * per_node
        finally:
            restarted.stop()
    finally:
        first.stop()
        second.stop()
    holders = live_gpu_holders(c)
    assert len(holders) == nodes * per_node
    shared = {k: v for k, v in holders.items() if len(v) > 1}
    assert not shared, f"GPUs held by two live pods: {shared}"
    for (node, uuid), _ in holders.items():
        assert uuid.startswith(f"GPU-{node}-")
