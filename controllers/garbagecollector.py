"""Garbage collector: ownerReferences cascades and namespace clean-up (pure decisions).

The apiserver records a DELETE's propagationPolicy on the owner: ``Foreground`` adds the
``foregroundDeletion`` finalizer, ``Orphan`` adds ``orphan``, both set deletionTimestamp and
keep the object until its finalizers are gone. ``Background`` removes the owner at once and
the collector then deletes the dependents whose owners are all gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from . import actions as A
from .objutil import Obj, is_deleting, meta, name_of, namespace_of, owner_refs

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
NAMESPACE_FINALIZER = "kubernetes"


class OwnerState(Enum):
    """What became of an owner named in an ownerReference."""

    PRESENT = "present"
    ABSENT = "absent"  # gone, or replaced by an object with another uid
    FOREGROUND = "foreground"  # being deleted, waiting for its dependents


@dataclass(frozen=True)
class Ref:
    """Where an object lives: its resource (plural) name, namespace and name."""

    resource: str
    namespace: str | None
    name: str


def finalizers(obj: Obj) -> list[str]:
    return list(meta(obj).get("finalizers") or [])


def remove_finalizer_patch(obj: Obj, finalizer: str) -> Obj:
    """A merge patch removing one finalizer, guarded by the resourceVersion."""
    left = [f for f in finalizers(obj) if f != finalizer]
    return {
        "metadata": {
            "finalizers": left or None,
            "resourceVersion": meta(obj).get("resourceVersion"),
        }
    }


def strip_owner_patch(obj: Obj, owner_uids: set[str]) -> Obj:
    """A merge patch dropping the ownerReferences to ``owner_uids``."""
    left = [r for r in owner_refs(obj) if r.get("uid") not in owner_uids]
    return {
        "metadata": {
            "ownerReferences": left or None,
            "resourceVersion": meta(obj).get("resourceVersion"),
        }
    }


def reconcile_dependent(obj: Obj, ref: Ref, owners: dict[str, OwnerState]) -> A.Result:
    """Decide for an object with ownerReferences, given the state of each owner (by uid)."""
    res = A.Result()
    refs = owner_refs(obj)
    if not refs or is_deleting(obj):
        return res
    states = {r.get("uid", ""): owners.get(r.get("uid", ""), OwnerState.PRESENT) for r in refs}
    absent = {uid for uid, s in states.items() if s is OwnerState.ABSENT}
    remaining = {uid: s for uid, s in states.items() if s is not OwnerState.ABSENT}
    if not remaining:
        res.actions.append(
            A.delete(ref.resource, ref.namespace, ref.name, propagation_policy="Background")
        )
        return res
    waiting = [
        uid
        for uid, s in remaining.items()
        if s is OwnerState.FOREGROUND
        and any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in refs)
    ]
    if waiting and len(waiting) == len(remaining):
        # Every live owner waits for us: go, and take our own dependents first (foreground).
        res.actions.append(
            A.delete(ref.resource, ref.namespace, ref.name, propagation_policy="Foreground")
        )
        return res
    if absent:
        res.actions.append(
            A.patch(ref.resource, ref.namespace, ref.name, strip_owner_patch(obj, absent))
        )
    return res


def reconcile_owner(owner: Obj, ref: Ref, dependents: list[tuple[Obj, Ref]]) -> A.Result:
    """Decide for an owner being deleted with the orphan or foregroundDeletion finalizer."""
    res = A.Result()
    if not is_deleting(owner):
        return res
    fins = finalizers(owner)
    uid = meta(owner).get("uid", "")
    if ORPHAN in fins:
        for dep, dref in dependents:
            res.actions.append(
                A.patch(dref.resource, dref.namespace, dref.name, strip_owner_patch(dep, {uid}))
            )
        if not dependents:
            res.actions.append(
                A.patch(
                    ref.resource, ref.namespace, ref.name, remove_finalizer_patch(owner, ORPHAN)
                )
            )
        return res
    if FOREGROUND in fins:
        blocking = []
        for dep, dref in dependents:
            blocks = any(
                r.get("uid") == uid and r.get("blockOwnerDeletion") for r in owner_refs(dep)
            )
            if not is_deleting(dep):
                res.actions.append(
                    A.delete(
                        dref.resource, dref.namespace, dref.name, propagation_policy="Foreground"
                    )
                )
            if blocks:
                blocking.append(dep)
        if not blocking:
            res.actions.append(
                A.patch(
                    ref.resource, ref.namespace, ref.name, remove_finalizer_patch(owner, FOREGROUND)
                )
            )
    return res


def namespace_finalizers(ns: Obj) -> tuple[list[str], list[str]]:
    """The namespace's spec.finalizers and metadata.finalizers."""
    return list((ns.get("spec") or {}).get("finalizers") or []), finalizers(ns)


def reconcile_namespace(ns: Obj, contents: list[tuple[Obj, Ref]]) -> A.Result:
    """A namespace being deleted: delete all it holds; when empty, let it go."""
    res = A.Result()
    if not is_deleting(ns):
        return res
    name = name_of(ns)
    pending = False
    for obj, ref in contents:
        pending = True
        if not is_deleting(obj):
            res.actions.append(
                A.delete(ref.resource, ref.namespace, ref.name, propagation_policy="Background")
            )
    if pending:
        res.requeue(1.0)
        return res
    spec_f, meta_f = namespace_finalizers(ns)
    # Always finalize: that write is what lets the apiserver remove an emptied namespace.
    body = {
        **ns,
        "spec": {
            **(ns.get("spec") or {}),
            "finalizers": [f for f in spec_f if f != NAMESPACE_FINALIZER],
        },
    }
    res.actions.append(
        A.Action("replace", "namespaces", None, name, body=body, subresource="finalize")
    )
    # And a metadata write: an apiserver without /finalize removes a terminating object on
    # the first write that leaves it without finalizers.
    res.actions.append(
        A.patch("namespaces", None, name, remove_finalizer_patch(ns, NAMESPACE_FINALIZER))
    )
    return res


__all__ = [
    "OwnerState",
    "Ref",
    "reconcile_dependent",
    "reconcile_owner",
    "reconcile_namespace",
    "namespace_of",
]


# --- the shells --------------------------------------------------------------------------

import logging  # noqa: E402
from functools import partial  # noqa: E402

from api.registry import RESOURCES, by_kind  # noqa: E402
from client import ApiError  # noqa: E402

from .base import Controller, apply_all  # noqa: E402
from .cache import Index  # noqa: E402
from .objutil import key_of, split_key, uid_of  # noqa: E402

log = logging.getLogger(__name__)

# Kinds the collector follows (owners and dependents). Events and Leases never own anything.
# Every built-in kind whose controller owns what it makes is here: an owner left out is never
# seen to go, and its dependents outlive it (a DaemonSet's pods did, after helm deleted it).
GRAPH_RESOURCES = (
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "replicationcontrollers",
    "cronjobs",
    "controllerrevisions",
    "persistentvolumeclaims",
    "pods",
    "jobs",
    "services",
    "endpoints",
    "endpointslices",
    "configmaps",
    "secrets",
    "serviceaccounts",
)


class GarbageCollector(Controller):
    """Deletes dependents of deleted owners; runs the orphan and foreground finalizers."""

    name = "garbagecollector"

    def setup(self) -> None:
        # Owners are found from an ownerReference's kind, name and uid (the dependent's
        # namespace for namespaced kinds), as Kubernetes' collector verifies them: no
        # map from uid to object, which would cost a slot for every cached object.
        self.indexes: dict[str, Index] = {r: self.ctx.index(r) for r in GRAPH_RESOURCES}
        for resource, idx in self.indexes.items():
            idx.informer.add_handler(
                on_add=partial(self._seen, resource),
                on_update=partial(self._updated, resource),
                on_delete=partial(self._gone, resource),
            )

    def _updated(self, resource: str, old: Obj, new: Obj) -> None:
        self._seen(resource, new)

    def _seen(self, resource: str, obj: Obj) -> None:
        if owner_refs(obj) or (is_deleting(obj) and {FOREGROUND, ORPHAN} & set(finalizers(obj))):
            self.enqueue(f"{resource}|{key_of(obj)}")
        if is_deleting(obj):
            self._wake_dependents(obj)

    def _gone(self, resource: str, obj: Obj) -> None:
        self._wake_dependents(obj)
        # The owners of a dependent that went away may be waiting for it (foreground).
        for ref in owner_refs(obj):
            owner = self._cached_owner(obj, ref)
            if owner is not None:
                self.enqueue(f"{owner[0]}|{key_of(owner[1])}")

    def _cached_owner(self, dependent: Obj, ref: Obj) -> tuple[str, Obj] | None:
        """The resource and the cached object ``ref`` names, if a cache holds it with the
        uid the reference gives."""
        info = by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        idx = self.indexes.get(info.plural) if info is not None else None
        if info is None or idx is None:
            return None
        name = str(ref.get("name", ""))
        ns = namespace_of(dependent) if info.namespaced else None
        owner = idx.get(f"{ns}/{name}" if ns else name)
        if owner is None or uid_of(owner) != ref.get("uid", ""):
            return None
        return info.plural, owner

    def _wake_dependents(self, owner: Obj) -> None:
        uid = uid_of(owner)
        for resource, idx in self.indexes.items():
            for dep in idx.owned_by(uid):
                self.enqueue(f"{resource}|{key_of(dep)}")

    def _dependents(self, uid: str) -> list[tuple[Obj, Ref]]:
        out = []
        for resource, idx in self.indexes.items():
            for dep in idx.owned_by(uid):
                out.append((dep, Ref(resource, namespace_of(dep), name_of(dep))))
        return out

    async def _owner_state(self, obj: Obj, ref: Obj) -> OwnerState:
        uid = ref.get("uid", "")
        known = self._cached_owner(obj, ref)
        owner = known[1] if known is not None else None
        if owner is None:
            # Not in our caches: ask the server before deleting anything (informer lag).
            info = by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if info is None:
                return OwnerState.PRESENT  # a kind we do not know: never delete for it
            try:
                owner = await self.ctx.client.get(
                    info, ref.get("name", ""), namespace_of(obj) if info.namespaced else None
                )
            except ApiError as e:
                if e.code == 404:
                    return OwnerState.ABSENT
                raise
            if uid_of(owner) != uid:
                return OwnerState.ABSENT
        if is_deleting(owner) and FOREGROUND in finalizers(owner):
            return OwnerState.FOREGROUND
        return OwnerState.PRESENT

    async def sync(self, key: str) -> float | None:
        resource, _, okey = key.partition("|")
        idx = self.indexes.get(resource)
        obj = idx.get(okey) if idx else None
        if obj is None:
            return None
        ns, name = split_key(okey)
        ref = Ref(resource, ns, name)
        if is_deleting(obj) and {FOREGROUND, ORPHAN} & set(finalizers(obj)):
            res = reconcile_owner(obj, ref, self._dependents(uid_of(obj)))
            await apply_all(self.ctx, res.actions)
            return res.requeue_after
        refs = owner_refs(obj)
        if not refs or is_deleting(obj):
            return None
        states = {r.get("uid", ""): await self._owner_state(obj, r) for r in refs}
        res = reconcile_dependent(obj, ref, states)
        await apply_all(self.ctx, res.actions)
        return res.requeue_after


class NamespaceController(Controller):
    """Empties a namespace that is being deleted, then lets the apiserver remove it."""

    name = "namespace"

    def setup(self) -> None:
        self.namespaces = self.ctx.index("namespaces")
        self.namespaces.informer.add_handler(
            on_add=self._changed, on_update=lambda o, n: self._changed(n)
        )

    def _changed(self, ns: Obj) -> None:
        if is_deleting(ns):
            self.enqueue(name_of(ns))

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or not is_deleting(ns):
            return None
        contents: list[tuple[Obj, Ref]] = []
        for info in RESOURCES:
            if not info.namespaced or "list" not in info.verbs:  # reviews are never stored
                continue
            listing = await self.ctx.client.list(info, key)
            for obj in listing.get("items") or []:
                contents.append((obj, Ref(info.plural, key, name_of(obj))))
        res = reconcile_namespace(ns, contents)
        await apply_all(self.ctx, res.actions)
        return res.requeue_after
