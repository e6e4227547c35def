"""ClusterRole aggregation, as kube-controller-manager's clusterrole-aggregation controller.

A ClusterRole with an ``aggregationRule`` holds the union of the rules of every other
ClusterRole its selectors match: label a ClusterRole
``rbac.authorization.k8s.io/aggregate-to-view: "true"`` and its rules join ``view`` (and,
through ``view``'s own label, ``edit`` and ``admin``). Any ClusterRole change may change
any aggregate, so every aggregated ClusterRole is looked at again; the decision is the
pure ``aggregation_patch`` of the cached roles, and a chain (view -> edit -> admin)
settles as each write comes back through the informer.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.rbac_rules import aggregated_rules

from . import actions as A
from .base import Controller, apply_all
from .objutil import Obj, name_of


def aggregation_patch(role: Obj, cluster_roles: Iterable[Obj]) -> A.Action | None:
    """The write that makes an aggregated ClusterRole's rules the union of the roles it
    selects; None when it is not aggregated or already holds exactly those rules."""
    try:
        rules = aggregated_rules(role, cluster_roles)
    except ValueError:  # a selector the apiserver would not have accepted
        return None
    if rules is None or rules == (role.get("rules") or []):
        return None
    # A merge patch replaces the whole list, as the aggregate is recomputed from scratch.
    return A.Action("patch", "clusterroles", None, name_of(role), body={"rules": rules})


class ClusterRoleAggregationController(Controller):
    """One key per aggregated ClusterRole."""

    name = "clusterrole-aggregation"

    def setup(self) -> None:
        self.roles = self.ctx.index("clusterroles")
        inf = self.roles.informer
        inf.add_handler(
            on_add=lambda _: self._enqueue_aggregates(),
            on_update=lambda _old, _new: self._enqueue_aggregates(),
            on_delete=lambda _: self._enqueue_aggregates(),
        )

    def _enqueue_aggregates(self) -> None:
        for role in self.roles.informer.list():
            if role.get("aggregationRule") is not None:
                self.enqueue(name_of(role))

    async def sync(self, key: str) -> float | None:
        role = self.roles.informer.get(key)
        if role is None:
            return None
        action = aggregation_patch(role, self.roles.informer.list())
        if action is not None:
            await apply_all(self.ctx, [action])
        return None
