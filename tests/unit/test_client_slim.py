"""client.slim: allow-list transforms, and the sharing of equal values between pods."""

from __future__ import annotations

import copy
import gc
import sys
import tracemalloc
from typing import Any

import orjson

from client.slim import SHARED, UNIQUE, Each, Interner, Struct, pick, slimmer

Obj = dict[str, Any]

RULE = Struct(
    {
        "id": UNIQUE,
        "tags": SHARED,
        "items": Each(Struct({"keep": SHARED})),
        "inner": Struct({"a": SHARED}),
    },
    shared=False,
)


def thing(i: int) -> Obj:
    return {
        "id": f"id-{i}",
        "tags": {"app": "web", "tier": "".join(["back", "end"])},
        "items": [{"keep": 1, "drop": "x" * 50}, {"keep": [1, 2], "drop": None}],
        "inner": {"a": "same", "b": "dropped"},
        "dropped": {"big": "y" * 100},
    }


def test_pick_keeps_only_the_named_fields_and_leaves_the_argument_alone() -> None:
    obj = thing(1)
    before = copy.deepcopy(obj)
    out = pick(obj, RULE, Interner())
    assert obj == before
    assert out == {
        "id": "id-1",
        "tags": {"app": "web", "tier": "backend"},
        "items": [{"keep": 1}, {"keep": [1, 2]}],
        "inner": {"a": "same"},
    }


def test_equal_values_are_one_object_and_unique_ones_are_not_shared() -> None:
    transform = slimmer(RULE)
    a, b = transform(thing(1)), transform(thing(2))
    assert a is not b and a["id"] != b["id"]
    assert a["tags"] is b["tags"]
    assert a["items"] is b["items"]
    assert a["inner"] is b["inner"]
    s = pick({"id": "x", "tags": "".join(["st", "r"])}, RULE, Interner())
    assert s["tags"] is sys.intern("str")  # recurring strings: one copy


def test_malformed_values_are_kept_as_served() -> None:
    out = pick({"id": "x", "items": "not-a-list", "inner": 3}, RULE, Interner())
    assert out == {"id": "x", "items": "not-a-list", "inner": 3}
    assert pick("not-an-object", RULE, Interner()) == "not-an-object"


def test_values_that_only_look_alike_are_not_merged() -> None:
    interner = Interner()
    one, true, one_f = interner.share([1]), interner.share([True]), interner.share([1.0])
    assert one == [1] and true == [True] and one_f == [1.0]
    assert type(true[0]) is bool and type(one_f[0]) is float


def test_the_interner_is_bounded_and_forgets_the_oldest() -> None:
    interner = Interner(limit=3)
    first = interner.share({"n": 0})
    for n in range(1, 5):
        interner.share({"n": n})
    assert len(interner) == 3
    again = interner.share({"n": 0})
    assert again == first and again is not first  # forgotten: a new canonical copy
    assert interner.share({"n": 4}) is interner.share({"n": 4})


def test_interned_values_cost_about_their_size() -> None:
    # orjson's output keeps a ~4 KB buffer: the interner must not keep it as its key.
    interner = Interner(limit=10_000)
    gc.collect()
    tracemalloc.start()
    try:
        kept = [interner.share({"n": i}) for i in range(2000)]
        per = tracemalloc.get_traced_memory()[0] / len(kept)
    finally:
        tracemalloc.stop()
    assert per < 1000, per


def test_own_dicts_are_plain_dicts_of_their_own() -> None:
    transform = slimmer(RULE)
    a, b = transform(thing(1)), transform(thing(2))
    assert type(a) is dict and list(a) == ["id", "tags", "items", "inner"]
    assert orjson.loads(orjson.dumps(a)) == a
    assert copy.deepcopy(a) == a and {**a} == a
    a["id"] = "changed"  # readers must not, but a write stays in its own dict
    assert b["id"] == "id-2"
    c = transform({"inner": {"a": 1}, "id": "first-the-other-way"})
    assert list(c) == ["inner", "id"] and c["id"] == "first-the-other-way"


def test_own_dicts_cost_less_than_plain_ones() -> None:
    transform = slimmer(RULE)
    things = [{"id": f"id-{i}", "tags": {}} for i in range(2000)]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = [transform(t) for t in things]
        per = (tracemalloc.get_traced_memory()[0] - base) / len(kept)
    finally:
        tracemalloc.stop()
    assert per < 150, per  # a plain 2-key dict: ~220 B
