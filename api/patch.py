"""The four PATCH flavours the Kubernetes API accepts, applied to plain JSON dicts.

- JSON merge patch (RFC 7386): ``merge_patch``.
- JSON patch (RFC 6902): ``json_patch``.
- Strategic merge patch (what ``kubectl apply``, cordon, drain, edit and the Python client
  send): ``strategic_merge_patch``; lists are merged by key where upstream's Go structs say
  so (API-COMPAT §7 and Appendix B), the ``$patch``/``$retainKeys``/``$setElementOrder``/
  ``$deleteFromPrimitiveList`` directives are honoured.
- Server-side apply (``application/apply-patch+yaml``): the body is the desired object,
  merged over the stored one like a strategic merge patch.

Every function is pure: the inputs are never mutated and the result shares no containers
with them. Failures raise ``PatchError`` whose ``code`` is the HTTP status the apiserver
should answer with (400 for an undecodable body, 422 for a patch that cannot be applied,
415 for an unknown Content-Type).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MERGE_PATCH",
    "JSON_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "APPLY_PATCH",
    "PATCH_CONTENT_TYPES",
    "PatchError",
    "UnsupportedPatchType",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
    "server_side_apply",
    "list_strategy",
]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_CONTENT_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


class PatchError(ValueError):
    """A patch that cannot be decoded or applied; ``code`` is the HTTP status to answer."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UnsupportedPatchType(PatchError):
    """The request's Content-Type is not one of the patch types (HTTP 415)."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the body of the request was in an unknown format ({content_type or 'no Content-Type'}); "
            f"accepted media types include: {', '.join(PATCH_CONTENT_TYPES)}",
            code=415,
        )
        self.content_type = content_type


# --------------------------------------------------------------------------------------
# helpers


def _copy(value: Any) -> Any:
    """Deep copy of a JSON value (much faster than ``copy.deepcopy`` for plain data)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1`` and ``1.0`` is ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# --------------------------------------------------------------------------------------
# RFC 7386 JSON merge patch


def merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON merge patch (RFC 7386) to ``doc``; ``null`` deletes, lists are replaced.

    The patch must be a JSON object (a whole-document replacement by a non-object cannot
    yield a Kubernetes object).
    """
    if not isinstance(patch, dict):
        raise PatchError(f"a merge patch must be a JSON object, got {_type_name(patch)}", code=400)
    merged: dict[str, Any] = _merge(_copy(doc), patch)
    return merged


def _merge(target: Any, patch: Any) -> Any:
    """Merge ``patch`` into ``target``, which the caller owns (it is changed in place)."""
    if not isinstance(patch, dict):
        return _copy(patch)
    result: dict[str, Any] = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


# --------------------------------------------------------------------------------------
# RFC 6902 JSON patch

_INDEX = re.compile(r"0|[1-9][0-9]*")


def _parse_pointer(pointer: Any, where: str) -> list[str]:
    if not isinstance(pointer, str):
        raise PatchError(f"{where}: the path must be a string, got {_type_name(pointer)}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'{where}: JSON pointer "{pointer}" must start with "/"')
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, where: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not _INDEX.fullmatch(token):
        raise PatchError(f'{where}: "{token}" is not a valid array index')
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise PatchError(
            f"{where}: index {index} is out of range (array has {len(container)} items)"
        )
    return index


def _resolve_parent(doc: Any, tokens: list[str], where: str) -> Any:
    """Walk to the container holding the last token; every step must exist."""
    node = doc
    for depth, token in enumerate(tokens[:-1]):
        prefix = "/" + "/".join(tokens[: depth + 1])
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f'{where}: "{prefix}" does not exist')
            node = node[token]
        elif isinstance(node, list):
            node = node[_list_index(node, token, where, allow_end=False)]
        else:
            parent = "/" + "/".join(tokens[:depth])
            raise PatchError(
                f'{where}: "{parent}" is a {_type_name(node)}, it has no member "{token}"'
            )
    return node


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return doc
    parent = _resolve_parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'{where}: "/{"/".join(tokens)}" does not exist')
        return parent[last]
    if isinstance(parent, list):
        return parent[_list_index(parent, last, where, allow_end=False)]
    raise PatchError(f"{where}: cannot index into a {_type_name(parent)}")


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _resolve_parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, where, allow_end=True), value)
    else:
        raise PatchError(f"{where}: cannot add a member to a {_type_name(parent)}")
    return doc


def _remove(doc: Any, tokens: list[str], where: str) -> tuple[Any, Any]:
    """Remove the value at ``tokens``; returns (new doc, removed value)."""
    if not tokens:
        raise PatchError(f"{where}: cannot remove the whole document")
    parent = _resolve_parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'{where}: "/{"/".join(tokens)}" does not exist')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(parent, last, where, allow_end=False))
    raise PatchError(f"{where}: cannot remove a member of a {_type_name(parent)}")


def json_patch(doc: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply a JSON patch (RFC 6902) to ``doc``; the whole patch applies or nothing does."""
    if not isinstance(ops, list):
        raise PatchError(f"a JSON patch must be an array of operations, got {_type_name(ops)}", 400)
    result: Any = _copy(doc)
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError(f"operation {i}: must be an object, got {_type_name(op)}", 400)
        name = op.get("op")
        path = op.get("path")
        where = f'operation {i} ({name} "{path}")'
        tokens = _parse_pointer(path, where)
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f'{where}: missing "value"')
        if name == "add":
            result = _add(result, tokens, _copy(op["value"]), where)
        elif name == "remove":
            result, _ = _remove(result, tokens, where)
        elif name == "replace":
            if not tokens:
                result = _copy(op["value"])
            else:
                _get(result, tokens, where)  # must exist
                result, _ = _remove(result, tokens, where)
                result = _add(result, tokens, _copy(op["value"]), where)
        elif name in ("move", "copy"):
            from_tokens = _parse_pointer(op.get("from"), f'{where} "from"')
            if name == "move":
                if tokens[: len(from_tokens)] == from_tokens and tokens != from_tokens:
                    raise PatchError(f"{where}: cannot move a value into one of its own children")
                if tokens == from_tokens:
                    _get(result, from_tokens, where)
                    continue
                result, value = _remove(result, from_tokens, where)
            else:
                value = _copy(_get(result, from_tokens, where))
            result = _add(result, tokens, value, where)
        elif name == "test":
            actual = _get(result, tokens, where)
            if not _json_equal(actual, op["value"]):
                raise PatchError(
                    f"{where}: test failed: the value is {json.dumps(actual)}, "
                    f"expected {json.dumps(op['value'])}"
                )
        else:
            raise PatchError(
                f"operation {i}: unknown op {name!r} (expected add, remove, replace, move, copy or test)",
                400,
            )
    if not isinstance(result, dict):
        raise PatchError(f"the patched document must be an object, got {_type_name(result)}")
    return result


# --------------------------------------------------------------------------------------
# Strategic merge patch
#
# Upstream reads the patch strategy of each list from struct tags of the Go types
# (``patchStrategy:"merge" patchMergeKey:"name"``). We keep a tiny schema: for each type a
# field name -> (type of the child, list strategy) table. A strategy is ``None`` (replace
# the list), ``"set"`` (a merged list of primitives) or the merge key of a list of objects.


@dataclass(frozen=True)
class _Field:
    type: str | None = None  # type of the value (or of each list item)
    key: str | None = None  # merge key for a list of objects, "" for a primitive set


def _f(type_: str | None = None, key: str | None = None) -> _Field:
    return _Field(type_, key)


_SET = ""  # key value marking a list merged as a set of primitives

_META = {"ownerReferences": _f(None, "uid"), "finalizers": _f(None, _SET)}
_CONTAINER = {
    "ports": _f(None, "containerPort"),
    "env": _f(None, "name"),
    "volumeMounts": _f(None, "mountPath"),
    "volumeDevices": _f(None, "devicePath"),
}
_POD_SPEC = {
    "containers": _f("Container", "name"),
    "initContainers": _f("Container", "name"),
    "ephemeralContainers": _f("Container", "name"),
    "volumes": _f(None, "name"),
    "imagePullSecrets": _f(None, "name"),
    "hostAliases": _f(None, "ip"),
    "topologySpreadConstraints": _f(None, "topologyKey"),
    "schedulingGates": _f(None, "name"),
    "resourceClaims": _f(None, "name"),
}
_CONDITIONS = {"conditions": _f(None, "type")}
_POD_STATUS = {
    "conditions": _f(None, "type"),
    "hostIPs": _f(None, "ip"),
    "podIPs": _f(None, "ip"),
    "resourceClaimStatuses": _f(None, "name"),
    "containerStatuses": _f("ContainerStatus"),
    "initContainerStatuses": _f("ContainerStatus"),
    "ephemeralContainerStatuses": _f("ContainerStatus"),
}
_CONTAINER_STATUS = {
    "volumeMounts": _f(None, "mountPath"),
    "allocatedResourcesStatus": _f(None, "name"),
}
_TEMPLATE = {"metadata": _f("ObjectMeta"), "spec": _f("PodSpec")}
_WITH_TEMPLATE = {"template": _f("PodTemplateSpec"), "selector": _f()}

_TYPES: dict[str, dict[str, _Field]] = {
    "ObjectMeta": _META,
    "Container": _CONTAINER,
    "PodSpec": _POD_SPEC,
    "PodStatus": _POD_STATUS,
    "ContainerStatus": _CONTAINER_STATUS,
    "PodTemplateSpec": _TEMPLATE,
    "WorkloadSpec": _WITH_TEMPLATE,
    "WorkloadStatus": _CONDITIONS,
    "ConditionsStatus": _CONDITIONS,
    "ServiceSpec": {"ports": _f(None, "port")},
    "NodeSpec": {"podCIDRs": _f(None, _SET)},
    "NodeStatus": {"conditions": _f(None, "type"), "addresses": _f(None, "type")},
    "JobTemplateSpec": {"metadata": _f("ObjectMeta"), "spec": _f("WorkloadSpec")},
    "CronJobSpec": {"jobTemplate": _f("JobTemplateSpec")},
}


def _root(spec: str | None = None, status: str | None = None, **extra: _Field) -> dict[str, _Field]:
    fields = {"metadata": _f("ObjectMeta"), "spec": _f(spec), "status": _f(status)}
    fields.update(extra)
    return fields


_KINDS: dict[str, dict[str, _Field]] = {
    "Pod": _root("PodSpec", "PodStatus"),
    "PodTemplate": _root(template=_f("PodTemplateSpec")),
    "Deployment": _root("WorkloadSpec", "WorkloadStatus"),
    "ReplicaSet": _root("WorkloadSpec", "WorkloadStatus"),
    "ReplicationController": _root("WorkloadSpec", "WorkloadStatus"),
    "StatefulSet": _root("WorkloadSpec", "WorkloadStatus"),
    "DaemonSet": _root("WorkloadSpec", "WorkloadStatus"),
    "Job": _root("WorkloadSpec", "WorkloadStatus"),
    "CronJob": _root("CronJobSpec"),
    "Service": _root("ServiceSpec", "ConditionsStatus"),
    "Node": _root("NodeSpec", "NodeStatus"),
    "Namespace": _root(None, "ConditionsStatus"),
    "PersistentVolumeClaim": _root(None, "ConditionsStatus"),
    "ComponentStatus": _root(conditions=_f(None, "type")),
    "ServiceAccount": _root(secrets=_f(None, "name"), imagePullSecrets=_f(None, "name")),
}
_GENERIC = _root()  # any other kind: metadata lists merge, every other list is replaced


def list_strategy(kind: str, path: list[str]) -> str | None:
    """The merge key of the list at ``path`` (field names only) in an object of ``kind``.

    ``None`` means the list is replaced; ``""`` means a set of primitives.
    For example ``list_strategy("Deployment", ["spec", "template", "spec", "containers"])``
    is ``"name"``.
    """
    fields: dict[str, _Field] | None = _KINDS.get(kind, _GENERIC)
    found: _Field | None = None
    for name in path:
        if fields is None:
            return None
        found = fields.get(name)
        if found is None:
            return None
        fields = _TYPES.get(found.type) if found.type else None
    return found.key if found else None


_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"


def strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], kind: str) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to an object of ``kind``.

    Lists listed in API-COMPAT Appendix B merge by their key (containers by ``name``,
    container ports by ``containerPort`` …), ``finalizers`` merge as a set, other lists are
    replaced; ``null`` deletes a field; the ``$`` directives are applied and then dropped.
    """
    if not isinstance(patch, dict):
        raise PatchError(
            f"a strategic merge patch must be a JSON object, got {_type_name(patch)}", code=400
        )
    # One copy up front; the helpers then merge in place into structures they own.
    owned = _copy(doc) if isinstance(doc, dict) else {}
    result = _smp_map(owned, patch, _KINDS.get(kind, _GENERIC), "")
    return result if result is not None else {}


def _smp_map(
    original: dict[str, Any], patch: dict[str, Any], fields: dict[str, _Field] | None, path: str
) -> dict[str, Any] | None:
    """Merge ``patch`` into ``original`` (owned by the caller, changed in place).

    Returns the merged map, or ``None`` when the patch says "delete this map".
    """
    directive = patch.get(_DIRECTIVE)
    if directive is not None:
        if directive == "delete":
            return None
        if directive == "replace":
            replaced: dict[str, Any] = _strip(patch)
            return replaced
        if directive != "merge":
            raise PatchError(
                f"{path or '/'}: unknown $patch directive {directive!r} "
                "(expected replace, delete or merge)",
                400,
            )
    result: dict[str, Any] = original
    retain = patch.get(_RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise PatchError(f"{path or '/'}: $retainKeys must be a list of field names", 400)
        wanted = set(retain)
        for key in patch:
            if not key.startswith("$") and key not in wanted:
                raise PatchError(
                    f'{path or "/"}: field "{key}" is in the patch but not in its $retainKeys list'
                )
        result = {k: v for k, v in result.items() if k in wanted}
    # Deletions from primitive lists come first so that the same patch may re-add a value.
    for key, values in patch.items():
        if key.startswith(_DELETE_PREFIX):
            name = key[len(_DELETE_PREFIX) :]
            if not isinstance(values, list):
                raise PatchError(f"{path}/{name}: {key} must be a list", 400)
            current = result.get(name)
            if isinstance(current, list):
                result[name] = [v for v in current if not any(_json_equal(v, d) for d in values)]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child_path = f"{path}/{key}"
        field = fields.get(key) if fields else None
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            child = _TYPES.get(field.type) if field and field.type else None
            merged = _smp_map(
                current if isinstance(current, dict) else {}, value, child, child_path
            )
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            merged_list = _smp_list(result.get(key), value, field, child_path)
            if merged_list is None:
                result.pop(key, None)
            else:
                result[key] = merged_list
        else:
            result[key] = value
    for key, order in patch.items():
        if key.startswith(_ORDER_PREFIX):
            name = key[len(_ORDER_PREFIX) :]
            if not isinstance(order, list):
                raise PatchError(f"{path}/{name}: {key} must be a list", 400)
            current = result.get(name)
            if isinstance(current, list):
                field = fields.get(name) if fields else None
                result[name] = _reorder(current, order, field.key if field else None)
    return result


def _smp_list(original: Any, patch: list[Any], field: _Field | None, path: str) -> list[Any] | None:
    key = field.key if field else None
    # An item {"$patch": "replace"} means "the list is exactly the other items".
    if any(isinstance(p, dict) and p.get(_DIRECTIVE) == "replace" for p in patch):
        return [
            _strip(p) for p in patch if not (isinstance(p, dict) and p.get(_DIRECTIVE) == "replace")
        ]
    if key is None or not isinstance(original, list):
        original = []
        if key is None:
            return [_strip(p) for p in patch if not _is_delete(p)]
    if key == _SET or not all(isinstance(p, dict) for p in patch):
        if key != _SET:
            raise PatchError(f"{path}: items must be objects with the merge key {key!r}")
        merged = list(original)
        for item in patch:
            if not any(_json_equal(item, v) for v in merged):
                merged.append(_copy(item))
        return merged
    child = _TYPES.get(field.type) if field and field.type else None
    merged = list(original)
    for i, item in enumerate(patch):
        item_path = f"{path}[{i}]"
        if key not in item:
            raise PatchError(f"{item_path}: the item does not contain the merge key {key!r}")
        ident = item[key]
        pos = next(
            (
                j
                for j, v in enumerate(merged)
                if isinstance(v, dict) and _json_equal(v.get(key), ident)
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            merged = [
                v for v in merged if not (isinstance(v, dict) and _json_equal(v.get(key), ident))
            ]
            continue
        base = merged[pos] if pos is not None else {}
        new = _smp_map(base, item, child, f"{path}[{key}={ident}]")
        if new is None:
            continue
        if pos is None:
            merged.append(new)
        else:
            merged[pos] = new
    return merged


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_DIRECTIVE) == "delete"


def _strip(value: Any) -> Any:
    """A copy of ``value`` without any ``$`` directive keys (and without null members)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Put the items named in ``order`` into that order, in the slots they occupy already.

    Items the order does not mention (known only to the server) keep their positions, as
    upstream keeps server-only items where they were.
    """
    ident: Callable[[Any], Any]
    if key:

        def ident(item: Any) -> Any:
            return item.get(key) if isinstance(item, dict) else item
    else:

        def ident(item: Any) -> Any:
            return item

    wanted = [ident(o) for o in order]

    def rank(item: Any) -> int | None:
        value = ident(item)
        return next((i for i, w in enumerate(wanted) if _json_equal(w, value)), None)

    ranks = [rank(item) for item in items]
    slots = [i for i, r in enumerate(ranks) if r is not None]
    ordered = sorted((items[i] for i in slots), key=lambda item: rank(item) or 0)
    result = list(items)
    for slot, item in zip(slots, ordered, strict=True):
        result[slot] = item
    return result


# --------------------------------------------------------------------------------------
# server-side apply and dispatch


def server_side_apply(doc: dict[str, Any], desired: dict[str, Any], kind: str) -> dict[str, Any]:
    """Merge the applier's desired object over ``doc`` like a strategic merge patch.

    Fields the applier did not mention are left alone; keyed lists merge by key. This is a
    simplification of upstream's field ownership (no managedFields, no conflicts).
    """
    if not isinstance(desired, dict):
        raise PatchError(f"an apply body must be an object, got {_type_name(desired)}", 400)
    return strategic_merge_patch(doc, desired, kind)


def _decode(body: bytes | str | Any, yaml_ok: bool) -> Any:
    if not isinstance(body, bytes | bytearray | str):
        return body
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    try:
        return json.loads(text)
    except ValueError as exc:
        if not yaml_ok:
            raise PatchError(f"the patch is not valid JSON: {exc}", 400) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PatchError(f"the apply body is not valid YAML or JSON: {exc}", 400) from exc


def apply_patch(
    doc: dict[str, Any], body: bytes | str | Any, content_type: str, kind: str
) -> dict[str, Any]:
    """Apply a PATCH request body to ``doc`` according to its Content-Type.

    ``body`` is the raw request body (bytes or str) or an already decoded JSON value.
    Raises ``UnsupportedPatchType`` (415) for other media types and ``PatchError`` (400/422)
    when the body cannot be decoded or applied.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in PATCH_CONTENT_TYPES:
        raise UnsupportedPatchType(content_type)
    try:
        decoded = _decode(body, yaml_ok=media == APPLY_PATCH)
    except UnicodeDecodeError as exc:
        raise PatchError(f"the patch is not UTF-8 text: {exc}", 400) from exc
    if media == JSON_PATCH:
        return json_patch(doc, decoded)
    if media == MERGE_PATCH:
        return merge_patch(doc, decoded)
    if media == STRATEGIC_MERGE_PATCH:
        return strategic_merge_patch(doc, decoded, kind)
    return server_side_apply(doc, decoded, kind)
