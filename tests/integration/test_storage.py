"""Storage end to end on the fake runtime (real apiserver, scheduler, controller manager
and two kubelets as processes, each kubelet with its own --storage-dir): WaitForFirstConsumer
provisioning by local-path, a pod pinned to its volume's node (and the scheduler saying
why elsewhere fails), Immediate binding to the smallest fitting PV, the unbound-claim
message, pvc-protection, and reclaim Delete (PV and directory gone) against Retain (kept,
Released)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client import ApiError
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)

Obj = dict[str, Any]
NODES = ("store-a", "store-b")


@pytest.fixture(scope="module")
def storage_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("volumes")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, storage_root: Path) -> Iterator[Cluster]:
    cl = Cluster(tmp_path_factory.mktemp("storage") / "home")
    try:
        cl.add_scheduler()
        for node in NODES:
            cl.add_kubelet(node, *FAST_KUBELET_FLAGS, "--storage-dir", str(storage_root / node))
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.wait_nodes_ready(timeout=30)
        yield cl
    finally:
        cl.stop()


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-").lower()[:50].strip("-")
    cluster.client.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def claim(name: str, size: str = "1Gi", **spec: Any) -> Obj:
    body: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": body,
    }


def pod(name: str, claim_name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
            **spec,
        },
    }


def storage_class(name: str, **fields: Any) -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
        **fields,
    }


def get(c: Any, resource: str, name: str, ns: str | None = None) -> Obj | None:
    try:
        out: Obj = c.get(resource, name, ns)
        return out
    except ApiError as e:
        if e.code == 404:
            return None
        raise


def phase(obj: Obj | None) -> str:
    return str(((obj or {}).get("status") or {}).get("phase") or "")


def wait_running(c: Any, ns: str, name: str) -> Obj:
    def running() -> Obj | None:
        p = get(c, "pods", name, ns)
        return p if phase(p) == "Running" else None

    return wait_for(running, f"pod {name} Running", 30)


def provision(c: Any, ns: str, claim_name: str, pod_name: str, **pod_spec: Any) -> tuple[Obj, Obj]:
    c.create("persistentvolumeclaims", claim(claim_name), ns)
    c.create("pods", pod(pod_name, claim_name, **pod_spec), ns)
    running = wait_running(c, ns, pod_name)
    pvc = c.get("persistentvolumeclaims", claim_name, ns)
    assert phase(pvc) == "Bound", pvc
    assert (
        pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"]
        == (running["spec"]["nodeName"])
    )
    return running, c.get("persistentvolumes", pvc["spec"]["volumeName"])


def test_wait_for_first_consumer_provisions_on_the_pods_node_and_pins_it(
    cluster: Cluster, ns: str, storage_root: Path
) -> None:
    c = cluster.client
    c.create("persistentvolumeclaims", claim("data"), ns)

    # No consumer yet: the claim waits, with the event Kubernetes gives.
    def waiting_event() -> bool:
        events = c.list("events", ns)["items"]
        return any(e["reason"] == "WaitForFirstConsumer" for e in events)

    wait_for(waiting_event, "WaitForFirstConsumer event", 60)
    assert phase(c.get("persistentvolumeclaims", "data", ns)) == "Pending"

    c.create("pods", pod("writer", "data"), ns)
    writer = wait_running(c, ns, "writer")
    node = writer["spec"]["nodeName"]
    pvc = c.get("persistentvolumeclaims", "data", ns)
    assert phase(pvc) == "Bound"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert pvc["status"]["capacity"] == {"storage": "1Gi"}
    pv = c.get("persistentvolumes", pvc["spec"]["volumeName"])
    assert phase(pv) == "Bound"
    assert pv["spec"]["storageClassName"] == "local-path"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    path = Path(pv["spec"]["local"]["path"])
    assert path.parent == storage_root / node
    assert path.name == f"{pv['metadata']['name']}_{ns}_data"
    assert path.is_dir()  # made by the node's kubelet
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]

    def capacity_warning() -> Obj | None:
        for e in c.list("events", "default")["items"]:
            if (
                e["reason"] == "CapacityNotEnforced"
                and e["involvedObject"]["name"] == pv["metadata"]["name"]
            ):
                return e
        return None

    warning = wait_for(capacity_warning, "the capacity warning on the PV", 15)
    # The Binding waited for the volume (as kube-scheduler's PreBind): the kubelet never
    # found the claim unbound. Checked once the kubelet's own events for the pod are in.
    mine = [e for e in c.list("events", ns)["items"] if e["involvedObject"]["name"] == "writer"]
    assert any(e["reason"] == "Started" for e in mine), mine
    assert not [e for e in mine if e["reason"] == "FailedMount"], mine
    assert warning["type"] == "Warning"
    assert "capacity not enforced on this filesystem" in warning["message"]

    # A pod on the other node cannot have the volume: the scheduler says where it lives.
    other = next(n for n in NODES if n != node)
    c.create("pods", pod("elsewhere", "data", nodeSelector={"kubernetes.io/hostname": other}), ns)

    def unschedulable() -> str | None:
        for cond in (c.get("pods", "elsewhere", ns).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                return str(cond.get("message"))
        return None

    message = wait_for(unschedulable, "elsewhere reported unschedulable", 20)
    assert f"volume data lives on node {node}" in message, message
    # kl why reads the scheduler's per-node reasons: the volume's node is named there too.
    reasons = c.get("pods", "elsewhere", ns)["metadata"]["annotations"]
    assert f"volume data lives on node {node}" in reasons["kubelab.io/scheduling-reasons"]
    # kl shows the same: the claim bound, who uses it, where the volume lives, and why.
    cfg = cluster.api.kubeconfig
    described = kl(cfg, "describe", "pvc", "data", "-n", ns).ok().out
    assert "Status:" in described and "Bound" in described
    assert "Used By:" in described and "writer" in described
    described = kl(cfg, "describe", "pv", pv["metadata"]["name"]).ok().out
    assert f"kubernetes.io/hostname in [{node}]" in described
    assert "CapacityNotEnforced" in described  # the PV's events
    assert "local-path (default)" in kl(cfg, "get", "sc").ok().out
    assert f"volume data lives on node {node}" in kl(cfg, "why", "elsewhere", "-n", ns).ok().out
    # Without a selector, every later pod of the claim goes to the volume's node.
    c.delete("pods", "writer", ns, grace_period_seconds=0)
    c.create("pods", pod("reader", "data"), ns)
    assert wait_running(c, ns, "reader")["spec"]["nodeName"] == node


def test_unbound_immediate_claim_and_smallest_fitting_volume(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    manual = f"manual-{ns}"[:60]
    c.create(
        "storageclasses",
        {
            **storage_class(manual),
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
        },
    )
    c.create("persistentvolumeclaims", claim("want", "7Gi", storageClassName=manual), ns)
    c.create("pods", pod("blocked", "want"), ns)

    def message() -> str | None:
        for cond in (c.get("pods", "blocked", ns).get("status") or {}).get("conditions") or []:
            if cond.get("reason") == "Unschedulable":
                return str(cond.get("message"))
        return None

    text = wait_for(message, "blocked reported unschedulable", 20)
    assert "pod has unbound immediate PersistentVolumeClaims" in text, text

    def volume(name: str, size: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": manual,
                "hostPath": {"path": "/tmp"},
            },
        }

    # Of the free volumes, the smallest that fits.
    for name, size in ((f"{ns}-big", "10Gi"), (f"{ns}-fit", "5Gi"), (f"{ns}-small", "2Gi")):
        c.create("persistentvolumes", volume(name, size))
    c.create("persistentvolumeclaims", claim("sized", "4Gi", storageClassName=manual), ns)

    def bound(name: str) -> Obj | None:
        pvc = c.get("persistentvolumeclaims", name, ns)
        return pvc if phase(pvc) == "Bound" else None

    assert wait_for(lambda: bound("sized"), "sized bound", 20)["spec"]["volumeName"] == f"{ns}-fit"
    assert phase(c.get("persistentvolumes", f"{ns}-fit")) == "Bound"
    # The waiting claim (7Gi) gets the only one big enough for it, whatever the order, and its
    # pod is scheduled once it is bound.
    assert wait_for(lambda: bound("want"), "want bound", 20)["spec"]["volumeName"] == f"{ns}-big"
    assert phase(c.get("persistentvolumes", f"{ns}-small")) == "Available"
    wait_running(c, ns, "blocked")
    # A manual volume keeps its data (Retain, the default): Released once the claim goes.
    c.delete("pods", "blocked", ns, grace_period_seconds=0)
    c.delete("persistentvolumeclaims", "want", ns)
    wait_for(
        lambda: phase(get(c, "persistentvolumes", f"{ns}-big")) == "Released",
        "the manual PV Released",
        20,
    )


def test_claim_in_use_is_kept_until_its_pod_is_gone_then_delete_reclaims(
    cluster: Cluster, ns: str
) -> None:
    c = cluster.client
    _, pv = provision(c, ns, "scratch", "user")
    path = Path(pv["spec"]["local"]["path"])
    (path / "weights.bin").write_bytes(b"x" * 1024)
    c.delete("persistentvolumeclaims", "scratch", ns)
    pvc = c.get("persistentvolumeclaims", "scratch", ns)
    assert pvc["metadata"]["deletionTimestamp"]
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    # While the pod runs, the claim stays (a sleep cannot prove a negative quickly; the
    # controller has seen the claim's deletion by the time its pod list is read, so look
    # that the volume is still Bound and the data there).
    assert phase(c.get("persistentvolumes", pv["metadata"]["name"])) == "Bound"
    assert (path / "weights.bin").exists()
    c.delete("pods", "user", ns, grace_period_seconds=0)
    wait_for(lambda: get(c, "persistentvolumeclaims", "scratch", ns) is None, "claim gone", 20)
    wait_for(
        lambda: get(c, "persistentvolumes", pv["metadata"]["name"]) is None,
        "the provisioned PV deleted (reclaim Delete)",
        20,
    )
    assert not path.exists()  # its kubelet removed the data


def test_retain_keeps_the_data_and_marks_the_volume_released(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    keep = f"keep-{ns}"[:60]
    c.create("storageclasses", storage_class(keep, reclaimPolicy="Retain"))
    c.create("persistentvolumeclaims", claim("kept", storageClassName=keep), ns)
    c.create("pods", pod("holder", "kept"), ns)
    wait_running(c, ns, "holder")
    pvc = c.get("persistentvolumeclaims", "kept", ns)
    pv = c.get("persistentvolumes", pvc["spec"]["volumeName"])
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    path = Path(pv["spec"]["local"]["path"])
    (path / "keep.txt").write_text("data")
    c.delete("pods", "holder", ns, grace_period_seconds=0)
    c.delete("persistentvolumeclaims", "kept", ns)
    wait_for(
        lambda: phase(get(c, "persistentvolumes", pv["metadata"]["name"])) == "Released",
        "the Retain PV Released",
        20,
    )
    assert (path / "keep.txt").read_text() == "data"
