"""A ReadOnlyMany model cache with one copy per box (``kubelab.io/node-cache``), on the
fake runtime with two kubelets as processes, each with its own --storage-dir: the first
pod on a box makes that box's copy (one fill per box; the fill itself is simulated by the
test writing the weights and the ``.complete`` marker), the kubelet then lists the copy
as complete on its Node, and a 3-replica Deployment lands where the copy is complete as
long as its replicas fit there; the one that does not fit makes the other box's copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)

Obj = dict[str, Any]
NS = "default"
SMALL, BIG = "cache-small", "cache-big"  # 2 CPUs and 8 CPUs


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("volumes")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Iterator[Cluster]:
    cl = Cluster(tmp_path_factory.mktemp("node-cache") / "home")
    try:
        cl.add_scheduler()
        for node, cpu in ((SMALL, "2"), (BIG, "8")):
            cl.add_kubelet(
                node, *FAST_KUBELET_FLAGS, "--storage-dir", str(root / node), "--capacity-cpu", cpu
            )
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.wait_nodes_ready(timeout=30)
        yield cl
    finally:
        cl.stop()


def _pod_spec(cpu: str | None, read_only: bool) -> Obj:
    container: Obj = {
        "name": "server",
        "image": "model-server",
        "volumeMounts": [{"name": "cache", "mountPath": "/models", "readOnly": read_only}],
    }
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {
        "containers": [container],
        "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": "weights"}}],
    }


def _copies(root: Path) -> dict[str, list[str]]:
    return {
        node: sorted(p.name for p in (root / node / "node-cache").glob("*"))
        if (root / node / "node-cache").is_dir()
        else []
        for node in (SMALL, BIG)
    }


def test_one_copy_per_box_and_replicas_go_where_it_is_complete(
    cluster: Cluster, root: Path
) -> None:
    c = cluster.client
    c.create(
        "storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "node-cache"},
            "provisioner": "kubelab.io/node-cache",
            "volumeBindingMode": "Immediate",
        },
    )
    c.create(
        "persistentvolumeclaims",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "weights"},
            "spec": {
                "accessModes": ["ReadOnlyMany"],
                "storageClassName": "node-cache",
                "resources": {"requests": {"storage": "20Gi"}},
            },
        },
        NS,
    )
    wait_for(
        lambda: (
            (c.get("persistentvolumeclaims", "weights", NS).get("status") or {}).get("phase")
            == "Bound"
        ),
        "the cache claim bound",
        30,
    )
    pv_name = c.get("persistentvolumeclaims", "weights", NS)["spec"]["volumeName"]
    pv = c.get("persistentvolumes", pv_name)
    assert "nodeAffinity" not in pv["spec"]  # every box may hold a copy
    assert _copies(root) == {SMALL: [], BIG: []}

    # The warm-up runs on the small box: its kubelet makes the copy there, empty.
    warmup: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "warmup"},
        "spec": {**_pod_spec(None, False), "nodeName": SMALL},
    }
    c.create("pods", warmup, NS)
    copy = root / SMALL / "node-cache" / pv_name
    wait_for(copy.is_dir, "the small box's copy made", 30)
    assert _copies(root) == {SMALL: [pv_name], BIG: []}
    # The fill (simulated data path): the weights, then the marker, last.
    (copy / "weights").write_bytes(b"w" * 4096)
    filled = (copy / "weights").stat()
    (copy / ".complete").touch()

    def complete_on_small() -> bool:
        ann = c.get("nodes", SMALL)["metadata"].get("annotations") or {}
        return ann.get("kubelab.io/complete-caches") == pv_name

    wait_for(complete_on_small, "the small box lists its complete copy", 30)
    assert "kubelab.io/complete-caches" not in (
        c.get("nodes", BIG)["metadata"].get("annotations") or {}
    )

    # 3 replicas of 900m: the small box (2 CPUs, cache complete) takes the two that fit,
    # although the big one has more room; the third goes to the big box and makes its copy.
    c.create(
        "deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "server"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "server"}},
                "template": {
                    "metadata": {"labels": {"app": "server"}},
                    "spec": _pod_spec("900m", True),
                },
            },
        },
        NS,
    )

    def placed() -> list[str] | None:
        pods = c.list("pods", NS, label_selector="app=server")["items"]
        nodes = sorted(p["spec"].get("nodeName") or "" for p in pods)
        return nodes if len(nodes) == 3 and all(nodes) else None

    nodes = wait_for(placed, "3 replicas placed", 60)
    assert nodes == [BIG, SMALL, SMALL], nodes
    wait_for(
        lambda: _copies(root) == {SMALL: [pv_name], BIG: [pv_name]},
        "the big box's copy made for its replica",
        30,
    )
    # The small box's copy was reused, not made or filled again.
    again = (copy / "weights").stat()
    assert (again.st_ino, again.st_mtime_ns, again.st_size) == (
        filled.st_ino,
        filled.st_mtime_ns,
        filled.st_size,
    )
    assert list((root / BIG / "node-cache" / pv_name).iterdir()) == []  # awaits its fill

    # The claim gone, its volume is deleted (reclaim Delete) and each box removes its copy.
    c.delete("deployments", "server", NS)
    c.delete("pods", "warmup", NS)
    c.delete("persistentvolumeclaims", "weights", NS)

    def left() -> str:
        pods = [p["metadata"]["name"] for p in c.list("pods", NS)["items"]]
        claims = [p["metadata"]["name"] for p in c.list("persistentvolumeclaims", NS)["items"]]
        pvs = [
            (p["metadata"]["name"], p.get("status")) for p in c.list("persistentvolumes")["items"]
        ]
        return f"pods {pods}, claims {claims}, volumes {pvs}, copies {_copies(root)}"

    wait_for(
        lambda: _copies(root) == {SMALL: [], BIG: []}, "both copies removed", 60, diagnostics=left
    )
    wait_for(lambda: not complete_on_small(), "the annotation cleared", 30)
