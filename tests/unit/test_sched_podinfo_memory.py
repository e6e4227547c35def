"""What the scheduler keeps per bound pod stays small (tracemalloc, not timing).

Regression guard: PodInfo signatures used to be orjson results, each of which keeps a
~4 KB encoder buffer behind it; with 100,000 bound pods that was ~400 MB.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

from scheduler.cached_pod import cached_pod_transform
from scheduler.podinfo import pod_info, shared_bytes
from scheduler.snapshot import node_static_key
from tests.unit.test_cached_pod_views import RS, _conditions, served_pod


def _traced_per_item(make: Callable[[int], Any], n: int = 2000) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = [make(i) for i in range(n)]
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    return used / n


def test_shared_bytes_are_exact_copies_shared_by_value() -> None:
    a = shared_bytes(orjson.dumps({"k": [1, 2]}))
    assert a == b'{"k":[1,2]}' and shared_bytes(orjson.dumps({"k": [1, 2]})) is a
    per = _traced_per_item(lambda i: shared_bytes(orjson.dumps({"n": i})))
    assert per < 400, per  # an orjson result kept as is: ~4,100 B


def test_node_static_key_is_exact_size() -> None:
    node = {"metadata": {"labels": {"kubernetes.io/hostname": "n"}}, "status": {}}
    assert _traced_per_item(lambda i: node_static_key(node)) < 400


def test_a_bound_pod_costs_the_scheduler_under_1_5_kb() -> None:
    transform = cached_pod_transform()
    pods = [
        served_pod(
            f"web-{i}",
            owner=RS,
            node=f"node-{i % 50}",
            phase="Running",
            conditions=_conditions(True),
        )  # fmt: skip
        for i in range(2000)
    ]
    for i, p in enumerate(pods):
        p["metadata"]["uid"] = f"0f0e0d0c-0000-4000-8000-{i:012d}"
        p["metadata"]["resourceVersion"] = str(10_000 + i)

    def cache_and_count(i: int) -> Any:
        cached = transform(pods[i])
        return cached, pod_info(cached)

    per = _traced_per_item(cache_and_count, len(pods))
    assert per < 1500, per  # ~1,000 B: the cached pod ~700, its PodInfo ~300
    a, b = cache_and_count(0)[1], cache_and_count(1)[1]
    assert a.signature is b.signature and a.tolerations is b.tolerations
