"""Server-side apply's field ownership, as structured-merge-diff defines it (read, not
copied): the fields each manager set, in ``metadata.managedFields`` (``fieldsV1``), the
merge of an applied configuration by the schema's list types, conflicts, and the removal
of fields a manager stopped applying.

A field set is a set of paths; a path is a tuple of elements ``("f", name)`` (a field or
map key), ``("k", '{"name":"x"}')`` (an item of a list of type map, by its keys) or
``("v", '"x"')`` (an item of a list of type set, by value). The schema comes from the
caller (Kubernetes' definitions, swagger form, refs ``#/definitions/NAME``); without one
every list is atomic and every object granular, as structured-merge-diff deduces.
Pure: no I/O; the inputs are never mutated.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Path = tuple[tuple[str, str], ...]
Definitions = dict[str, Any]

# Never owned: set by the server, or the object's identity (structured-merge-diff's
# apiserver strips them before computing sets).
_META_SKIPPED = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    }
)


@dataclass(frozen=True)
class Schema:
    """One kind's schema: its definition name among ``definitions`` (None: deduced)."""

    definitions: Definitions = field(default_factory=dict)
    root: str | None = None

    def node(self, ref_or_node: Any) -> Any:
        """A schema node with its ``$ref``/``allOf`` followed."""
        node = ref_or_node
        for _ in range(8):
            if not isinstance(node, dict):
                return None
            ref = node.get("$ref") or (node.get("allOf") or [{}])[0].get("$ref")
            if not isinstance(ref, str):
                return node
            target = self.definitions.get(ref.rsplit("/", 1)[-1])
            if target is None:
                return None
            node = {**{k: v for k, v in node.items() if k not in ("$ref", "allOf")}, **target}
        return node

    def root_node(self) -> Any:
        return self.node(self.definitions.get(self.root)) if self.root else None


def _child(schema: Schema, node: Any, key: str) -> Any:
    if not isinstance(node, dict):
        return None
    props = node.get("properties")
    if isinstance(props, dict) and key in props:
        return schema.node(props[key])
    extra = node.get("additionalProperties")
    return schema.node(extra) if isinstance(extra, dict) else None


def _items(schema: Schema, node: Any) -> Any:
    return schema.node(node.get("items")) if isinstance(node, dict) else None


def _list_type(node: Any) -> tuple[str, list[str]]:
    if not isinstance(node, dict):
        return "atomic", []
    kind = node.get("x-kubernetes-list-type") or "atomic"
    return kind, list(node.get("x-kubernetes-list-map-keys") or [])


def _atomic_map(node: Any) -> bool:
    return isinstance(node, dict) and node.get("x-kubernetes-map-type") == "atomic"


def _key_of(item: Any, keys: list[str], item_node: Any = None) -> str:
    """An item's key; a key field left out counts as its schema default (a port's
    protocol is TCP), as structured-merge-diff matches defaulted keys."""
    props = item_node.get("properties", {}) if isinstance(item_node, dict) else {}
    picked: dict[str, Any] = {}
    for k in sorted(keys):
        if isinstance(item, dict) and k in item:
            picked[k] = item[k]
        elif isinstance(props.get(k), dict) and "default" in props[k]:
            picked[k] = props[k]["default"]
    return json.dumps(picked, separators=(",", ":"), sort_keys=True)


def _value_of(item: Any) -> str:
    return json.dumps(item, separators=(",", ":"), sort_keys=True)


# ------------------------------------------------------------------ field sets


def field_set(obj: Obj, schema: Schema, subresource: str = "") -> set[Path]:
    """The fields ``obj`` sets (the leaves and list items), as a manager would own them."""
    out: set[Path] = set()
    root = schema.root_node()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if (key == "status") != (subresource == "status"):
            continue  # the main resource does not own status; /status owns only it
        node = _child(schema, root, key)
        if key == "metadata" and isinstance(value, dict):
            for mk, mv in value.items():
                if mk not in _META_SKIPPED:
                    _collect(
                        mv, schema, _child(schema, node, mk), (("f", "metadata"), ("f", mk)), out
                    )
            continue
        _collect(value, schema, node, (("f", key),), out)
    return out


def _collect(value: Any, schema: Schema, node: Any, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value and not _atomic_map(node):
        for k, v in value.items():
            _collect(v, schema, _child(schema, node, k), (*path, ("f", k)), out)
        return
    if isinstance(value, list) and value:
        kind, keys = _list_type(node)
        if kind == "map" and keys:
            item_node = _items(schema, node)
            for item in value:
                item_path = (*path, ("k", _key_of(item, keys, item_node)))
                out.add(item_path)
                if isinstance(item, dict):
                    for k, v in item.items():
                        _collect(
                            v, schema, _child(schema, item_node, k), (*item_path, ("f", k)), out
                        )
            return
        if kind == "set":
            for item in value:
                out.add((*path, ("v", _value_of(item))))
            return
    out.add(path)


def to_fields_v1(paths: set[Path]) -> Obj:
    """A field set in the ``fieldsV1`` trie form (``f:``/``k:``/``v:`` keys, ``.``)."""
    trie: Obj = {}
    for path in sorted(paths):
        node = trie
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
        if node is not trie and any(len(p) > len(path) and p[: len(path)] == path for p in paths):
            node["."] = {}
    return trie


def from_fields_v1(trie: Any, prefix: Path = ()) -> set[Path]:
    """The field set a ``fieldsV1`` trie names."""
    out: set[Path] = set()
    if not isinstance(trie, dict):
        return out
    if prefix and (not trie or "." in trie):
        out.add(prefix)
    for key, sub in trie.items():
        if key == "." or ":" not in key:
            continue
        kind, name = key.split(":", 1)
        out |= from_fields_v1(sub, (*prefix, (kind, name)))
    return out


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it in a conflict: ``.spec.containers[name="x"].image``."""
    parts: list[str] = []
    for kind, name in path:
        if kind == "f":
            parts.append(f".{name}")
        elif kind == "k":
            keys = json.loads(name)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        else:
            parts.append(f"[={name}]")
    return "".join(parts)


# ------------------------------------------------------------------ values at paths


_MISSING = object()


def _step(container: Any, element: tuple[str, str], node: Any, schema: Schema) -> tuple[Any, Any]:
    kind, name = element
    if kind == "f":
        value = container.get(name, _MISSING) if isinstance(container, dict) else _MISSING
        return value, _child(schema, node, name)
    if not isinstance(container, list):
        return _MISSING, None
    if kind == "k":
        keys = sorted(json.loads(name))
        item_node = _items(schema, node)
        for item in container:
            if _key_of(item, keys, item_node) == name:
                return item, item_node
        return _MISSING, None
    for item in container:
        if _value_of(item) == name:
            return item, None
    return _MISSING, None


def value_at(obj: Obj, path: Path, schema: Schema) -> Any:
    node = schema.root_node()
    value: Any = obj
    for element in path:
        value, node = _step(value, element, node, schema)
        if value is _MISSING:
            return _MISSING
    return value


def remove_path(obj: Obj, path: Path, schema: Schema) -> None:
    """Remove the field or list item ``path`` names from ``obj`` (in place), if present."""
    node = schema.root_node()
    parent: Any = obj
    for element in path[:-1]:
        parent, node = _step(parent, element, node, schema)
        if parent is _MISSING:
            return
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif isinstance(parent, list):
        target, _ = _step(parent, path[-1], node, schema)
        if target is not _MISSING:
            parent.remove(target)


def _prune_emptied(obj: Obj, path: Path, keep: set[Path], schema: Schema) -> None:
    """Drop the maps a removal left empty that no one owns themselves (labels: {})."""
    while path:
        value = value_at(obj, path, schema)
        if value not in ({}, []) or path in keep:
            return
        remove_path(obj, path, schema)
        path = path[:-1]


# ------------------------------------------------------------------ merge


def merge(live: Any, applied: Any, schema: Schema, node: Any) -> Any:
    """``applied`` over ``live`` by the schema: objects field by field, lists of type map
    by their keys, sets by value, atomic lists and maps replaced."""
    if isinstance(live, dict) and isinstance(applied, dict) and not _atomic_map(node):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge(live.get(k), v, schema, _child(schema, node, k)) if k in live else v
        return out
    if isinstance(live, list) and isinstance(applied, list):
        kind, keys = _list_type(node)
        if kind == "map" and keys:
            item_node = _items(schema, node)
            by_key = {_key_of(i, keys, item_node): i for i in applied}
            merged = []
            for i in live:
                k = _key_of(i, keys, item_node)
                merged.append(merge(i, by_key.pop(k), schema, item_node) if k in by_key else i)
            return merged + [i for i in applied if _key_of(i, keys, item_node) in by_key]
        if kind == "set":
            seen = {_value_of(i) for i in live}
            return list(live) + [i for i in applied if _value_of(i) not in seen]
    return copy.deepcopy(applied)


# ------------------------------------------------------------------ managedFields


@dataclass(frozen=True)
class Conflict:
    manager: str  # as printed: "name" or "name" using apps/v1
    path: Path


class ApplyConflict(Exception):
    """Fields the applier would change that other managers own (answered 409)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))


def conflict_message(conflicts: list[Conflict]) -> str:
    """Kubernetes' wording (apiserver fieldmanager's NewConflictError)."""
    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {c.manager}: {path_string(c.path)}"
    by_manager: dict[str, list[Path]] = {}
    for c in conflicts:
        by_manager.setdefault(c.manager, []).append(c.path)
    lines: list[str] = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines.extend(f"- {path_string(p)}" for p in by_manager[manager])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _printed(entry: Obj) -> str:
    name = json.dumps(str(entry.get("manager", "")))
    if entry.get("subresource"):
        name += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        name += f" using {entry.get('apiVersion', '')}"
    return name


def _entries(obj: Obj) -> list[Obj]:
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return [e for e in entries if isinstance(e, dict)]


def _entry(
    manager: str, operation: str, api_version: str, subresource: str, paths: set[Path], now: str
) -> Obj:
    entry: Obj = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _same_owner(e: Obj, manager: str, operation: str, subresource: str) -> bool:
    return (
        e.get("manager") == manager
        and e.get("operation") == operation
        and (e.get("subresource") or "") == subresource
    )


def server_side_apply(
    live: Obj | None,
    applied: Obj,
    schema: Schema,
    *,
    manager: str,
    api_version: str,
    now: str,
    force: bool = False,
    subresource: str = "",
) -> Obj:
    """The object after ``manager`` applies ``applied`` over ``live`` (None: a create).

    Raises ``ApplyConflict`` when a field it sets to a new value is owned by another
    manager, unless ``force`` (the field then changes owner)."""
    live = copy.deepcopy(live) if live is not None else {}
    applied = {k: v for k, v in applied.items()}
    applied_meta = dict(applied.get("metadata") or {})
    applied_meta.pop("managedFields", None)
    applied["metadata"] = applied_meta
    new_set = field_set(applied, schema, subresource)
    others: list[tuple[Obj, set[Path]]] = []
    old_set: set[Path] = set()
    old_time = ""
    for e in _entries(live):
        paths = from_fields_v1(e.get("fieldsV1"))
        if _same_owner(e, manager, "Apply", subresource):
            old_set, old_time = paths, str(e.get("time") or "")
        else:
            others.append((e, paths))

    conflicts: list[Conflict] = []
    for e, paths in others:
        for path in sorted(new_set & paths):
            if value_at(live, path, schema) != value_at(applied, path, schema):
                conflicts.append(Conflict(_printed(e), path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = {c.path for c in conflicts}

    merged = merge(live, applied, schema, schema.root_node())
    owned_by_others = set().union(*(p for _, p in others)) - taken
    # Fields this manager stopped applying that no one else owns go: only the topmost of
    # them (a list item goes whole, its own fields with it), none that still holds kept ones.
    keep = new_set | owned_by_others
    gone = {p for p in old_set - keep if not any(k[: len(p)] == p for k in keep)}
    for path in gone:
        if not any(path[:n] in gone for n in range(1, len(path))):
            remove_path(merged, path, schema)
            _prune_emptied(merged, path[:-1], keep, schema)

    entries: list[Obj] = []
    for e, paths in others:
        kept = paths - taken
        if kept == paths:
            entries.append(e)
        elif kept:
            entries.append({**e, "fieldsV1": to_fields_v1(kept)})
    # An apply that changes neither the object nor what its manager owns keeps the entry's
    # time: as kube-apiserver, a timestamp alone makes no write (no new resourceVersion).
    unchanged = old_time and new_set == old_set and _without_fields(merged) == _without_fields(live)
    entries.append(
        _entry(manager, "Apply", api_version, subresource, new_set, old_time if unchanged else now)
    )
    merged.setdefault("metadata", {})["managedFields"] = entries
    return merged


def _without_fields(obj: Obj) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def record_update(
    old: Obj | None,
    new: Obj,
    schema: Schema,
    *,
    manager: str,
    api_version: str,
    now: str,
    subresource: str = "",
) -> Obj:
    """``new`` with the fields a non-apply write changed owned by ``manager`` (operation
    Update) and taken from the others, as Kubernetes records every write."""
    old = old or {}
    before = field_set(old, schema, subresource) if old else set()
    after = field_set(new, schema, subresource)
    changed = {
        p for p in after if p not in before or value_at(old, p, schema) != value_at(new, p, schema)
    }
    removed = before - after
    entries: list[Obj] = []
    mine: set[Path] = set()
    for e in _entries(new) or _entries(old):
        paths = from_fields_v1(e.get("fieldsV1"))
        if _same_owner(e, manager, "Update", subresource):
            mine = paths
            continue
        kept = paths - changed - removed
        if kept == paths:
            entries.append(e)
        elif kept:
            entries.append({**e, "fieldsV1": to_fields_v1(kept)})
    mine = ((mine | changed) - removed) & after
    out = dict(new)
    meta = dict(out.get("metadata") or {})
    if mine:
        entries.append(_entry(manager, "Update", api_version, subresource, mine, now))
    meta["managedFields"] = entries
    out["metadata"] = meta
    return out
