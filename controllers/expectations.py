"""Expectations: creations and deletions a controller made but has not yet seen.

While some are outstanding the controller does not create or delete again, so that an
informer that lags behind our own writes cannot make it act twice (client-go's
ControllerExpectations, with deletions tracked by pod key so repeats do not count twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

EXPECTATIONS_TTL = 300.0  # give up waiting after this long (an event may have been missed)


@dataclass
class _Pending:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    """Outstanding creates (counted) and deletes (by key) per controller key."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, ttl: float = EXPECTATIONS_TTL
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._pending: dict[str, _Pending] = {}

    def expect(self, key: str, adds: int = 0, deletes: list[str] | None = None) -> None:
        p = self._pending.setdefault(key, _Pending())
        p.adds += adds
        p.deletes.update(deletes or [])
        p.since = self._clock()

    def creation_observed(self, key: str, n: int = 1) -> None:
        p = self._pending.get(key)
        if p is not None:
            p.adds = max(p.adds - n, 0)

    def deletion_observed(self, key: str, obj_key: str) -> None:
        p = self._pending.get(key)
        if p is not None:
            p.deletes.discard(obj_key)

    def satisfied(self, key: str) -> bool:
        p = self._pending.get(key)
        if p is None:
            return True
        if (p.adds <= 0 and not p.deletes) or self._clock() - p.since > self._ttl:
            del self._pending[key]
            return True
        return False

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)
