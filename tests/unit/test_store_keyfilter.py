"""The store's key filter (creates skip the database read for a free name) and the
cheap server-owned values of a create (uids, timestamps)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from apiserver.ids import new_uid, now_rfc3339
from apiserver.keyfilter import KeyFilter
from apiserver.store import Store


def test_filter_never_forgets_a_key_and_rarely_guesses() -> None:
    f = KeyFilter(20_000)
    added = [("/pods", f"ns-{i % 7}", f"pod-{i}") for i in range(20_000)]
    for k in added:
        f.add(k)
    assert all(f.may_contain(k) for k in added)
    unseen = [("/pods", f"ns-{i % 7}", f"other-{i}") for i in range(20_000)]
    false_positives = sum(f.may_contain(k) for k in unseen)
    assert false_positives < 0.01 * len(unseen)
    assert not f.full
    f.add(("/pods", "x", "one-more"))
    assert f.full


def test_filter_keys_differ_by_every_part() -> None:
    f = KeyFilter()
    f.add(("/pods", "default", "web"))
    assert f.may_contain(("/pods", "default", "web"))
    misses = [
        ("/pods", "default", "web2"),
        ("/pods", "kube-system", "web"),
        ("/services", "default", "web"),
    ]
    assert sum(f.may_contain(k) for k in misses) == 0


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}}


async def _create(store: Store, name: str) -> None:
    def compute(current: dict[str, Any] | None) -> dict[str, Any]:
        if current is not None:
            raise ApiError(409, f"{name} exists")
        return _pod(name)

    await store.mutate("/pods", "default", name, compute, create=True)


def _run(db: Path, fn: Any) -> Any:
    async def main() -> Any:
        store = Store(f"sqlite:///{db}")
        store.start(asyncio.get_running_loop())
        try:
            return await fn(store)
        finally:
            store.stop()

    return asyncio.run(main())


def test_create_sees_names_taken_before_a_restart_and_in_flight(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    async def first(store: Store) -> None:
        await _create(store, "a")
        # Two creates of one name in the same batch: the second sees the first, uncommitted.
        results = await asyncio.gather(
            _create(store, "b"), _create(store, "b"), return_exceptions=True
        )
        assert sum(isinstance(r, ApiError) and r.code == 409 for r in results) == 1

    _run(db, first)

    async def second(store: Store) -> None:
        with pytest.raises(ApiError) as err:
            await _create(store, "a")  # known from the database at start
        assert err.value.code == 409
        await _create(store, "c")
        assert store.get("/pods", "default", "c") is not None

    _run(db, second)


def test_filter_is_rebuilt_when_full_and_still_knows_every_key(tmp_path: Path) -> None:
    async def fill(store: Store) -> None:
        store._keys = KeyFilter(50)  # a small filter, filled past its size
        await asyncio.gather(*(_create(store, f"p-{i}") for i in range(60)))
        assert store._keys.capacity > 50  # rebuilt, bigger
        for i in (0, 25, 59):
            with pytest.raises(ApiError):
                await _create(store, f"p-{i}")
        await _create(store, "p-60")

    _run(tmp_path / "state.db", fill)


def test_new_uid_is_a_random_v4_uuid() -> None:
    seen = {new_uid() for _ in range(2000)}
    assert len(seen) == 2000
    for u in list(seen)[:200]:
        parsed = uuid.UUID(u)
        assert str(parsed) == u and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_now_rfc3339_is_utc_seconds_with_z() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())
