"""Disruption controller: keeps every PodDisruptionBudget's status (expectedPods,
currentHealthy, desiredHealthy, disruptionsAllowed, disruptedPods, the DisruptionAllowed
condition) in step with the pods it selects, as kube-controller-manager's does.

The eviction subresource spends ``disruptionsAllowed`` and records the evicted pod in
``disruptedPods``; this controller forgets a recorded pod once it is seen going away (or
after ``DELETION_TIMEOUT``, when the eviction's delete never happened), and until then
does not count it as healthy, so one disruption is not handed out twice.

Expected pods: for an integer ``minAvailable``, the selected pods; for a percentage or
``maxUnavailable``, the replicas their ReplicaSets or StatefulSets want (a pod with neither
counts as one), so a pod already gone still counts as missing. ``budget_status`` is pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from api.disruption import selects, set_allowed_condition

from . import actions as A
from .base import Controller, apply_all
from .objutil import (
    Obj,
    format_time,
    is_deleting,
    key_of,
    labels_of,
    meta,
    name_of,
    namespace_of,
    parse_time,
)
from .podutil import TERMINAL_PHASES, is_ready, phase

# How long an eviction's pod may stay in disruptedPods without being seen deleted.
DELETION_TIMEOUT = 120.0


def _scaled(value: int | str, expected: int, round_up: bool) -> int:
    """An IntOrString against ``expected`` pods (percentages rounded as upstream)."""
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * expected / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def _controller_uid(pod: Obj) -> tuple[str, str] | None:
    for ref in meta(pod).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("uid", ""))
    return None


# The controllers whose scale ``expectedPods`` reads (getExpectedScale; Deployments through
# their ReplicaSets).
SCALED_KINDS = ("ReplicaSet", "StatefulSet")


def owner_replicas(owners: Iterable[Obj]) -> Callable[[str, str], int | None]:
    """``replicas_of(kind, uid)`` over the ReplicaSets and StatefulSets ``owners``."""
    by_uid = {meta(o).get("uid"): o for o in owners if o.get("kind") in SCALED_KINDS}

    def replicas(kind: str, uid: str) -> int | None:
        o = by_uid.get(uid)
        if o is None or o.get("kind") != kind:
            return None
        return int((o.get("spec") or {}).get("replicas", 1))

    return replicas


def expected_count(pdb: Obj, pods: list[Obj], replicas_of: Callable[[str, str], int | None]) -> int:
    """How many pods the budget protects when all are up."""
    spec = pdb.get("spec") or {}
    min_available = spec.get("minAvailable")
    if spec.get("maxUnavailable") is None and not isinstance(min_available, str):
        return len(pods)
    total, seen = 0, set()
    for p in pods:
        ctrl = _controller_uid(p)
        wanted = replicas_of(*ctrl) if ctrl else None
        if ctrl is None or wanted is None:
            total += 1
        elif ctrl not in seen:
            seen.add(ctrl)
            total += wanted
    return total


def desired_healthy(pdb: Obj, expected: int) -> int:
    """How many pods must stay healthy (0 when the budget names neither bound)."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        return max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
    if spec.get("minAvailable") is not None:
        return _scaled(spec["minAvailable"], expected, round_up=True)
    return 0


def budget_status(
    pdb: Obj,
    pods: Iterable[Obj],
    replicas_of: Callable[[str, str], int | None],
    now: float,
) -> tuple[Obj, float | None]:
    """The status the budget should have, and when to look again (a recorded eviction
    that has not been seen happening yet times out)."""
    ns = namespace_of(pdb)
    selected = [
        p
        for p in pods
        if namespace_of(p) == ns and phase(p) not in TERMINAL_PHASES and selects(pdb, labels_of(p))
    ]
    old = pdb.get("status") or {}
    by_name = {name_of(p): p for p in selected}
    disrupted: dict[str, str] = {}
    recheck: float | None = None
    for pod_name, when in (old.get("disruptedPods") or {}).items():
        p = by_name.get(pod_name)
        at = parse_time(when)
        if p is None or is_deleting(p) or at is None:
            continue  # the eviction happened (or the record is garbage)
        expires = at + DELETION_TIMEOUT - now
        if expires <= 0:
            continue  # its delete never came: count the pod again
        disrupted[pod_name] = when
        recheck = expires if recheck is None else min(recheck, expires)
    healthy = sum(
        1 for p in selected if is_ready(p) and not is_deleting(p) and name_of(p) not in disrupted
    )
    expected = expected_count(pdb, selected, replicas_of)
    desired = desired_healthy(pdb, expected)
    status: Obj = {
        "observedGeneration": meta(pdb).get("generation"),
        "disruptionsAllowed": max(0, healthy - desired),
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": list(old.get("conditions") or []),
    }
    if status["observedGeneration"] is None:
        del status["observedGeneration"]
    if disrupted:
        status["disruptedPods"] = disrupted
    set_allowed_condition(status, status["disruptionsAllowed"] > 0, format_time(now))
    return status, recheck


def reconcile(
    pdb: Obj, pods: Iterable[Obj], replicas_of: Callable[[str, str], int | None], now: float
) -> A.Result:
    """A status write when the budget's status is not what its pods say."""
    status, recheck = budget_status(pdb, pods, replicas_of, now)
    res = A.Result()
    if recheck is not None:
        res.requeue(recheck)
    if status != (pdb.get("status") or {}):
        # A replace, carrying the resourceVersion read: an eviction that spent a disruption
        # meanwhile makes it fail (409), and the key is looked at again with its write.
        body = {**pdb, "status": status}
        res.actions.append(
            A.Action(
                "replace",
                "poddisruptionbudgets",
                namespace_of(pdb),
                name_of(pdb),
                body=body,
                subresource="status",
            )
        )
    return res


class DisruptionController(Controller):
    """One key per PodDisruptionBudget; pods and ReplicaSets say which to look at."""

    name = "disruption"

    def setup(self) -> None:
        self.pdbs = self.ctx.index("poddisruptionbudgets")
        self.pods = self.ctx.index("pods")
        self.replicasets = self.ctx.index("replicasets")
        self.statefulsets = self.ctx.index("statefulsets")
        self.pdbs.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
        )
        self.pods.informer.add_handler(
            on_add=lambda p: self._pod_changed(p, None),
            on_update=lambda o, n: self._pod_changed(n, o),
            on_delete=lambda p: self._pod_changed(p, None),
        )
        for scaled in (self.replicasets, self.statefulsets):
            scaled.informer.add_handler(
                on_update=lambda o, n: self._budgets_of_namespace(namespace_of(n)),
            )

    def _pod_changed(self, pod: Obj, old: Obj | None) -> None:
        label_sets = [labels_of(pod)] + ([labels_of(old)] if old is not None else [])
        for pdb in self.pdbs.in_namespace(namespace_of(pod)):
            if any(selects(pdb, ls) for ls in label_sets):
                self.enqueue(key_of(pdb))

    def _budgets_of_namespace(self, ns: str | None) -> None:
        for pdb in self.pdbs.in_namespace(ns):
            self.enqueue(key_of(pdb))

    def _replicas_of(self, ns: str | None) -> Callable[[str, str], int | None]:
        return owner_replicas(
            [*self.replicasets.in_namespace(ns), *self.statefulsets.in_namespace(ns)]
        )

    async def sync(self, key: str) -> float | None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None
        pdb = self.ctx.overlay.latest("poddisruptionbudgets", pdb)
        ns = namespace_of(pdb)
        res = reconcile(pdb, self.pods.in_namespace(ns), self._replicas_of(ns), self.ctx.clock())
        await apply_all(self.ctx, res.actions)
        return res.requeue_after
