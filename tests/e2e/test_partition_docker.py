"""A network partition between a kubelet and the apiserver (issue 26 item 2), on the real
engine: the cut-off node keeps running its pod's containers; the node goes NotReady after
its grace period and its pod is replaced on another node; when the partition heals, the
old copy is stopped and exactly the desired number of replicas remains.

The partition is a TCP relay the test controls (tests/netcut.py) between the kubelet and
the apiserver, on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from kubelet.runtime.base import LABEL_NODE, LABEL_POD_UID
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.netcut import NetCut
from tests.wait import wait_for

pytestmark = pytest.mark.docker


def replicaset(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
                },
            },
        },
    }


def test_a_partitioned_node_is_replaced_and_rejoins_without_a_double(tmp_path: Path) -> None:
    import docker

    dc = docker.from_env()
    ensure_busybox_image(dc)
    cut_node = f"cut-{uuid.uuid4().hex[:6]}"
    with Cluster(tmp_path / "home") as cl, NetCut(cl.api.port) as net:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        kc = net.kubeconfig(cl.api.kubeconfig, tmp_path / "cut.kubeconfig")
        cl.add_kubelet(
            cut_node, *FAST_KUBELET_FLAGS, "--kubeconfig", str(kc), runtime="docker",
            root_dir=tmp_path / "kubelet",
        )  # fmt: skip
        cl.add_kubelet("spare", *FAST_KUBELET_FLAGS)
        cl.wait_nodes_ready(cut_node, "spare")
        api = cl.api.client()
        api.patch("nodes", "spare", {"spec": {"unschedulable": True}})  # the pod goes to cut_node
        api.create("replicasets", replicaset("web"), "default")

        def pod_on(node: str) -> dict[str, Any] | None:
            for p in api.list("pods", "default", label_selector="app=web")["items"]:
                if p["spec"].get("nodeName") == node and p["status"].get("phase") == "Running":
                    return p
            return None

        first = wait_for(lambda: pod_on(cut_node), "the pod running on the node to be cut", 60)
        uid = first["metadata"]["uid"]

        def containers() -> list[Any]:
            return [
                c
                for c in dc.containers.list(filters={"label": f"{LABEL_POD_UID}={uid}"})
                if c.labels.get(LABEL_NODE) == cut_node
            ]

        assert containers()
        api.patch("nodes", "spare", {"spec": {"unschedulable": False}})
        net.cut()

        def not_ready() -> bool:
            node = api.get("nodes", cut_node)
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            return bool(ready) and ready[0]["status"] != "True"

        wait_for(not_ready, "the cut-off node NotReady", 30)
        wait_for(lambda: pod_on("spare"), "the replacement running on the spare node", 60)
        # Cut off, the kubelet cannot know: its pod's container is still there, running.
        assert containers(), "the partitioned node stopped its pod on its own"

        net.heal()
        healed_at = time.monotonic()
        wait_for(lambda: not containers(), "the old copy stopped once the partition healed", 60)
        wait_for(lambda: not not_ready(), "the node Ready again", 30)

        def settled() -> list[dict[str, Any]] | None:
            pods = api.list("pods", "default", label_selector="app=web")["items"]
            return pods if len(pods) == 1 else None

        (only,) = wait_for(settled, "exactly the desired replicas", 30)
        converge = time.monotonic() - healed_at
        print(f"\nkubelet partition: time to converge after the partition heals: {converge:.2f} s")
        assert only["spec"]["nodeName"] == "spare"
    for c in dc.containers.list(all=True, filters={"label": f"{LABEL_NODE}={cut_node}"}):
        c.remove(force=True)
    dc.close()
