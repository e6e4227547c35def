"""The ResourceQuota admission: each namespace's quotas and what its objects use, kept in
memory and consulted in the serialised write path (``ClusterState.before_write``).

Writes are decided one at a time, and each decided write is recorded here at once,
committed or not; so two pods racing for a quota's last unit can never both pass. The
usage is recalculated from the objects (never from ``status.used``, which the
resourcequota controller writes for people to read), so a deleted or finished pod frees
its share the moment it goes. Like Kubernetes, a write is refused only where it makes
usage grow: a pod that finishes, a Service losing a port, a delete always pass.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

from api.errors import ApiError
from api.quota import (
    ResourceList,
    covers,
    exceeded,
    growth,
    missing_constraints,
    object_usage,
    quota_used,
)
from api.registry import ResourceInfo, by_plural

Obj = dict[str, Any]

# Kinds whose usage is more than a count: read whole at load (the rest are counted in SQL).
_READ_WHOLE = ("pods", "services", "persistentvolumeclaims")


def _slim_pod(pod: Obj) -> Obj:
    """What a scoped quota reads of a pod (scopes: deadline, class, QoS)."""
    spec = pod.get("spec") or {}
    return {
        "spec": {
            "activeDeadlineSeconds": spec.get("activeDeadlineSeconds"),
            "priorityClassName": spec.get("priorityClassName"),
            "containers": [
                {"resources": (c or {}).get("resources") or {}}
                for c in spec.get("containers") or []
            ],
            "initContainers": [
                {"resources": (c or {}).get("resources") or {}}
                for c in spec.get("initContainers") or []
            ],
        }
    }


def forbidden(info: ResourceInfo, name: str, why: str) -> ApiError:
    """Kubernetes' admission Forbidden: ``deployments.apps "web" is forbidden: ...``."""
    resource = f"{info.plural}.{info.group}" if info.group else info.plural
    return ApiError(403, f'{resource} "{name}" is forbidden: {why}', "Forbidden", name, info.plural)


PodShare = tuple[Obj, ResourceList]  # what a scoped quota reads of a pod, what it charges


class _Shapes:
    """One shared copy of each distinct (slim pod, usage): the pods of one template (a
    ReplicaSet's) all read the same. Before, each pod held its own, about 2.7 KB: the
    whole of the apiserver's growth per bound pod in the memory benchmark (issue 25)."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, list[Any]] = {}  # key -> [share, holders, the key]

    def take(self, share: PodShare) -> bytes:
        key = orjson.dumps([share[0], {k: str(v) for k, v in share[1].items()}])
        entry = self._by_key.get(key)
        if entry is None:
            self._by_key[key] = [share, 1, key]
            return key
        entry[1] += 1
        held: bytes = entry[2]  # the stored key: each pod keeps a reference, not a copy
        return held

    def drop(self, key: bytes) -> None:
        entry = self._by_key[key]
        entry[1] -= 1
        if not entry[1]:
            del self._by_key[key]

    def share(self, key: bytes) -> PodShare:
        share: PodShare = self._by_key[key][0]
        return share

    def __len__(self) -> int:
        return len(self._by_key)


class ResourceQuotas:
    """Quotas by namespace and the namespace's usage: a total over every object (what an
    unscoped quota charges) and each live pod's share (what a scoped quota picks from)."""

    def __init__(self) -> None:
        self.quotas: dict[str, dict[str, Obj]] = {}
        self.totals: dict[str, ResourceList] = {}
        self._shapes = _Shapes()
        self.pods: dict[str, dict[str, bytes]] = {}  # namespace -> pod -> shape key

    # -- keeping the indexes --------------------------------------------------------------

    def load(self, store: Any) -> None:
        """Read every namespaced object's usage from the store (at start, after a failed
        commit): the kinds with resources whole, every other kind counted in SQL."""
        for plural in _READ_WHOLE:
            _, raws = store.list_raw(f"/{plural}")
            info = by_plural("", plural)
            assert info is not None
            for raw in raws:
                obj = orjson.loads(raw)
                meta = obj.get("metadata") or {}
                self.record(info, meta.get("namespace") or "", meta.get("name") or "", None, obj)
        from apiserver.store import objects_table  # the one table of current objects

        t = objects_table.c
        q = sa.select(t.resource, t.namespace, sa.func.count()).group_by(t.resource, t.namespace)
        with store.engine.connect() as conn:
            rows = conn.execute(q).all()
        for resource, ns, n in rows:
            group, _, plural = str(resource).partition("/")
            info = by_plural(group, plural)
            if (
                info is None
                or not info.namespaced
                or not ns
                or (not group and plural in _READ_WHOLE)
            ):
                continue
            total = self.totals.setdefault(str(ns), {})
            for k, v in object_usage(plural, group, {}).items():
                total[k] = total.get(k, Decimal(0)) + v * int(n)
        _, raws = store.list_raw("/resourcequotas")
        for raw in raws:
            quota = orjson.loads(raw)
            meta = quota["metadata"]
            self.quotas.setdefault(meta["namespace"], {})[meta["name"]] = quota

    def record(
        self, info: ResourceInfo, ns: str, name: str, old: Obj | None, new: Obj | None
    ) -> None:
        """Keep the indexes in step with a decided write."""
        if not ns or not info.namespaced:
            return
        total = self.totals.setdefault(ns, {})
        for k, v in object_usage(info.plural, info.group, old).items():
            total[k] = total.get(k, Decimal(0)) - v
        for k, v in object_usage(info.plural, info.group, new).items():
            total[k] = total.get(k, Decimal(0)) + v
        if info.group == "" and info.plural == "pods":
            pods = self.pods.setdefault(ns, {})
            usage = object_usage("pods", "", new)
            held = pods.pop(name, None)
            if held is not None:
                self._shapes.drop(held)
            if new is not None and usage:
                pods[name] = self._shapes.take((_slim_pod(new), usage))
        elif info.kind == "ResourceQuota":
            quotas = self.quotas.setdefault(ns, {})
            if new is None:
                quotas.pop(name, None)
            else:
                quotas[name] = new

    # -- the decision ---------------------------------------------------------------------

    def used(self, quota: Obj) -> ResourceList:
        """What the objects the quota covers use now, per hard resource."""
        ns = (quota.get("metadata") or {}).get("namespace") or ""
        shares = (self._shapes.share(k) for k in self.pods.get(ns, {}).values())
        return quota_used(quota, shares, self.totals.get(ns, {}))

    def check(
        self, info: ResourceInfo, ns: str, name: str, old: Obj | None, new: Obj | None
    ) -> None:
        """Raise 403 as Kubernetes' ResourceQuota admission when ``new`` would take a
        quota of its namespace past ``spec.hard``, or a new pod leaves out a request or
        limit a quota of it counts ("must specify limits.cpu for: app")."""
        if not ns or new is None or not self.quotas.get(ns):
            return
        new_usage = object_usage(info.plural, info.group, new)
        old_usage = object_usage(info.plural, info.group, old)
        for qname in sorted(self.quotas[ns]):
            quota = self.quotas[ns][qname]
            charged = new_usage if covers(quota, info.plural, info.group, new) else {}
            had = (
                old_usage if old is not None and covers(quota, info.plural, info.group, old) else {}
            )
            if not charged:
                continue
            if old is None and info.kind == "Pod":
                missing = missing_constraints(quota, new)
                if missing is not None:
                    raise forbidden(info, name, f"failed quota: {qname}: {missing}")
            requested = growth(had, charged)
            hard = (quota.get("spec") or {}).get("hard") or {}
            if not any(k in hard for k in requested):
                continue
            why = exceeded(quota, requested, self.used(quota))
            if why is not None:
                raise forbidden(info, name, why)
