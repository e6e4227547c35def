"""Which containers a kubelet may touch: its cluster's and its node's, nothing else."""

from __future__ import annotations

from kubelet import containers as cs
from kubelet.ownership import Owner, may_touch, owner, sort_startup_scan
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_NODE,
    LABEL_POD_UID,
    ContainerInfo,
)

US, THEM = "cluster-a", "cluster-b"


def info(cid: str, pod_uid: str, node: str = "box", cluster: str | None = US) -> ContainerInfo:
    labels = {LABEL_NODE: node, LABEL_POD_UID: pod_uid}
    if cluster is not None:
        labels[LABEL_CLUSTER] = cluster
    return ContainerInfo(id=cid, name=cid, labels=labels, state="running")


def test_owner_needs_both_cluster_and_node() -> None:
    assert owner(info("a", "p").labels, US, "box") is Owner.OURS
    assert owner(info("a", "p", cluster=THEM).labels, US, "box") is Owner.OTHER_CLUSTER
    assert owner(info("a", "p", node="other").labels, US, "box") is Owner.OTHER_NODE
    assert owner(info("a", "p", cluster=None).labels, US, "box") is Owner.LEGACY
    assert owner({}, US, "box") is Owner.OTHER_NODE


def test_may_touch_another_clusters_container_never_even_with_a_live_pod_uid() -> None:
    theirs = info("a", "p1", cluster=THEM).labels
    assert not may_touch(theirs, US, "box", {"p1"})
    assert may_touch(info("a", "p1").labels, US, "box", set())  # ours, even if pod gone
    legacy = info("a", "p1", cluster=None).labels
    assert may_touch(legacy, US, "box", {"p1"})  # its pod is bound here: proof enough
    assert not may_touch(legacy, US, "box", {"p2"})


def test_startup_scan_removes_only_our_orphans() -> None:
    found = [
        info("ours-live", "p1"),
        info("ours-gone", "p-gone"),
        info("theirs-same-node", "q1", cluster=THEM),
        info("theirs-same-uid", "p1", cluster=THEM),
        info("legacy-live", "p2", cluster=None),
        info("legacy-unknown", "x", cluster=None),
    ]
    scan = sort_startup_scan(found, US, "box", {"p1", "p2"})
    assert [c.id for c in scan.orphans] == ["ours-gone"]
    assert [c.id for c in scan.kept] == ["ours-live", "legacy-live"]
    assert [c.id for c in scan.adopted_legacy] == ["legacy-live"]
    assert [c.id for c in scan.unclaimed_legacy] == ["legacy-unknown"]
    assert [c.id for c in scan.other_cluster] == ["theirs-same-node", "theirs-same-uid"]


def test_new_containers_carry_the_cluster_uid() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}, "spec": {}}
    labels = cs.container_labels("box", pod, {"name": "c", "image": "i"}, 0, cluster=US)
    assert labels[LABEL_CLUSTER] == US
    assert owner(labels, US, "box") is Owner.OURS


def test_a_name_clash_replaces_only_this_pods_leftover() -> None:
    from kubelet.runtime.docker import same_pod_container

    wanted = info("new", "p1").labels
    assert same_pod_container(info("old", "p1").labels, wanted)
    assert same_pod_container(info("old", "p1", cluster=None).labels, wanted)  # older kubelab
    assert not same_pod_container(info("old", "p1", cluster=THEM).labels, wanted)
    assert not same_pod_container(info("old", "p2").labels, wanted)
    assert not same_pod_container({}, wanted)
