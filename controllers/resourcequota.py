"""ResourceQuota controller: keeps every quota's ``status.hard`` (its ``spec.hard``) and
``status.used`` (recalculated from the objects it covers) current, as
kube-controller-manager's does. A deleted or finished pod frees its share at the next
sync, since usage is summed afresh, never adjusted.

The admission decision does not read this status: the apiserver counts in its write path
(apiserver/quota.py). This status is what ``kl describe quota`` and ``kl get quota`` show.
Pods, Services, claims, ConfigMaps and Secrets come from informers (their changes bring
the quota back at once); other kinds named by ``count/<resource>.<group>`` are listed at
each sync, and such quotas are looked at again every ``RECOUNT_PERIOD`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from api.quota import (
    ResourceList,
    hard_of,
    object_usage,
    quota_used,
    status_of,
)
from api.registry import by_plural

from . import actions as A
from .base import Controller, apply_all
from .objutil import Obj, key_of, name_of, namespace_of

# The kinds watched through informers, by (group, plural).
INFORMED = (
    ("", "pods"),
    ("", "services"),
    ("", "persistentvolumeclaims"),
    ("", "configmaps"),
    ("", "secrets"),
)
# How often a quota counting other kinds (count/deployments.apps) is recounted.
RECOUNT_PERIOD = 30.0


def counted_kinds(quota: Obj) -> list[tuple[str, str]]:
    """The (group, plural) of every ``count/...`` kind the quota names that no informer
    brings (their objects are listed at each sync)."""
    out = []
    for name in hard_of(quota):
        if not name.startswith("count/"):
            continue
        plural, _, group = name[len("count/") :].partition(".")
        if (group, plural) not in INFORMED and by_plural(group, plural) is not None:
            out.append((group, plural))
    return sorted(set(out))


def quota_status(quota: Obj, objects: Mapping[tuple[str, str], Iterable[Obj]]) -> Obj:
    """The status the quota should have, from the namespace's objects by (group, plural)."""
    totals: ResourceList = {}
    pods: list[tuple[Obj, ResourceList]] = []
    for (group, plural), objs in objects.items():
        for o in objs:
            usage = object_usage(plural, group, o)
            for k, v in usage.items():
                totals[k] = totals.get(k, Decimal(0)) + v
            if (group, plural) == ("", "pods") and usage:
                pods.append((o, usage))
    hard = hard_of(quota)
    return status_of(hard, quota_used(quota, pods, totals))


def reconcile(quota: Obj, objects: Mapping[tuple[str, str], Iterable[Obj]]) -> A.Result:
    """A status write when the quota's status is not what its namespace's objects say."""
    res = A.Result()
    status = quota_status(quota, objects)
    if status != (quota.get("status") or {}):
        res.actions.append(
            A.Action(
                "replace",
                "resourcequotas",
                namespace_of(quota),
                name_of(quota),
                body={**quota, "status": status},
                subresource="status",
            )
        )
    if counted_kinds(quota):
        res.requeue(RECOUNT_PERIOD)
    return res


class ResourceQuotaController(Controller):
    """One key per ResourceQuota; the informed kinds say which namespace to recount."""

    name = "resourcequota"

    def setup(self) -> None:
        self.quotas = self.ctx.index("resourcequotas")
        self.quotas.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
        )
        self.informed = {gp: self.ctx.index(gp[1]) for gp in INFORMED}
        for idx in self.informed.values():
            idx.informer.add_handler(
                on_add=lambda o: self._namespace_changed(namespace_of(o)),
                on_update=lambda o, n: self._namespace_changed(namespace_of(n)),
                on_delete=lambda o: self._namespace_changed(namespace_of(o)),
            )

    def _namespace_changed(self, ns: str | None) -> None:
        for quota in self.quotas.in_namespace(ns):
            self.enqueue(key_of(quota))

    async def sync(self, key: str) -> float | None:
        quota = self.quotas.get(key)
        if quota is None:
            return None
        quota = self.ctx.overlay.latest("resourcequotas", quota)
        ns = namespace_of(quota)
        objects: dict[tuple[str, str], list[Obj]] = {
            gp: idx.in_namespace(ns) for gp, idx in self.informed.items()
        }
        for group, plural in counted_kinds(quota):
            info = by_plural(group, plural)
            assert info is not None
            objects[(group, plural)] = (await self.ctx.client.list_all(info, ns))["items"]
        res = reconcile(quota, objects)
        await apply_all(self.ctx, res.actions)
        return res.requeue_after
