"""Client-side apply the way kubectl does it: a three-way strategic merge patch between
what was applied last (the ``last-applied-configuration`` annotation), what the user
writes now, and what the server holds, so fields set by others are preserved."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Metadata the server owns: never recorded as "applied", never patched back.
SERVER_METADATA = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

# Lists merged by key in a strategic merge patch (API-COMPAT appendix B); the rest are
# replaced whole.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "addresses": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_MISSING = object()


def merge_key(path: tuple[str, ...], field: str) -> str | None:
    """The merge key of list ``field`` found at ``path`` (dict keys from the root)."""
    if field == "ports":
        return "containerPort" if path and path[-1] in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


def applied_config(obj: dict[str, Any], keep_last_applied: bool = False) -> dict[str, Any]:
    """What the user wrote, as recorded in the annotation: no status, no server metadata,
    no earlier last-applied annotation (unless ``keep_last_applied``).

    ``metadata.annotations`` is always present, ``{}`` when empty: kubectl's
    GetModifiedConfiguration sets it before serialising, and writing the same text as
    kubectl lets the two tools take turns applying a manifest without a spurious change.
    """
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    for k in SERVER_METADATA:
        meta.pop(k, None)
    ann = meta.get("annotations")
    if not isinstance(ann, dict):
        ann = {}
        meta["annotations"] = ann
    if not keep_last_applied:
        ann.pop(LAST_APPLIED, None)
    return out


def annotation_value(config: dict[str, Any]) -> str:
    """The annotation text: compact JSON with sorted keys and a newline, like kubectl."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True) + "\n"


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """The object to create: as written, carrying its own last-applied annotation."""
    config = applied_config(obj)
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    meta.setdefault("annotations", {})[LAST_APPLIED] = annotation_value(config)
    return out


def last_applied_of(live: dict[str, Any]) -> dict[str, Any]:
    """The configuration recorded on a live object ({} when never applied)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _diff_map(
    original: dict[str, Any],
    modified: dict[str, Any],
    current: dict[str, Any],
    path: tuple[str, ...],
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, mv in modified.items():
        cv = current.get(key, _MISSING)
        ov = original.get(key, _MISSING)
        if mv is None:
            # Writing null means "remove"; only worth sending when something is there.
            if cv is not _MISSING and cv is not None:
                patch[key] = None
            continue
        if cv is _MISSING or cv is None:
            if mv != {}:  # an empty map adds nothing (e.g. kubectl's "annotations": {})
                patch[key] = copy.deepcopy(mv)
        elif isinstance(mv, dict) and isinstance(cv, dict):
            sub = _diff_map(ov if isinstance(ov, dict) else {}, mv, cv, (*path, key))
            if sub:
                patch[key] = sub
        elif isinstance(mv, list) and isinstance(cv, list) and merge_key(path, key):
            lst = _diff_list(
                ov if isinstance(ov, list) else [], mv, cv, (*path, key), merge_key(path, key)
            )
            if lst is not None:
                patch[key] = lst
        elif mv != cv:
            patch[key] = copy.deepcopy(mv)
    for key in original:
        if key not in modified and key in current:
            patch[key] = None
    return patch


def _diff_list(
    original: list[Any],
    modified: list[Any],
    current: list[Any],
    path: tuple[str, ...],
    key: str | None,
) -> list[Any] | None:
    """The patch list for a list merged by ``key``; None when nothing changes."""

    def keyed(items: list[Any]) -> dict[Any, dict[str, Any]] | None:
        out: dict[Any, dict[str, Any]] = {}
        for e in items:
            if not isinstance(e, dict) or key not in e:
                return None
            out[e[key]] = e
        return out

    mod_by, cur_by, orig_by = keyed(modified), keyed(current), keyed(original) or {}
    if mod_by is None or cur_by is None:
        # Not keyed after all: replace the list when it differs.
        return copy.deepcopy(modified) if modified != current else None
    out: list[Any] = []
    for k, me in mod_by.items():
        ce = cur_by.get(k)
        if ce is None:
            out.append(copy.deepcopy(me))
            continue
        sub = _diff_map(orig_by.get(k, {}), me, ce, path)
        if sub:
            out.append({key: k, **sub})
    for k in orig_by:
        if k not in mod_by and k in cur_by:
            out.append({key: k, "$patch": "delete"})
    return out or None


def three_way_patch(
    original: dict[str, Any], modified: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    """The strategic merge patch that takes ``current`` to ``modified``, deleting what
    ``original`` (the last applied config) had and ``modified`` dropped, and leaving
    fields nobody applied (set by controllers or other tools) alone."""
    return _diff_map(original, modified, current, ())


def as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the server keeps it: a Secret's ``stringData`` is write-only, stored
    base64-encoded in ``data`` (a key in both takes stringData's value). Comparing in this
    form lets a re-applied, unchanged stringData Secret be "unchanged"."""
    string_data = obj.get("stringData")
    if obj.get("kind") != "Secret" or not isinstance(string_data, dict):
        return obj
    out = dict(obj)
    data = dict(out.get("data") or {})
    for k, v in string_data.items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    out["data"] = data
    del out["stringData"]
    return out


def apply_patch(new_obj: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The patch ``kl apply`` sends for ``new_obj`` given the ``live`` object; {} when
    the object already matches (then apply prints "unchanged").

    The annotation is refreshed only with a real change, so `kl get -o yaml | kl apply
    -f -` is a no-op. A resourceVersion written in the file is sent along with a real
    change, so applying a stale copy fails with 409 instead of undoing someone's edit.
    """
    written = applied_config(new_obj)
    config = as_stored(written)
    original = as_stored(last_applied_of(live))
    if not three_way_patch(original, config, applied_config(live)):
        return {}
    modified = copy.deepcopy(config)
    modified.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = (
        annotation_value(written)
    )
    patch = three_way_patch(original, modified, applied_config(live, keep_last_applied=True))
    rv = (new_obj.get("metadata") or {}).get("resourceVersion")
    if rv:
        patch.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return patch
