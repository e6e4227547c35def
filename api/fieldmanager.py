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


# (id(definitions), id(node)) -> (node, definitions, resolved node): Schema.node's memo.
_RESOLVED: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
_RESOLVED_MAX = 50_000
# (id(definitions), id(node), key) -> (node, child node): _child's memo.
_CHILDREN: dict[tuple[int, int, str], tuple[Any, Any]] = {}


@dataclass(frozen=True)
class Schema:
    """One kind's schema: its definition name among ``definitions`` (None: deduced)."""

    definitions: Definitions = field(default_factory=dict)
    root: str | None = None

    def node(self, ref_or_node: Any) -> Any:
        """A schema node with its ``$ref``/``allOf`` followed (memoised: every write walks
        the schema, and following a ref builds a new node)."""
        if not isinstance(ref_or_node, dict):
            return None
        key = (id(self.definitions), id(ref_or_node))
        hit = _RESOLVED.get(key)
        if hit is not None and hit[0] is ref_or_node and hit[1] is self.definitions:
            return hit[2]
        resolved = self._resolve(ref_or_node)
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        # The key objects are held in the value, so their ids stay theirs while memoised.
        _RESOLVED[key] = (ref_or_node, self.definitions, resolved)
        return resolved

    def _resolve(self, ref_or_node: Any) -> Any:
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
    """The schema of field ``key`` under ``node`` (memoised, as Schema.node)."""
    if not isinstance(node, dict):
        return None
    memo = (id(schema.definitions), id(node), key)
    hit = _CHILDREN.get(memo)
    if hit is not None and hit[0] is node:
        return hit[1]
    child = _find_child(schema, node, key)
    if len(_CHILDREN) >= _RESOLVED_MAX:
        _CHILDREN.clear()
    _CHILDREN[memo] = (node, child)
    return child


def _find_child(schema: Schema, node: Obj, key: str) -> Any:
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
    parts: list[str] = []
    for k in sorted(keys):
        if isinstance(item, dict) and k in item:
            value = item[k]
        elif isinstance(props.get(k), dict) and "default" in props[k]:
            value = props[k]["default"]
        else:
            continue
        parts.append(f"{_json_str(k)}:{_value_of(value)}")
    return "{" + ",".join(parts) + "}"


def _value_of(item: Any) -> str:
    """Compact JSON with sorted keys; strings and numbers (every key and most set items)
    without json.dumps' per-call setup, which is most of a write's field-set cost."""
    if isinstance(item, str):
        return _json_str(item)
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    return json.dumps(item, separators=(",", ":"), sort_keys=True)


_json_str = json.encoder.encode_basestring_ascii  # json.dumps' own encoding of a str


# ------------------------------------------------------------------ field sets


def _roots(obj: Obj, schema: Schema, subresource: str) -> dict[Path, tuple[Any, Any]]:
    """The top fields of ``obj`` a manager can own: path -> (value, schema node)."""
    out: dict[Path, tuple[Any, Any]] = {}
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
                    out[(("f", "metadata"), ("f", mk))] = (mv, _child(schema, node, mk))
            continue
        out[(("f", key),)] = (value, node)
    return out


def field_set(obj: Obj, schema: Schema, subresource: str = "") -> set[Path]:
    """The fields ``obj`` sets (the leaves and list items), as a manager would own them."""
    out: set[Path] = set()
    for path, (value, node) in _roots(obj, schema, subresource).items():
        _collect(value, schema, node, path, out)
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
                _collect_item(
                    item, schema, item_node, (*path, ("k", _key_of(item, keys, item_node))), out
                )
            return
        if kind == "set":
            for item in value:
                out.add((*path, ("v", _value_of(item))))
            return
    out.add(path)


def _collect_item(
    item: Any, schema: Schema, item_node: Any, item_path: Path, out: set[Path]
) -> None:
    """A list-map item: the item itself and each of its fields."""
    out.add(item_path)
    if isinstance(item, dict):
        for k, v in item.items():
            _collect(v, schema, _child(schema, item_node, k), (*item_path, ("f", k)), out)


# ------------------------------------------------------------------ changes of a write


def changes(
    old: Obj, new: Obj, schema: Schema, subresource: str = ""
) -> tuple[set[Path], set[Path]]:
    """(added or modified, removed) fields from ``old`` to ``new``, as structured-merge-diff's
    Compare: one walk that skips equal subtrees, so a small patch costs little."""
    before = _roots(old, schema, subresource) if old else {}
    after = _roots(new, schema, subresource)
    changed: set[Path] = set()
    removed: set[Path] = set()
    for path, (value, node) in after.items():
        if path in before:
            _diff(before[path][0], value, schema, node, path, changed, removed)
        else:
            _collect(value, schema, node, path, changed)
    for path, (value, node) in before.items():
        if path not in after:
            _collect(value, schema, node, path, removed)
    return changed, removed


def _diff_fields(
    old: Obj,
    new: Obj,
    schema: Schema,
    node: Any,
    path: Path,
    changed: set[Path],
    removed: set[Path],
) -> None:
    for k, v in new.items():
        p = (*path, ("f", k))
        if k in old:
            _diff(old[k], v, schema, _child(schema, node, k), p, changed, removed)
        else:
            _collect(v, schema, _child(schema, node, k), p, changed)
    for k, v in old.items():
        if k not in new:
            _collect(v, schema, _child(schema, node, k), (*path, ("f", k)), removed)


def _diff(
    old: Any,
    new: Any,
    schema: Schema,
    node: Any,
    path: Path,
    changed: set[Path],
    removed: set[Path],
) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict) and old and new and not _atomic_map(node):
        _diff_fields(old, new, schema, node, path, changed, removed)
        return
    if isinstance(old, list) and isinstance(new, list) and old and new:
        kind, keys = _list_type(node)
        if kind == "map" and keys:
            item_node = _items(schema, node)
            olds = {_key_of(i, keys, item_node): i for i in old}
            news = {_key_of(i, keys, item_node): i for i in new}
            for key, item in news.items():
                ip = (*path, ("k", key))
                was = olds.get(key, _MISSING)
                if was is _MISSING:
                    _collect_item(item, schema, item_node, ip, changed)
                elif isinstance(was, dict) and isinstance(item, dict):
                    _diff_fields(was, item, schema, item_node, ip, changed, removed)
                elif was != item:
                    changed.add(ip)
            for key, item in olds.items():
                if key not in news:
                    _collect_item(item, schema, item_node, (*path, ("k", key)), removed)
            return
        if kind == "set":
            was_set = {_value_of(i) for i in old}
            now_set = {_value_of(i) for i in new}
            changed.update((*path, ("v", v)) for v in now_set - was_set)
            removed.update((*path, ("v", v)) for v in was_set - now_set)
            return
    # A leaf, an atomic value, or a change of shape (a map emptied, a scalar for a map).
    was_paths: set[Path] = set()
    now_paths: set[Path] = set()
    _collect(old, schema, node, path, was_paths)
    _collect(new, schema, node, path, now_paths)
    changed |= now_paths
    removed |= was_paths - now_paths


# ------------------------------------------------------------------ fieldsV1


def to_fields_v1(paths: set[Path]) -> Obj:
    """A field set in the ``fieldsV1`` trie form (``f:``/``k:``/``v:`` keys, ``.`` first
    on a member that also has members below it, as structured-merge-diff writes it)."""
    trie: Obj = {}
    members: list[Obj] = []
    for path in sorted(paths):  # a prefix sorts before what is under it
        node = trie
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
        members.append(node)
    for node in members:  # linear: a member with children gets its "." mark
        if node:
            below = dict(node)
            node.clear()
            node["."] = {}
            node.update(below)
    return trie


def fields_v1_has(trie: Any, path: Path) -> bool:
    """Whether the ``fieldsV1`` trie names ``path`` itself (without decoding the trie)."""
    node = trie
    for kind, name in path:
        if not isinstance(node, dict):
            return False
        node = node.get(f"{kind}:{name}")
        if node is None:
            return False
    return isinstance(node, dict) and (not node or "." in node)


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
        (e.get("manager") or "") == manager
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

    merged = merge(live, applied, schema, schema.root_node())
    # A conflict is a field another manager owns that this apply adds or changes
    # (structured-merge-diff compares the live object with the merged one: a list item
    # present in both is no change, only its fields are).
    changed, _ = changes(live, merged, schema, subresource)
    conflicts = [Conflict(_printed(e), p) for e, paths in others for p in sorted(changed & paths)]
    if conflicts and not force and manager == KUBECTL_APPLY_MANAGER:
        # kubectl's server-side apply over client-side apply: what the last-applied
        # annotation names was kubectl's own, and is taken over without a conflict.
        allowed = last_applied_fields(live, schema)
        if all(c.path in allowed for c in conflicts):
            force = True
        else:
            conflicts = [c for c in conflicts if c.path not in allowed]
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = {c.path for c in conflicts}

    owned_by_others = set().union(*(p for _, p in others)) - taken
    # Fields this manager stopped applying that no one else owns go: only the topmost of
    # them (a list item goes whole, its own fields with it), none that still holds kept ones.
    keep = new_set | owned_by_others
    gone = {p for p in old_set - keep if not any(k[: len(p)] == p for k in keep)}
    for path in gone:
        if not any(path[:n] in gone for n in range(1, len(path))):
            remove_path(merged, path, schema)
            _prune_emptied(merged, path[:-1], keep, schema)
    if manager == KUBECTL_APPLY_MANAGER:
        merged = sync_last_applied(merged, applied)

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
    merged.setdefault("metadata", {})["managedFields"] = sort_entries(entries)
    return merged


def _without_fields(obj: Obj) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


# ------------------------------------------------------------------ Update operations

# kube-apiserver's DefaultMaxUpdateManagers and the bucket the oldest go to past it.
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


def _same_update(e: Obj, manager: str, api_version: str, subresource: str) -> bool:
    # An Update entry is one per (manager, apiVersion, subresource); an Apply entry's
    # identity leaves the version out (BuildManagerIdentifier).
    return _same_owner(e, manager, "Update", subresource) and e.get("apiVersion") == api_version


def sort_entries(entries: list[Obj]) -> list[Obj]:
    """kube-apiserver's order of managedFields: Apply before Update, then oldest first,
    then by manager, version and subresource."""
    return sorted(
        entries,
        key=lambda e: (
            str(e.get("operation") or ""),
            str(e.get("time") or ""),
            str(e.get("manager") or ""),
            str(e.get("apiVersion") or ""),
            str(e.get("subresource") or ""),
        ),
    )


def cap_update_managers(entries: list[Obj], cap: int = MAX_UPDATE_MANAGERS) -> list[Obj]:
    """Past ``cap`` Update entries, the oldest merge into one ``ancient-changes`` entry per
    version (kube-apiserver's capManagersManager), so that a stream of one-off clients
    cannot grow an object without bound."""
    updates = [e for e in entries if e.get("operation") == "Update"]
    if len(updates) <= cap:
        return entries
    oldest = sorted(updates, key=lambda e: (str(e.get("time") or ""), str(e.get("manager"))))
    buckets: dict[str, Obj] = {}
    merged: set[int] = set()
    count = len(updates)
    for e in oldest:
        if count <= cap:
            break
        version = str(e.get("apiVersion") or "")
        bucket = buckets.get(version)
        if bucket is None:
            buckets[version] = e
            continue
        paths = from_fields_v1(bucket.get("fieldsV1")) | from_fields_v1(e.get("fieldsV1"))
        new_bucket = {
            **_entry(ANCIENT_CHANGES, "Update", version, "", paths, str(e.get("time") or "")),
        }
        merged.update((id(bucket), id(e)))
        buckets[version] = new_bucket
        count -= 1
    kept = [e for e in entries if id(e) not in merged]
    kept.extend(b for b in buckets.values() if b.get("manager") == ANCIENT_CHANGES)
    return sort_entries(kept)


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
    """``new`` with the fields a non-apply write (create, PUT, json/merge/strategic PATCH)
    added or changed owned by ``manager`` (operation Update) and taken from the others, and
    the fields it removed owned by no one: structured-merge-diff's Updater.

    The entries start from ``new``'s own managedFields when it carries any (a client may
    write them: kubectl's client-side to server-side apply migration does), else from
    ``old``'s; a subresource write always starts from ``old``'s. A write that changes no
    field leaves the entries as they were (no timestamp alone makes a write)."""
    old = old or {}
    given = [] if subresource else _entries(new)
    base = given or _entries(old)
    if not old and not base:  # a plain create: the new object's fields, in one walk
        trie = fields_trie(new, schema, subresource)
        if not trie:
            return new
        return _with_entries(new, [_raw_entry(manager, api_version, subresource, trie, now)])
    changed, removed = changes(old, new, schema, subresource)
    if not changed and not removed:
        return new if base == _entries(new) else _with_entries(new, base)
    touched = changed | removed
    entries: list[Obj] = []
    mine: Obj | None = None
    for e in base:
        if _same_update(e, manager, api_version, subresource):
            mine = e
            continue
        theirs = e.get("fieldsV1")
        hit = [p for p in touched if fields_v1_has(theirs, p)]
        if not hit or not isinstance(theirs, dict):
            entries.append(e)  # untouched: kept as stored
            continue
        for path in hit:  # copy-on-write: only the nodes along each path are copied
            theirs = _trie_without(theirs, path)
        if theirs:
            entries.append({**e, "fieldsV1": theirs})
    raw = mine.get("fieldsV1") if mine is not None else None
    owned: Obj = raw if isinstance(raw, dict) else {}
    for path in removed:
        if fields_v1_has(owned, path):
            owned = _trie_without(owned, path)
    for path in sorted(changed):
        owned = _trie_with(owned, path)
    if owned:
        time = now if changed else str((mine or {}).get("time") or now)
        entries.append(_raw_entry(manager, api_version, subresource, owned, time))
    return _with_entries(new, cap_update_managers(sort_entries(entries)))


def _raw_entry(manager: str, api_version: str, subresource: str, trie: Obj, now: str) -> Obj:
    entry: Obj = {"manager": manager} if manager else {}  # nameless: omitted, as upstream
    entry |= {
        "operation": "Update",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": trie,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def fields_trie(obj: Obj, schema: Schema, subresource: str = "") -> Obj:
    """``to_fields_v1(field_set(obj))`` built in one walk, without the set (a create's
    entry: every write's cost, so it is kept to one pass over the object)."""
    trie: Obj = {}
    for path, (value, node) in _roots(obj, schema, subresource).items():
        at = trie
        for kind, name in path:
            at = at.setdefault(f"{kind}:{name}", {})
        _trie_collect(value, schema, node, at)
    return trie


def _trie_collect(value: Any, schema: Schema, node: Any, at: Obj) -> None:
    """Fill ``at`` (the trie node of ``value``'s path) as ``_collect`` would list paths."""
    if isinstance(value, dict) and value and not _atomic_map(node):
        for k, v in value.items():
            _trie_collect(v, schema, _child(schema, node, k), at.setdefault(f"f:{k}", {}))
        return
    if isinstance(value, list) and value:
        kind, keys = _list_type(node)
        if kind == "map" and keys:
            item_node = _items(schema, node)
            for item in value:
                item_at = at.setdefault(f"k:{_key_of(item, keys, item_node)}", {})
                if isinstance(item, dict) and item:
                    item_at["."] = {}
                    for k, v in item.items():
                        _trie_collect(
                            v,
                            schema,
                            _child(schema, item_node, k),
                            item_at.setdefault(f"f:{k}", {}),
                        )
            return
        if kind == "set":
            for item in value:
                at[f"v:{_value_of(item)}"] = {}
            return


def _trie_without(trie: Obj, path: Path) -> Obj:
    """``trie`` without the member ``path``, sharing every node off that path."""
    key = f"{path[0][0]}:{path[0][1]}"
    child = trie.get(key)
    if not isinstance(child, dict):
        return trie
    if len(path) == 1:
        if child and "." not in child:
            return trie  # not itself a member: only things below it are
        rest = {k: v for k, v in child.items() if k != "."}
        out = dict(trie)
        if rest:
            out[key] = rest
        else:
            del out[key]
        return out
    new_child = _trie_without(child, path[1:])
    if new_child is child:
        return trie
    out = dict(trie)
    if new_child == {".": {}}:
        out[key] = {}  # only its own mark is left: a member with nothing below
    elif new_child:
        out[key] = new_child
    else:
        del out[key]
    return out


def _trie_with(trie: Obj, path: Path) -> Obj:
    """``trie`` with the member ``path`` added, sharing every node off that path."""
    key = f"{path[0][0]}:{path[0][1]}"
    child = trie.get(key)
    out = dict(trie)
    if len(path) == 1:
        if child is None:
            out[key] = {}
        elif child and "." not in child:
            out[key] = {".": {}, **child}
        else:
            return trie
        return out
    if child is None:
        base: Obj = {}
    elif not child:
        base = {".": {}}  # a member leaf that gets members below keeps its own mark
    else:
        base = child
    out[key] = _trie_with(base, path[1:])
    return out


def _with_entries(obj: Obj, entries: list[Obj]) -> Obj:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


# ------------------------------------------------------------------ client-side apply

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The one manager whose applies keep client-side apply's annotation in step
# (kube-apiserver's lastAppliedManager and lastAppliedUpdater).
KUBECTL_APPLY_MANAGER = "kubectl"


def last_applied_fields(live: Obj | None, schema: Schema) -> set[Path]:
    """The fields the live object's last-applied-configuration names: kubectl's client-side
    apply owned them, so kubectl's server-side apply may take them without a conflict."""
    raw = ((live or {}).get("metadata") or {}).get("annotations", {}).get(LAST_APPLIED)
    if not isinstance(raw, str) or not raw:
        return set()
    try:
        doc = json.loads(raw)
    except ValueError:
        return set()
    return field_set(doc, schema) if isinstance(doc, dict) else set()


def sync_last_applied(merged: Obj, applied: Obj) -> Obj:
    """``merged`` with its last-applied-configuration (when it still has one) set to what
    was applied, so that a later client-side ``kubectl apply`` diffs against it."""
    annotations = (merged.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return merged
    doc = copy.deepcopy(applied)
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        applied_ann = meta.get("annotations")
        if isinstance(applied_ann, dict):
            applied_ann.pop(LAST_APPLIED, None)
            if not applied_ann:
                meta.pop("annotations")
    out = dict(merged)
    out["metadata"] = {
        **merged["metadata"],
        "annotations": {**annotations, LAST_APPLIED: json.dumps(doc, separators=(",", ":")) + "\n"},
    }
    return out
