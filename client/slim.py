"""Informer transforms that shrink cached objects to the fields a component reads.

A pod as served is ~2.4 KB of JSON but ~10 KB of Python objects, and the scheduler and
the controller manager each cache every pod in the cluster. ``slimmer(fields)`` returns a
transform for ``Informer(..., transform=...)`` that rebuilds an object keeping only what
an allow-list names (``Struct``: these keys, each with its own rule; ``Each``: every item
of a list by one rule; ``SHARED`` / ``UNIQUE``: the value as served). A field the
component never reads costs nothing; a field it reads but the list omits is a bug, so
each component keeps its list beside the code that reads the pods, with a test that runs
that code on full and on slimmed pods and compares the answers.

What is kept is shared: pods stamped from one template have equal specs, equal labels,
equal owner references, equal conditions when they changed in the same second. The
``Interner`` hands out one canonical copy of each equal value (keyed by its JSON), so
10,000 replicas hold one spec, not 10,000; recurring strings go through ``sys.intern``.
Only the names, uids and resourceVersions (``UNIQUE``) and the two small dicts that hold
them are each pod's own.

Cached objects are shared between pods, so they must never be modified (the informer's
rule already), and a slimmed object must never be written back with PUT (merge patches
of the fields kept are fine).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

Obj = dict[str, Any]

SHARED = "shared"  # keep as served, one copy shared among equal values
UNIQUE = "unique"  # keep as served; no two objects have it (names, uids, versions)


@dataclass(frozen=True)
class Struct:
    """An object: keep only the keys named, each by its own rule. ``shared``: equal
    results are one object (False for a level that holds ``UNIQUE`` fields)."""

    fields: Mapping[str, Rule]
    shared: bool = True


@dataclass(frozen=True)
class Each:
    """A list: every item by ``item``."""

    item: Rule


Rule = Struct | Each | str

_intern = sys.intern
_ATOMS = (int, float, bool, type(None))


class Interner:
    """Canonical copies of equal JSON values, at most ``limit`` of them (oldest first
    out: a value pushed out is only shared less, never wrong)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._values: dict[bytes, Any] = {}

    def __len__(self) -> int:
        return len(self._values)

    def share(self, value: Any) -> Any:
        """``value``, or an equal value seen before."""
        t = type(value)
        if t is str:
            return _intern(value)
        if t in _ATOMS:
            return value
        try:
            key = orjson.dumps(value)
        except TypeError:
            return value  # not JSON (a test's stand-in object): keep it unshared
        got = self._values.get(key)
        if got is not None:
            return got
        if len(self._values) >= self.limit:
            del self._values[next(iter(self._values))]
        # orjson's result keeps its ~4 KB encoder buffer however short the JSON is: keep
        # an exact-size copy, or 4,096 keys would hold 16 MiB.
        self._values[bytes(memoryview(key))] = value
        return value


def pick(value: Any, rule: Rule, interner: Interner) -> Any:
    """``value`` reduced to what ``rule`` keeps (the argument is not modified)."""
    if type(rule) is str:
        return value if rule == UNIQUE else interner.share(value)
    if type(rule) is Each:
        if type(value) is not list:
            return interner.share(value)  # malformed: keep as served
        return interner.share([pick(v, rule.item, interner) for v in value])
    assert type(rule) is Struct
    if type(value) is not dict:
        return interner.share(value)
    fields = rule.fields
    if rule.shared:
        out: Obj = {}
        for k, v in value.items():
            sub = fields.get(k)
            if sub is not None:
                out[_intern(k)] = pick(v, sub, interner)
        return interner.share(out)
    keys: list[str] = []
    values: list[Any] = []
    for k, v in value.items():
        sub = fields.get(k)
        if sub is not None:
            keys.append(k)
            values.append(pick(v, sub, interner))
    return _own_dict(tuple(keys), values)


# Each object's own dicts (a pod and its metadata) are built as the attribute dict of an
# instance of a class made for their key order: CPython then stores one keys table per
# class and only the values per dict (a 5-key dict: 160 B instead of 224; 7 keys: 184
# instead of 312). They are ordinary ``dict``s to every reader. A few shapes recur (which
# optional fields a pod has); past ``_SHAPES_LIMIT`` plain dicts are built.
_SHAPES: dict[tuple[str, ...], type] = {}
_SHAPES_LIMIT = 512


def _own_dict(keys: tuple[str, ...], values: list[Any]) -> Obj:
    shape = _SHAPES.get(keys)
    if shape is None:
        if len(_SHAPES) >= _SHAPES_LIMIT or not all(type(k) is str for k in keys):
            return dict(zip(keys, values, strict=True))
        shape = _SHAPES[keys] = type("CachedObject", (), {})
    out: Obj = shape().__dict__
    out.update(zip(keys, values, strict=True))
    return out


def slimmer(
    rule: Struct, interner: Interner | None = None, *, limit: int = 4096
) -> Callable[[Obj], Obj]:
    """An informer transform keeping what ``rule`` names, with its own ``Interner``."""
    shared = interner if interner is not None else Interner(limit)

    def transform(obj: Obj) -> Obj:
        out: Obj = pick(obj, rule, shared)
        return out

    return transform


# -- the parts of a pod most consumers keep --------------------------------------------------

# Who the pod is: unique per pod, in a dict of its own.
POD_IDENTITY: dict[str, Rule] = {
    "name": UNIQUE,
    "namespace": SHARED,
    "uid": UNIQUE,
    "resourceVersion": UNIQUE,
    "creationTimestamp": SHARED,
    "deletionTimestamp": SHARED,
}


def only_annotations(*keys: str) -> Struct:
    """Only these annotations (the last-applied configuration and user notes go)."""
    return Struct({k: SHARED for k in keys})


def pod_rule(metadata: Mapping[str, Rule], spec: Struct, status: Struct) -> Struct:
    """A pod: ``apiVersion``/``kind``, ``metadata`` (with ``POD_IDENTITY``), spec, status."""
    return Struct(
        {
            "apiVersion": SHARED,
            "kind": SHARED,
            "metadata": Struct({**POD_IDENTITY, **metadata}, shared=False),
            "spec": spec,
            "status": status,
        },
        shared=False,
    )
