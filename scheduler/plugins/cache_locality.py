"""NodeCacheLocality: prefer the nodes that already hold a complete copy of the pod's
node-cache volumes (``kubelab.io/node-cache``, a ReadOnlyMany model cache with one copy
per box), so a new replica reads weights already on the box instead of filling another
copy. Only a score: a pod that does not fit there goes elsewhere and fills a copy there.

A node's complete copies are what its kubelet lists in the annotation
``kubelab.io/complete-caches`` (kubelet/node_caches.py); the pod's node-cache volumes are
resolved by VolumeBinding into its constraints (``VolumeConstraint.cache``). Static: it
reads only the node object and the pod, and the annotation is part of the node's static
key, so a copy that completes invalidates the cached scores.
"""

from __future__ import annotations

from api.storage import NODE_CACHES_ANNOTATION
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo


def caches_of(pod: PodInfo) -> list[str]:
    return [c.cache for c in pod.volumes if c.cache]


def complete_on(node: NodeInfo) -> set[str]:
    raw = ((node.node.get("metadata") or {}).get("annotations") or {}).get(NODE_CACHES_ANNOTATION)
    return {name for name in str(raw or "").split(",") if name}


def cache_score(wanted: list[str], complete: set[str]) -> int:
    """100 when every cache the pod mounts is complete on the node, in proportion else."""
    if not wanted:
        return 0
    return 100 * sum(1 for name in wanted if name in complete) // len(wanted)


class NodeCacheLocality:
    name = "NodeCacheLocality"
    static = True
    # Outweighs spreading (resources, weight 1) and PreferNoSchedule taints (3): a copy
    # already on the box saves a download of the whole model.
    weight = 4

    def relevant(self, pod: PodInfo) -> bool:
        return any(c.cache for c in pod.volumes)

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        return cache_score(caches_of(pod), complete_on(node))
