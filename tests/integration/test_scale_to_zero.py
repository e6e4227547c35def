"""Scale to zero on a real cluster with the fake runtime (issue 20 item 3): an apiserver,
the scheduler, the controllers (Deployment, ReplicaSet, Endpoints, scale to zero) and a
kubelet with one simulated GPU.

- a GPU model server opted in with a short window is scaled to 0 once it has been Ready
  that long with no request, with an event saying why;
- its GPU is then free: a pod that waited for it is scheduled onto that very device;
- a node reporting a waiting connection (as the kubelet's activator does) scales it back
  to 1 at once, and its new replica waits for a GPU like any pod.

The fake runtime serves no traffic, so the test writes the node's activity report itself;
the Docker e2e (tests/e2e/test_scale_to_zero_docker.py) has the kubelet's proxy do it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.scaletozero import (
    ACTIVATOR,
    SCALE_TO_ZERO_AFTER,
    SERVICE_ACTIVITY,
    ServiceActivity,
    encode_activity,
)
from controllers.scaletozero_decide import SLEPT, WOKEN
from tests.cluster import Cluster
from tests.wait import wait_for

NS = "default"
NODE = "gpu-0"
GPU_UUIDS = "kubelab.io/gpu-uuids"
Obj = dict[str, Any]


def gpu_container() -> Obj:
    return {
        "name": "server",
        "image": "model-server:1",
        "resources": {"limits": {"nvidia.com/gpu": "1"}},
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cl = Cluster(tmp_path / "home")
    try:
        cl.add_controllers(
            "--controllers", "deployment,replicaset,endpoints,scaletozero", "--no-leader-elect"
        )
        cl.add_scheduler()
        cl.add_kubelet(NODE, fake_gpus="1")
        cl.wait_nodes_ready(NODE, timeout=60)
        yield cl
    finally:
        cl.stop()


def test_an_idle_gpu_server_sleeps_frees_its_gpu_and_wakes_on_demand(cluster: Cluster) -> None:
    api = cluster.client
    api.create(
        "services",
        {
            "metadata": {"name": "llm"},
            "spec": {"selector": {"app": "llm"}, "ports": [{"port": 80}]},
        },
        NS,
    )
    api.create(
        "deployments",
        {
            "metadata": {"name": "llm", "annotations": {SCALE_TO_ZERO_AFTER: "3s"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "llm"}},
                "template": {
                    "metadata": {"labels": {"app": "llm"}},
                    "spec": {"containers": [gpu_container()]},
                },
            },
        },
        NS,
    )

    def llm_pods() -> list[Obj]:
        return [
            p
            for p in api.list("pods", NS, label_selector="app=llm")["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]

    def ready_llm() -> Obj | None:
        for p in llm_pods():
            conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions") or []}
            if conds.get("Ready") == "True":
                return p
        return None

    first = wait_for(ready_llm, "the model server Ready", 30, diagnostics=cluster.logs)
    gpu = first["metadata"]["annotations"][GPU_UUIDS]
    wait_for(
        lambda: ACTIVATOR in (api.get("services", "llm", NS)["metadata"].get("annotations") or {}),
        "the Service marked for the activator",
        15,
    )
    # Another pod wants the only GPU: it waits while the model server holds it.
    api.create(
        "pods",
        {"metadata": {"name": "trainer"}, "spec": {"containers": [gpu_container()]}},
        NS,
    )
    assert not api.get("pods", "trainer", NS)["spec"].get("nodeName")

    def replicas() -> int:
        return int(api.get("deployments", "llm", NS)["spec"]["replicas"])

    wait_for(lambda: replicas() == 0, "scaled to zero", 30, diagnostics=cluster.logs)
    trainer = wait_for(
        lambda: (p := api.get("pods", "trainer", NS))["spec"].get("nodeName") and p,
        "the trainer scheduled on the freed GPU",
        30,
        diagnostics=cluster.logs,
    )
    assert trainer["metadata"]["annotations"][GPU_UUIDS] == gpu

    def reasons() -> list[str]:
        return [
            str(e.get("reason"))
            for e in api.list("events", NS)["items"]
            if (e.get("involvedObject") or {}).get("kind") == "Deployment"
        ]

    assert SLEPT in reasons()
    wait_for(lambda: not llm_pods(), "the model server's pod gone", 30)

    # A connection waits on this node: back to 1 at once.
    report = encode_activity({f"{NS}/llm": ServiceActivity(None, 1)})
    api.patch("nodes", NODE, {"metadata": {"annotations": {SERVICE_ACTIVITY: report}}})
    wait_for(lambda: replicas() == 1, "scaled from zero", 10, diagnostics=cluster.logs)
    assert WOKEN in reasons()
    (again,) = wait_for(llm_pods, "the new replica", 15)
    assert not again["spec"].get("nodeName")  # the GPU is the trainer's now
