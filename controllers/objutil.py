"""Small helpers on plain Kubernetes object dicts: times, owners, conditions, selectors."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from api.selectors import LabelSelector

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
# The matching rule is api.selectors.LabelSelector's; what controllers add is the policy that
# an empty or unusable selector selects nothing, so a controller never claims every pod of a
# namespace because a selector was left out.


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels + matchExpressions) selects ``labels``.

    An empty, missing or invalid selector selects nothing here.
    """
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    parsed = _parsed_selector(selector)
    return parsed is not None and parsed.matches(labels)


def map_selector_matches(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """A Service-style selector (plain map); empty selects nothing."""
    if not selector:
        return False
    parsed = _parsed_selector({"matchLabels": selector})
    return parsed is not None and parsed.matches(labels)


_SelectorKey = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, tuple[str, ...]], ...]]


def _parsed_selector(selector: Obj) -> LabelSelector | None:
    """``selector`` parsed by api.selectors (None if it is invalid), cached by its content:
    the controllers match the same few selectors against every pod of a sync."""
    try:
        key: _SelectorKey = (
            tuple((str(k), str(v)) for k, v in (selector.get("matchLabels") or {}).items()),
            tuple(
                (
                    str(e.get("key", "")),
                    str(e.get("operator", "")),
                    tuple(map(str, e.get("values") or ())),
                )
                for e in selector.get("matchExpressions") or ()
            ),
        )
    except (AttributeError, TypeError):  # not the shape of a selector: selects nothing
        return None
    return _parse_selector_key(key)


@lru_cache(maxsize=1024)
def _parse_selector_key(key: _SelectorKey) -> LabelSelector | None:
    match_labels, exprs = key
    as_dict: Obj = {
        "matchLabels": dict(match_labels),
        "matchExpressions": [
            {"key": k, "operator": op, "values": list(values)} for k, op, values in exprs
        ],
    }
    try:
        return LabelSelector.from_dict(as_dict)
    except ValueError:
        return None


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
