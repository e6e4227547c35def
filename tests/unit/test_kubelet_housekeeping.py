"""Which containers housekeeping removes: ours (this cluster and node) whose pod is known
neither to the informer nor to a worker; never another cluster's, another node's or an
older kubelab's (no cluster label)."""

from __future__ import annotations

from kubelet.housekeeping import strays
from kubelet.runtime.base import LABEL_CLUSTER, LABEL_NODE, LABEL_POD_UID, ContainerInfo

CLUSTER, NODE = "c-1", "gpu-1"


def _c(cid: str, pod: str, *, cluster: str | None = CLUSTER, node: str = NODE) -> ContainerInfo:
    labels = {LABEL_NODE: node, LABEL_POD_UID: pod}
    if cluster is not None:
        labels[LABEL_CLUSTER] = cluster
    return ContainerInfo(id=cid, name=cid, labels=labels, state="running")


def test_only_our_containers_of_unknown_pods_are_strays() -> None:
    listed = [
        _c("known", "p-known"),
        _c("gone", "p-gone"),
        _c("other-cluster", "p-x", cluster="c-2"),
        _c("legacy", "p-y", cluster=None),
        _c("other-node", "p-z", node="gpu-2"),
    ]
    assert [c.id for c in strays(listed, CLUSTER, NODE, {"p-known"})] == ["gone"]


def test_nothing_is_a_stray_when_every_pod_is_known() -> None:
    listed = [_c("a", "p-1"), _c("b", "p-2")]
    assert strays(listed, CLUSTER, NODE, {"p-1", "p-2"}) == []
