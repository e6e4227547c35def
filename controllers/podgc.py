"""Pod garbage collection, as kube-controller-manager's PodGC does it.

- **Orphaned pods**: a pod bound to a node that no longer exists (``kl delete node`` of a
  dead box) has no kubelet to finish it; it would stay Terminating, or Running, for ever.
  Once the node has been missing for a quarantine period (and the API confirms it), its
  pods are deleted at once (grace period 0), so their controllers count them gone.
- **Terminated pods** beyond ``--terminated-pod-gc-threshold`` (12,500 by default, 0 turns
  it off): the oldest Succeeded or Failed pods are deleted, so finished Job pods do not
  pile up without bound.

The decisions are pure functions of the cached pods, the known nodes and the time.
"""

from __future__ import annotations

from collections.abc import Iterable

from client import ApiError

from . import actions as A
from .base import Controller, apply_all
from .objutil import Obj, creation_time, is_deleting, name_of, namespace_of
from .podutil import TERMINAL_PHASES, node_name, phase

KEY = "podgc"


def missing_nodes(
    pods: Iterable[Obj], nodes: set[str], first_missed: dict[str, float], now: float
) -> dict[str, float]:
    """Nodes that pods are bound to but that do not exist, with when each was first seen
    missing (carried over from ``first_missed``)."""
    out: dict[str, float] = {}
    for p in pods:
        n = node_name(p)
        if n and n not in nodes and n not in out:
            out[n] = first_missed.get(n, now)
    return out


def orphan_deletions(pods: Iterable[Obj], gone: set[str]) -> list[A.Action]:
    """Force-delete the pods bound to nodes confirmed gone."""
    return [
        A.delete("pods", namespace_of(p), name_of(p), grace_period_seconds=0)
        for p in pods
        if node_name(p) in gone
    ]


def terminated_deletions(pods: Iterable[Obj], threshold: int) -> list[A.Action]:
    """Delete the oldest terminated pods beyond ``threshold`` (0: keep them all)."""
    if threshold <= 0:
        return []
    done = [p for p in pods if phase(p) in TERMINAL_PHASES and not is_deleting(p)]
    extra = len(done) - threshold
    if extra <= 0:
        return []
    done.sort(key=lambda p: (creation_time(p), namespace_of(p) or "", name_of(p)))
    return [A.delete("pods", namespace_of(p), name_of(p)) for p in done[:extra]]


class PodGCController(Controller):
    """One key, looked at every ``pod_gc_period`` seconds."""

    name = "podgc"

    def setup(self) -> None:
        self.pods = self.ctx.index("pods")
        self.nodes = self.ctx.index("nodes")
        self.first_missed: dict[str, float] = {}
        # Look soon after start, then on the period; a deleted node is also a reason.
        self.nodes.informer.add_handler(on_delete=lambda _: self.enqueue(KEY))
        self.enqueue(KEY)

    async def _confirmed_gone(self, node: str) -> bool:
        """The cache may lag: ask the API before deleting anything for a missing node."""
        try:
            await self.ctx.client.get("nodes", node)
        except ApiError as e:
            if e.code == 404:
                return True
            raise
        return False

    async def sync(self, key: str) -> float | None:
        opts = self.ctx.options
        now = self.ctx.clock()
        pods = self.pods.informer.list()
        nodes = {name_of(n) for n in self.nodes.informer.list()}
        self.first_missed = missing_nodes(pods, nodes, self.first_missed, now)
        gone = set()
        for node, since in self.first_missed.items():
            if now - since >= opts.pod_gc_orphan_quarantine and await self._confirmed_gone(node):
                gone.add(node)
        actions = orphan_deletions(pods, gone)
        actions += terminated_deletions(pods, opts.terminated_pod_gc_threshold)
        await apply_all(self.ctx, actions)
        return opts.pod_gc_period
