"""Claiming: which objects a controller owns, which orphans it adopts, which it releases.

Mirrors Kubernetes' ControllerRefManager: an object is owned by the controller whose uid is
in its ``controller: true`` owner reference; a matching orphan is adopted; an owned object
whose labels no longer match is released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import actions as A
from .objutil import (
    Obj,
    adopt_patch,
    controller_ref,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    release_patch,
    uid_of,
)


@dataclass
class Claim:
    """The outcome: the objects owned after the claim, and the writes that make it so."""

    owned: list[Obj] = field(default_factory=list)
    actions: list[A.Action] = field(default_factory=list)


def claim(
    owner: Obj,
    candidates: list[Obj],
    resource: str,
    matches: Callable[[dict[str, str]], bool],
) -> Claim:
    """Split ``candidates`` (same namespace as ``owner``) into owned / adopted / released."""
    out = Claim()
    owner_uid = uid_of(owner)
    owner_deleting = is_deleting(owner)
    for obj in candidates:
        ref = controller_ref(obj)
        labels = labels_of(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matches(labels):
                out.owned.append(obj)
            elif not is_deleting(obj):
                out.actions.append(
                    A.patch(
                        resource, namespace_of(obj), name_of(obj), release_patch(obj, owner_uid)
                    )
                )
            continue
        # An orphan: adopt it if it matches, unless either side is on its way out.
        if matches(labels) and not owner_deleting and not is_deleting(obj):
            out.actions.append(
                A.patch(resource, namespace_of(obj), name_of(obj), adopt_patch(obj, owner))
            )
            out.owned.append(obj)
    return out
