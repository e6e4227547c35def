"""Which PersistentVolume may serve which claim: the pure rules the PV controller binds by
and the scheduler places pods by (Kubernetes' ``FindMatchingVolume``).

A volume matches a claim when it is free (or reserved for exactly this claim), of the
claim's class and volume mode, offers every access mode the claim asks for, is at least
as big as the request and carries the labels the claim's selector asks for. Of several,
a volume reserved for the claim wins, then the smallest that fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.quantity import bytes_value
from api.selectors import LabelSelector, match_node_selector_terms
from api.storage import HOSTNAME_LABEL

Obj = dict[str, Any]


def _spec(obj: Mapping[str, Any]) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _meta(obj: Mapping[str, Any]) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def claim_request(pvc: Mapping[str, Any]) -> int:
    """The claim's storage request in bytes (0 when unreadable)."""
    q = ((_spec(pvc).get("resources") or {}).get("requests") or {}).get("storage")
    try:
        return bytes_value(q) if q is not None else 0
    except (ValueError, TypeError):
        return 0


def volume_capacity(pv: Mapping[str, Any]) -> int:
    """The volume's storage capacity in bytes (0 when unreadable)."""
    q = (_spec(pv).get("capacity") or {}).get("storage")
    try:
        return bytes_value(q) if q is not None else 0
    except (ValueError, TypeError):
        return 0


def class_of(obj: Mapping[str, Any]) -> str:
    """``spec.storageClassName`` of a claim or volume; "" for none."""
    return str(_spec(obj).get("storageClassName") or "")


def reserved_for(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    """The volume's claimRef names this claim (and, when it has one, its uid)."""
    ref = _spec(pv).get("claimRef")
    if not isinstance(ref, dict):
        return False
    meta = _meta(pvc)
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def node_terms(pv: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The volume's required node selector terms; None when it may be used anywhere."""
    na = _spec(pv).get("nodeAffinity")
    terms = ((na or {}).get("required") or {}).get("nodeSelectorTerms") if na else None
    return list(terms) if terms else None


def pinned_node(pv: Mapping[str, Any]) -> str | None:
    """The one node a volume lives on, when its affinity names exactly one hostname."""
    terms = node_terms(pv)
    if not terms or len(terms) != 1:
        return None
    for expr in terms[0].get("matchExpressions") or []:
        values = expr.get("values") or []
        if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In" and len(values) == 1:
            return str(values[0])
    return None


def fits_node(pv: Mapping[str, Any], node: Mapping[str, Any] | None) -> bool:
    """The volume may be used from ``node`` (always, when it has no node affinity)."""
    terms = node_terms(pv)
    if terms is None:
        return True
    return node is not None and match_node_selector_terms(terms, node)


def mismatch(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> str | None:
    """Why ``pv`` cannot serve ``pvc``; None when it can."""
    pv_spec, pvc_spec = _spec(pv), _spec(pvc)
    if _meta(pv).get("deletionTimestamp"):
        return "is being deleted"
    ref = pv_spec.get("claimRef")
    if isinstance(ref, dict) and not reserved_for(pv, pvc):
        return f"is bound to {ref.get('namespace')}/{ref.get('name')}"
    if (pv.get("status") or {}).get("phase") in ("Released", "Failed"):
        return f"is {(pv.get('status') or {}).get('phase')}"
    if class_of(pv) != class_of(pvc):
        return f"has class {class_of(pv) or '<none>'!r}, the claim asks for {class_of(pvc) or '<none>'!r}"
    if (pv_spec.get("volumeMode") or "Filesystem") != (pvc_spec.get("volumeMode") or "Filesystem"):
        return "has another volumeMode"
    offered = set(pv_spec.get("accessModes") or [])
    missing = [m for m in pvc_spec.get("accessModes") or [] if m not in offered]
    if missing:
        return f"does not offer {', '.join(missing)}"
    if volume_capacity(pv) < claim_request(pvc):
        return "is too small"
    sel = pvc_spec.get("selector")
    if sel:
        try:
            if not LabelSelector.from_dict(sel).matches(_meta(pv).get("labels") or {}):
                return "does not carry the labels the claim selects"
        except ValueError:
            return "the claim's selector is invalid"
    return None


def best_volume(
    pvc: Mapping[str, Any], pvs: Iterable[Obj], node: Mapping[str, Any] | None = None
) -> Obj | None:
    """The volume to bind ``pvc`` to: one reserved for it first, else the smallest that
    matches; with ``node`` (a WaitForFirstConsumer claim), only volumes usable there."""
    best: Obj | None = None
    for pv in pvs:
        if mismatch(pv, pvc) is not None:
            continue
        if node is not None and not fits_node(pv, node):
            continue
        if reserved_for(pv, pvc):
            return pv
        if best is None or volume_capacity(pv) < volume_capacity(best):
            best = pv
    return best
