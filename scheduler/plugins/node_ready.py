"""NodeReady: skip nodes whose Ready condition is not True (NotReady or Unknown), unless
the pod tolerates the ``node.kubernetes.io/not-ready`` taint the way critical pods do."""

from __future__ import annotations

from scheduler.framework import Rejection
from scheduler.hints import NODE_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.plugins.taint_toleration import tolerated
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
REASON = "node(s) were not ready"


class NodeReady:
    """Keep pods off nodes that are not Ready."""

    name = "NodeReady"
    static = True
    # The events that can undo a rejection: a node turns Ready.
    events = NODE_EVENTS

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        if not node.ready and not tolerated(pod.tolerations, NOT_READY_TAINT):
            return Rejection((REASON,), node.not_ready_reason)
        return None
