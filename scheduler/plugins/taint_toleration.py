"""TaintToleration: a node's NoSchedule/NoExecute taints keep off pods that do not
tolerate them (filter); untolerated PreferNoSchedule taints lower the score."""

from __future__ import annotations

from typing import Any

from api.placement import tolerated, tolerates
from scheduler.framework import Rejection
from scheduler.hints import NODE_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo

Obj = dict[str, Any]

_FILTER_EFFECTS = ("NoSchedule", "NoExecute")
# The toleration rule lives in api.placement, shared with the DaemonSet controller.
__all__ = ["TaintToleration", "taint_text", "tolerated", "tolerates"]


def taint_text(taint: Obj) -> str:
    """``{key: value}`` as kube-scheduler prints a taint."""
    return f"{{{taint.get('key', '')}: {taint.get('value') or ''}}}"


class TaintToleration:
    """Filter on NoSchedule/NoExecute taints; score by untolerated PreferNoSchedule taints."""

    name = "TaintToleration"
    static = True
    # The events that can undo a rejection: a node without the untolerated taints.
    events = NODE_EVENTS
    weight = 3

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        for taint in node.taints:
            if taint.get("effect") in _FILTER_EFFECTS and not tolerated(pod.tolerations, taint):
                return Rejection(
                    (f"node(s) had untolerated taint {taint_text(taint)}",),
                    f"taint {taint.get('key')}={taint.get('value') or ''}:{taint.get('effect')}",
                )
        return None

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        """100 with no untolerated PreferNoSchedule taint, less for each one."""
        prefer = [
            t
            for t in pod.tolerations
            if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"
        ]
        count = sum(
            1
            for taint in node.taints
            if taint.get("effect") == "PreferNoSchedule" and not tolerated(prefer, taint)
        )
        return 100 // (1 + count)
