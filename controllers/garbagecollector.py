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
    if NAMESPACE_FINALIZER in spec_f:
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
    if NAMESPACE_FINALIZER in meta_f:
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
