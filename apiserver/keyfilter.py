"""A Bloom filter over the store's object keys: "certainly absent" without a database read.

Every create must first learn that its name is free. Asking SQLite costs a read
transaction (file locks, and page reads after each commit reset the reader's cache)
and hands the GIL to the writer thread; that was a tenth of the server's CPU per
create. The filter answers "certainly absent" from memory, at about two bytes per
key; a "maybe" (the key exists, or a rare false positive) falls back to the database.
Keys are never removed, so the store rebuilds the filter when it has taken in more
keys than it was sized for (deleted keys then drop out).
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, str, str]

_BITS_PER_KEY = 16  # with 4 probes: about 0.25 % false positives at capacity
_PROBES = 4
# A rebuild reads every key and stalls the event loop (about 1.5 s per million keys), so
# the filter starts big enough for half a million keys (1 MiB): most servers never rebuild.
_MIN_CAPACITY = 1 << 19


class KeyFilter:
    """Bloom filter of (resource, namespace, name) keys, sized for ``capacity`` keys."""

    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        self.capacity = max(8, capacity)
        self._nbits = self.capacity * _BITS_PER_KEY
        self._bits = bytearray(self._nbits // 8)
        self.added = 0

    @classmethod
    def of(cls, keys: Iterable[Key], expected: int) -> KeyFilter:
        """A filter holding ``keys``, with room for twice ``expected`` of them (and at
        least half a million, so that a store is rarely rebuilt)."""
        f = cls(max(_MIN_CAPACITY, 2 * expected))
        for k in keys:
            f.add(k)
        return f

    def _positions(self, key: Key) -> list[int]:
        # Double hashing (Kirsch-Mitzenmacher) from one 64-bit hash: the low and high
        # halves give the start and the stride. hash() is per process: fine, in memory.
        h = hash(key) & 0xFFFFFFFFFFFFFFFF
        a, b = h & 0xFFFFFFFF, (h >> 32) | 1
        n = self._nbits
        return [(a + i * b) % n for i in range(_PROBES)]

    def add(self, key: Key) -> None:
        bits = self._bits
        for p in self._positions(key):
            bits[p >> 3] |= 1 << (p & 7)
        self.added += 1

    def may_contain(self, key: Key) -> bool:
        """False: ``key`` was certainly never added. True: it may have been."""
        bits = self._bits
        for p in self._positions(key):
            if not bits[p >> 3] & (1 << (p & 7)):
                return False
        return True

    @property
    def full(self) -> bool:
        """More keys went in than it was sized for: false positives start to climb."""
        return self.added > self.capacity
