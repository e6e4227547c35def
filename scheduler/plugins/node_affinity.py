"""NodeAffinity: ``spec.nodeSelector`` and required node affinity
(``requiredDuringSchedulingIgnoredDuringExecution``: terms ORed, each term's
matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt ANDed), so a pod can ask for a GPU
model by the kubelet's ``nvidia.com/gpu.product`` / ``nvidia.com/gpu.memory`` labels."""

from __future__ import annotations

from api.selectors import match_node_selector_terms
from scheduler.framework import Rejection
from scheduler.hints import NODE_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo

REASON = "node(s) didn't match Pod's node affinity/selector"


class NodeAffinity:
    """Filter nodes by the pod's node selector and required node affinity."""

    name = "NodeAffinity"
    static = True
    # The events that can undo a rejection: a node with the labels the pod selects.
    events = NODE_EVENTS

    def relevant(self, pod: PodInfo) -> bool:
        return bool(pod.node_selector) or pod.required_affinity is not None

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        labels = node.labels
        for key, value in pod.node_selector.items():
            if labels.get(key) != value:
                have = labels.get(key)
                detail = f"nodeSelector {key}={value}, node has " + (
                    f"{key}={have}" if have is not None else f"no {key} label"
                )
                return Rejection((REASON,), detail)
        if pod.required_affinity is not None:
            terms = pod.required_affinity.get("nodeSelectorTerms") or []
            if not match_node_selector_terms(terms, node.node):
                return Rejection(
                    (REASON,), "required node affinity does not match the node's labels"
                )
        return None
