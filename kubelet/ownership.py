"""Which containers on the engine are this kubelet's: the ownership decision, and the
cluster identity it rests on.

A container is ours when it carries this cluster's UID and this node's name. Two clusters
may share one Docker engine with the same node name (both named after the host), so the
node label alone proves nothing; a kubelet never stops, removes or adopts a container of
another cluster.

The cluster UID is the ``kube-system`` Namespace's uid, Kubernetes' own convention for a
cluster id: the apiserver creates that namespace at its first start and keeps it in its
store (``$KUBELAB_HOME/state.db``), and every kubelet, on this box or joined from another,
can read it from the API.

Containers made by a kubelab from before the cluster label ("legacy") carry only the node
label. One of those is adopted only when its pod uid is a pod bound to this node in this
cluster (a pod uid is a random UUID, so the match proves it); one that matches no pod is
left alone, since it may as well be another cluster's.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from api.errors import ApiError
from client import AsyncClient
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_NODE,
    LABEL_POD_UID,
    ContainerInfo,
    ContainerRuntime,
)

CLUSTER_ID_NAMESPACE = "kube-system"


class Owner(enum.Enum):
    """Whose a container is, seen from one kubelet."""

    OURS = "ours"  # this cluster and this node
    LEGACY = "legacy"  # this node's name, no cluster label (an older kubelab made it)
    OTHER_CLUSTER = "other-cluster"  # this node's name, another cluster's UID
    OTHER_NODE = "other-node"  # another node name (or no kubelab labels at all)


def owner(labels: Mapping[str, str], cluster_uid: str, node: str) -> Owner:
    """Classify a container by its labels for the kubelet of ``node`` in ``cluster_uid``."""
    if labels.get(LABEL_NODE) != node:
        return Owner.OTHER_NODE
    cluster = labels.get(LABEL_CLUSTER)
    if not cluster:
        return Owner.LEGACY
    return Owner.OURS if cluster == cluster_uid else Owner.OTHER_CLUSTER


def may_touch(
    labels: Mapping[str, str], cluster_uid: str, node: str, live: Collection[str]
) -> bool:
    """Whether the kubelet may stop, remove or adopt this container: ours, or a legacy one
    of a pod that is bound here (``live``: the uids of this node's pods)."""
    kind = owner(labels, cluster_uid, node)
    if kind is Owner.OURS:
        return True
    return kind is Owner.LEGACY and labels.get(LABEL_POD_UID, "") in live


class ClusterIdError(Exception):
    """The cluster UID cannot be learned from the API."""


async def fetch_cluster_uid(client: AsyncClient) -> str:
    """This cluster's UID: the uid of its ``kube-system`` Namespace."""
    try:
        ns = await client.get("namespaces", CLUSTER_ID_NAMESPACE)
    except ApiError as e:
        raise ClusterIdError(
            f"cannot read namespace {CLUSTER_ID_NAMESPACE} (the cluster's identity): {e}"
        ) from e
    uid = str((ns.get("metadata") or {}).get("uid") or "")
    if not uid:
        raise ClusterIdError(f"namespace {CLUSTER_ID_NAMESPACE} has no uid")
    return uid


async def pod_containers(
    runtime: ContainerRuntime, cluster_uid: str, node: str, pod_uid: str
) -> list[ContainerInfo]:
    """The containers of pod ``pod_uid`` that this kubelet may act on (ours, or legacy
    ones of this pod: the caller only asks about pods bound here)."""
    listed = await runtime.list({LABEL_POD_UID: pod_uid, LABEL_NODE: node})
    return [c for c in listed if may_touch(c.labels, cluster_uid, node, (pod_uid,))]


@dataclass
class StartupScan:
    """What a kubelet found on the engine at start, sorted by what it may do with it."""

    kept: list[ContainerInfo] = field(default_factory=list)  # ours (or legacy) of live pods
    orphans: list[ContainerInfo] = field(default_factory=list)  # ours, pod gone: remove
    adopted_legacy: list[ContainerInfo] = field(default_factory=list)  # legacy, pod here
    unclaimed_legacy: list[ContainerInfo] = field(default_factory=list)  # legacy, no pod
    other_cluster: list[ContainerInfo] = field(default_factory=list)  # never touched


def sort_startup_scan(
    containers: Iterable[ContainerInfo], cluster_uid: str, node: str, live: Collection[str]
) -> StartupScan:
    """Sort the containers labelled with this node's name (``live``: uids of the pods
    bound here). Only ``orphans`` are removed; ``kept`` are adopted by their pod workers."""
    scan = StartupScan()
    for c in containers:
        kind = owner(c.labels, cluster_uid, node)
        in_live = c.labels.get(LABEL_POD_UID, "") in live
        if kind is Owner.OURS:
            (scan.kept if in_live else scan.orphans).append(c)
        elif kind is Owner.LEGACY:
            if in_live:
                scan.kept.append(c)
                scan.adopted_legacy.append(c)
            else:
                scan.unclaimed_legacy.append(c)
        elif kind is Owner.OTHER_CLUSTER:
            scan.other_cluster.append(c)
    return scan
