"""Restart and image-pull backoff, as the kubelet does it.

The first restart after a crash is immediate; each further one waits twice as long as the
one before (``initial`` doubling up to ``maximum``). A container that ran for at least
``reset_after`` seconds before it died starts again from the beginning. Each death is
identified by the dead container's id, so asking again during the same backoff (the worker
is level-triggered and asks on every sync) returns the same wait. The delays themselves
are ``client.backoff.Backoff``'s, the policy every retry in kubelab waits by.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from client.backoff import Backoff


@dataclass
class _Entry:
    deaths: int  # deaths counted since the key was new or last reset
    death_id: str = ""  # the dead container (or failed attempt) this entry last answered for
    restart_at: float = 0.0
    delay: float = 0.0


class RestartBackoff:
    """Per-key exponential backoff of restarts and pulls (keys are ``pod-uid/container``)."""

    def __init__(
        self,
        initial: float = 10.0,
        maximum: float = 300.0,
        reset_after: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        first_immediate: bool = True,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self.clock = clock
        self.first_immediate = first_immediate
        self.policy = Backoff(initial, cap=maximum)
        self._entries: dict[str, _Entry] = {}

    def restart_at(self, key: str, death_id: str, ran_for: float = 0.0) -> float:
        """The clock time at which the container that died as ``death_id`` may restart."""
        entry = self._entries.get(key)
        if entry is not None and entry.death_id == death_id:
            return entry.restart_at
        now = self.clock()
        if entry is not None and ran_for >= self.reset_after:
            entry = None
        if entry is None:
            entry = self._entries[key] = _Entry(deaths=1)
        else:
            entry.deaths += 1
        # With an immediate first restart, death n waits as retry n-1 of the policy.
        retry = entry.deaths - 1 if self.first_immediate else entry.deaths
        delay = self.policy.delay(retry) if retry > 0 else 0.0
        entry.death_id, entry.restart_at, entry.delay = death_id, now + delay, delay
        return entry.restart_at

    def remaining(self, key: str, death_id: str, ran_for: float = 0.0) -> float:
        """Seconds still to wait before restarting (0 when it may restart now)."""
        return max(0.0, self.restart_at(key, death_id, ran_for) - self.clock())

    def current_delay(self, key: str, death_id: str) -> float:
        """The whole wait chosen for this death (for messages), 0 if unknown."""
        entry = self._entries.get(key)
        if entry is None or entry.death_id != death_id:
            return 0.0
        return entry.delay

    def reset(self, key: str) -> None:
        """Forget a key (the container is gone for good, or the pod was deleted)."""
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Forget every key of one pod."""
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]
