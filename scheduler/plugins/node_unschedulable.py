"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes no new pods, unless
the pod tolerates the ``node.kubernetes.io/unschedulable`` taint (as DaemonSet pods do)."""

from __future__ import annotations

from scheduler.framework import Rejection
from scheduler.hints import NODE_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.plugins.taint_toleration import tolerated
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
REASON = "node(s) were unschedulable"


class NodeUnschedulable:
    """Keep pods off cordoned nodes."""

    name = "NodeUnschedulable"
    static = True
    # The events that can undo a rejection: a node is uncordoned (or added uncordoned).
    events = NODE_EVENTS

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        if node.unschedulable and not tolerated(pod.tolerations, UNSCHEDULABLE_TAINT):
            return Rejection((REASON,), "node is cordoned (spec.unschedulable)")
        return None
