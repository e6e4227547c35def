"""ReplicationController: the legacy core/v1 ReplicaSet, whose selector is a plain label
map (equality only). Run by the ReplicaSet controller's own logic on a view of the RC with
that map as ``matchLabels``; status goes back to the RC."""

from __future__ import annotations

from . import actions as A
from .objutil import Obj
from .replicaset import ReplicaSetController, reconcile

RESOURCE = "replicationcontrollers"


def as_replicaset(rc: Obj) -> Obj:
    """The RC with its selector map as a LabelSelector (the rest, kind and owner identity
    included, unchanged: pods made from it are owned by the RC)."""
    spec = dict(rc.get("spec") or {})
    selector = spec.get("selector")
    spec["selector"] = {"matchLabels": dict(selector)} if isinstance(selector, dict) else None
    return {**rc, "spec": spec}


def reconcile_rc(
    rc: Obj,
    pods: list[Obj],
    now: float,
    *,
    expectations_satisfied: bool = True,
    burst: int = 500,
) -> A.Result:
    """One step for ``rc``: the ReplicaSet reconcile, status written to the RC."""
    return reconcile(
        as_replicaset(rc),
        pods,
        now,
        expectations_satisfied=expectations_satisfied,
        burst=burst,
        resource=RESOURCE,
    )


class ReplicationControllerController(ReplicaSetController):
    """The ReplicaSet shell, for ReplicationControllers."""

    name = "replicationcontroller"
    kind = "ReplicationController"
    resource = RESOURCE

    def selector_of(self, owner: Obj) -> Obj | None:
        return (as_replicaset(owner).get("spec") or {}).get("selector")

    def reconcile(self, owner: Obj, pods: list[Obj], now: float, satisfied: bool) -> A.Result:
        return reconcile_rc(
            owner,
            pods,
            now,
            expectations_satisfied=satisfied,
            burst=self.ctx.options.burst_replicas,
        )
