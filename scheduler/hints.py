"""Queueing hints: which cluster events can make a pod that was rejected schedulable.

As kube-scheduler's ``QueueingHintFn``: every filter plugin declares the event kinds that
can undo its rejections (``events``) and, for each, a pure ``queueing_hint(pod, event)``
saying ``QUEUE`` (this event may help the pod) or ``SKIP`` (it cannot). A pod parked as
unschedulable remembers the plugins that rejected it on some node; an event moves it back
to the active queue only when one of those plugins says ``QUEUE``
(``Framework.may_help``), so a node that is too small, or lacks the labels a pod selects,
wakes nobody up.

Every event here concerns one node (added, changed, or a pod on it gone), and a pod that
fits nowhere can only become schedulable on that node: so the hints ask "does this
plugin now pass on the event's node?". Queueing too much only costs an attempt; skipping
wrongly would strand a pod, which the queue's periodic flush still catches.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Protocol

from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo


class EventKind(enum.Enum):
    NODE_ADD = "NodeAdd"
    NODE_UPDATE = "NodeUpdate"  # a scheduling-relevant field changed (labels, taints, ...)
    ASSIGNED_POD_DELETE = "AssignedPodDelete"  # a pod on the node went away or finished


class QueueingHint(enum.Enum):
    QUEUE = "Queue"
    SKIP = "Skip"


NODE_EVENTS = frozenset({EventKind.NODE_ADD, EventKind.NODE_UPDATE})
ALL_EVENTS = frozenset(EventKind)


class ClusterEvent(NamedTuple):
    """What changed: the kind, and the node as it now stands."""

    kind: EventKind
    node: NodeInfo


class Filter(Protocol):
    def filter(self, pod: PodInfo, node: NodeInfo) -> object | None: ...


def hint_if_passes(plugin: Filter, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
    """``QUEUE`` when ``plugin``'s filter now lets ``pod`` onto the event's node."""
    return QueueingHint.QUEUE if plugin.filter(pod, event.node) is None else QueueingHint.SKIP
