"""Deployment helpers: template hashes, revisions, surge/unavailable arithmetic, RS lookup."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from ..objutil import Obj, annotations_of, creation_time, meta, name_of

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Annotations of the Deployment that are not copied onto its ReplicaSets (kubectl skips the
# same ones when it copies them back on `rollout undo`).
SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """A short stable hash of a pod template (the ``pod-template-hash`` label value)."""
    t = strip_hash(template)
    data = json.dumps(t, sort_keys=True, separators=(",", ":"))
    if collision_count:
        data += str(collision_count)
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(_fnv1a32(data.encode())))


def strip_hash(template: Obj) -> Obj:
    """A copy of ``template`` without the ``pod-template-hash`` label."""
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
        if not labels:
            del t["metadata"]["labels"]
    if "metadata" in t and not t["metadata"]:
        del t["metadata"]
    return t


def templates_equal(a: Obj, b: Obj) -> bool:
    """Equal pod templates, ignoring the ``pod-template-hash`` label and empty metadata."""
    return _norm(strip_hash(a)) == _norm(strip_hash(b))


def _norm(v: Any) -> Any:
    # Empty maps/lists and None mean the same thing in a template that went through JSON.
    if isinstance(v, dict):
        out = {k: _norm(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def revision_of(obj: Obj) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision_of(rs) for rs in rss), default=0)


def spec_replicas(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_int(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def scaled_value(value: int | str | None, total: int, round_up: bool, default: str) -> int:
    """An IntOrString (``3`` or ``"25%"``) resolved against ``total``."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s.endswith("%"):
        frac = int(s[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(s)


def surge_and_unavailable(d: Obj) -> tuple[int, int]:
    """maxSurge (rounded up) and maxUnavailable (rounded down); never both zero."""
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = spec_replicas(d)
    surge = scaled_value(ru.get("maxSurge"), replicas, True, "25%")
    unavailable = scaled_value(ru.get("maxUnavailable"), replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The ReplicaSet whose template equals the Deployment's (oldest first on ties)."""
    template = (d.get("spec") or {}).get("template") or {}
    same = [
        rs for rs in rss if templates_equal((rs.get("spec") or {}).get("template") or {}, template)
    ]
    same.sort(key=lambda rs: (creation_time(rs), name_of(rs)))
    return same[0] if same else None


def by_creation(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda rs: (creation_time(rs), name_of(rs)))


def copied_annotations(d: Obj) -> dict[str, str]:
    """The Deployment annotations a new ReplicaSet carries."""
    return {k: v for k, v in annotations_of(d).items() if k not in SKIPPED_ANNOTATIONS}


def new_replica_set(d: Obj, replicas: int, revision: int) -> Obj:
    """A ReplicaSet for the Deployment's current template, owned by it."""
    spec = d.get("spec") or {}
    collision = (d.get("status") or {}).get("collisionCount")
    template = copy.deepcopy(spec.get("template") or {})
    h = template_hash(template, collision)
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = h
    surge, _ = surge_and_unavailable(d)
    dreplicas = spec_replicas(d)
    annotations = copied_annotations(d)
    annotations[REVISION] = str(revision)
    annotations[DESIRED_REPLICAS] = str(dreplicas)
    annotations[MAX_REPLICAS] = str(dreplicas + surge)
    rs_spec: Obj = {
        "replicas": replicas,
        "minReadySeconds": int(spec.get("minReadySeconds") or 0),
        "selector": selector,
        "template": template,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name_of(d)}-{h}",
            "namespace": meta(d).get("namespace"),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name_of(d),
                    "uid": meta(d).get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": rs_spec,
    }
