"""Small helpers on plain Kubernetes object dicts: times, owners, conditions, selectors."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

# Suffix alphabet Kubernetes uses for generated names (no vowels, no look-alikes).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def format_time(t: float) -> str:
    """RFC 3339 with a Z zone, second precision, as the API serves ``metav1.Time``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: float) -> str:
    """RFC 3339 with microseconds, as the API serves ``metav1.MicroTime`` (Lease times)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str | None) -> float | None:
    """Seconds since the epoch for an RFC 3339 string; None for None or garbage."""
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def random_suffix(n: int = 5) -> str:
    """A random name suffix like the apiserver's generateName uses."""
    return "".join(random.choice(_NAME_ALPHABET) for _ in range(n))


def meta(obj: Obj) -> Obj:
    """``obj.metadata`` (an empty dict when missing)."""
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str | None:
    ns = meta(obj).get("namespace")
    return str(ns) if ns else None


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def key_of(obj: Obj) -> str:
    """The informer key: ``ns/name`` or ``name`` for cluster-scoped objects."""
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def split_key(key: str) -> tuple[str | None, str]:
    """Inverse of ``key_of``."""
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


def is_deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def creation_time(obj: Obj) -> float:
    return parse_time(meta(obj).get("creationTimestamp")) or 0.0


def labels_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


# --- owner references -------------------------------------------------------------------


def owner_refs(obj: Obj) -> list[Obj]:
    return list(meta(obj).get("ownerReferences") or [])


def controller_ref(obj: Obj) -> Obj | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in owner_refs(obj):
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj, *, controller: bool = True, block: bool = True) -> Obj:
    """An ownerReference pointing at ``owner``."""
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": block,
    }


def adopt_patch(obj: Obj, owner: Obj) -> Obj:
    """A merge patch that adds ``owner`` as controller; the resourceVersion guards races."""
    refs = [r for r in owner_refs(obj) if r.get("uid") != uid_of(owner)]
    refs.append(owner_reference(owner))
    return {
        "metadata": {
            "ownerReferences": refs,
            "resourceVersion": meta(obj).get("resourceVersion"),
        }
    }


def release_patch(obj: Obj, owner_uid: str) -> Obj:
    """A merge patch that drops the owner reference with ``owner_uid``."""
    refs = [r for r in owner_refs(obj) if r.get("uid") != owner_uid]
    return {
        "metadata": {
            "ownerReferences": refs or None,
            "resourceVersion": meta(obj).get("resourceVersion"),
        }
    }


# --- label selectors --------------------------------------------------------------------


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels + matchExpressions) selects ``labels``.

    An empty or missing selector selects nothing here: controllers must never claim every
    pod of a namespace because a selector was left out.
    """
    if not selector:
        return False
    match_labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not match_labels and not exprs:
        return False
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for e in exprs:
        key, op, values = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """A Service-style selector (plain map); empty selects nothing."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def selector_string(selector: Obj | None) -> str:
    """The string form (``a=b,c in (d)``) of a LabelSelector, as Scale.status.selector shows."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for e in (selector or {}).get("matchExpressions") or []:
        op, key, vals = e.get("operator"), e.get("key"), ",".join(e.get("values") or [])
        parts.append(
            {"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})", "Exists": key}.get(
                str(op), f"!{key}"
            )
        )
    return ",".join(parts)


# --- conditions -------------------------------------------------------------------------


def get_condition(obj_or_status: Obj, ctype: str) -> Obj | None:
    """The condition of type ``ctype`` from ``obj.status.conditions`` (or a status dict)."""
    status = obj_or_status.get("status", obj_or_status)
    if not isinstance(status, dict):
        return None
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """Replace the condition of the same type; keep lastTransitionTime if status is unchanged."""
    out: list[Obj] = []
    for c in conditions:
        if c.get("type") == new["type"]:
            if c.get("status") == new.get("status") and c.get("lastTransitionTime"):
                new = {**new, "lastTransitionTime": c["lastTransitionTime"]}
            continue
        out.append(c)
    out.append(new)
    return out


def status_differs(old: Obj | None, new: Obj) -> bool:
    """Whether writing ``new`` status changes anything (keys absent in ``new`` are ignored)."""
    old = old or {}
    return any(old.get(k) != v for k, v in new.items())
