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


@dataclass(frozen=True)
class BackoffEntry:
    """One key's backoff after its latest death: a value, so a pure sync plan can take it
    and hand back the next one (``CrashLoopRule.after``)."""

    deaths: int  # deaths counted since the key was new or last reset
    death_id: str = ""  # the dead container (or failed attempt) this entry last answered for
    restart_at: float = 0.0
    delay: float = 0.0


@dataclass(frozen=True)
class CrashLoopRule:
    """The backoff rule itself, without the per-key memory: pure."""

    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0
    first_immediate: bool = True

    def after(
        self, entry: BackoffEntry | None, death_id: str, ran_for: float, now: float
    ) -> BackoffEntry:
        """The entry once the death ``death_id`` is counted (the same entry when it already
        is: a level-triggered sync asks on every pass and must not extend the wait)."""
        if entry is not None and entry.death_id == death_id:
            return entry
        if entry is not None and ran_for >= self.reset_after:
            entry = None
        deaths = 1 if entry is None else entry.deaths + 1
        # With an immediate first restart, death n waits as retry n-1 of the policy.
        retry = deaths - 1 if self.first_immediate else deaths
        delay = Backoff(self.initial, cap=self.maximum).delay(retry) if retry > 0 else 0.0
        return BackoffEntry(deaths, death_id, now + delay, delay)


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
        self.rule = CrashLoopRule(initial, maximum, reset_after, first_immediate)
        self.clock = clock
        self._entries: dict[str, BackoffEntry] = {}

    def entry(self, key: str) -> BackoffEntry | None:
        """What the key remembers (None: no death counted since it was new or forgotten)."""
        return self._entries.get(key)

    def record(self, key: str, entry: BackoffEntry) -> None:
        """Keep ``entry`` (from ``rule.after``) as the key's state."""
        self._entries[key] = entry

    def restart_at(self, key: str, death_id: str, ran_for: float = 0.0) -> float:
        """The clock time at which the container that died as ``death_id`` may restart."""
        entry = self.rule.after(self._entries.get(key), death_id, ran_for, self.clock())
        self._entries[key] = entry
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
