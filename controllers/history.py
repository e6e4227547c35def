"""ControllerRevision history: the snapshots of a controller's pod template that
DaemonSets (and StatefulSets) keep so that a rollout can be undone.

As in Kubernetes' controller history: a revision is named ``<owner>-<hash>``, carries the
template as ``data`` (a strategic merge patch ``{"spec": {"template": {..., "$patch":
"replace"}}}``, which is what ``kubectl rollout undo`` sends back), is owned by the
controller, and the current one always holds the highest ``revision`` (a rollback to an
old template renumbers that revision instead of making a copy). The template hash is the
Deployment controller's, so one rule names templates everywhere.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from . import actions as A
from .deployment.util import template_hash, templates_equal
from .objutil import Obj, creation_time, labels_of, meta, name_of, namespace_of, owner_reference

REVISION_HASH_LABEL = "controller-revision-hash"
RESOURCE = "controllerrevisions"


def template_of(owner: Obj) -> Obj:
    return (owner.get("spec") or {}).get("template") or {}


def revision_data(template: Obj) -> Obj:
    """The ``data`` of a revision of ``template``."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def revision_template(rev: Obj) -> Obj:
    """The pod template a revision holds (without the patch directive)."""
    t = dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    t.pop("$patch", None)
    return t


def revision_number(rev: Obj) -> int:
    try:
        return int(rev.get("revision") or 0)
    except (TypeError, ValueError):
        return 0


def current_hash(owner: Obj) -> str:
    """The hash of the owner's template (with its collision count), as pods are labelled."""
    collision = (owner.get("status") or {}).get("collisionCount")
    return template_hash(template_of(owner), collision)


def new_revision(owner: Obj, revision: int) -> Obj:
    """A ControllerRevision of the owner's current template."""
    h = current_hash(owner)
    labels = dict((template_of(owner).get("metadata") or {}).get("labels") or {})
    labels[REVISION_HASH_LABEL] = h
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{name_of(owner)}-{h}",
            "namespace": meta(owner).get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(owner)],
        },
        "data": revision_data(template_of(owner)),
        "revision": revision,
    }


@dataclass
class History:
    """The revision that matches the owner's template (None until created), the older
    ones, and the writes that bring the history up to date."""

    current: Obj | None
    old: list[Obj]
    actions: list[A.Action] = field(default_factory=list)

    @property
    def hash(self) -> str:
        if self.current is None:
            return ""
        return (
            labels_of(self.current).get(REVISION_HASH_LABEL, "")
            or name_of(self.current).rsplit("-", 1)[-1]
        )


def plan_history(owner: Obj, revisions: list[Obj]) -> History:
    """Find or make the current revision; renumber it if an older template came back."""
    template = template_of(owner)
    same = [r for r in revisions if templates_equal(revision_template(r), template)]
    same.sort(key=lambda r: (-revision_number(r), creation_time(r), name_of(r)))
    top = max((revision_number(r) for r in revisions), default=0)
    ns = namespace_of(owner)
    if not same:
        rev = new_revision(owner, top + 1)
        return History(None, list(revisions), [A.create(RESOURCE, ns, rev)])
    current = same[0]
    old = [r for r in revisions if r is not current]
    hist = History(current, old)
    if revision_number(current) < top:
        hist.actions.append(
            A.patch(
                RESOURCE,
                ns,
                name_of(current),
                {
                    "metadata": {"resourceVersion": meta(current).get("resourceVersion")},
                    "revision": top + 1,
                },
            )
        )
    return hist


def prune_history(owner: Obj, old: list[Obj], live_hashes: set[str]) -> list[A.Action]:
    """Delete the oldest revisions beyond ``revisionHistoryLimit`` (default 10) that no
    live pod still runs."""
    limit = (owner.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = [r for r in old if labels_of(r).get(REVISION_HASH_LABEL) not in live_hashes]
    if len(idle) <= limit:
        return []
    idle.sort(key=lambda r: (revision_number(r), creation_time(r)))
    ns = namespace_of(owner)
    return [A.delete(RESOURCE, ns, name_of(r)) for r in idle[: len(idle) - limit]]
