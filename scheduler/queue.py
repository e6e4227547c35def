"""The scheduling queue: which pending pod to try next.

Three places a pending pod can be, as in kube-scheduler:

- **active**: a heap ordered by ``spec.priority`` (highest first), then ``rank`` (lowest
  first: the negated fair-share factor of the pod's queue, ``scheduler.fairshare``; 0 for
  a pod without a queue), then age (oldest first);
- **backoff**: pods that failed recently wait 1 s, doubling per attempt up to 10 s;
- **unschedulable**: pods that fit nowhere wait for a cluster event (a node added or
  changed, a pod deleted or finished). With queueing hints (``move_for_event``) an event
  moves back only the pods it may help, as the plugins that rejected them judge
  (``scheduler.hints``), straight to active with their backoff reset: room has come, so
  waiting out a backoff earned while there was none only leaves the room idle. Pods are
  judged by group (same shape, same rejecting plugins), so an event costs one hint per
  kind of pod, not one per pod. Without hints (``move_all_to_active``) every event moves
  them all back, to active or to backoff while their backoff lasts. A pod left there for
  longer than ``unschedulable_timeout`` is retried anyway, in case an event was missed.

The clock is injectable so the logic is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client.backoff import Backoff
from scheduler.hints import ClusterEvent
from scheduler.podinfo import PodInfo
from scheduler.score_index import shape_key

# Whether an event may help a pod rejected by the named plugins (Framework.may_help).
MayHelp = Callable[[PodInfo, frozenset[str], ClusterEvent], bool]
# Pods alike for the hints: their shape (score_index.shape_key) and rejecting plugins.
HintGroup = tuple[tuple[Any, ...], frozenset[str]]


@dataclass(slots=True)
class QueuedPod:
    """A pending pod's place in the queue."""

    key: str
    priority: int
    created: str  # creationTimestamp; RFC 3339 strings sort in time order
    rank: float = 0.0  # fair share: lower goes first among pods of one priority
    attempts: int = 0
    backoff_until: float = 0.0
    unschedulable_since: float = 0.0
    # Set while parked after a diagnosis: what the queueing hints judge it by.
    pod: PodInfo | None = None
    rejectors: frozenset[str] = frozenset()


class SchedulingQueue:
    """Priority queue with backoff and an unschedulable pool."""

    def __init__(
        self,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        unschedulable_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pod_backoff = Backoff(initial_backoff, cap=max_backoff)
        self.unschedulable_timeout = unschedulable_timeout
        self.clock = clock
        self._info: dict[str, QueuedPod] = {}
        self._where: dict[str, str] = {}  # key -> "active" | "backoff" | "unschedulable" | "flight"
        # (-priority, rank, created, seq, key)
        self._active: list[tuple[int, float, str, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []  # (ready_at, seq, key)
        self._active_seq: dict[str, int] = {}  # key -> seq of its live active entry
        self._backoff_seq: dict[str, int] = {}
        self._unschedulable: dict[str, float] = {}  # key -> since; insertion order = age
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        # Set when a move request arrives while pods are being scheduled: a pod that fails
        # in that same cycle must not miss the event that might have helped it.
        self._move_cycle = 0
        self._popped_cycle: dict[str, int] = {}
        # Parked pods (unschedulable, or in backoff after a diagnosis) by hint group:
        # (shape, rejecting plugins) -> keys, insertion order = age.
        self._groups: dict[HintGroup, dict[str, None]] = {}
        self._group_of: dict[str, HintGroup] = {}

    # -- adding and removing ---------------------------------------------------------------

    def add(self, key: str, priority: int = 0, created: str = "", rank: float = 0.0) -> None:
        """A new or updated pending pod: into active unless it is already queued or
        being scheduled (an update then just refreshes its priority and rank)."""
        info = self._info.get(key)
        if info is None:
            info = QueuedPod(key, priority, created, rank)
            self._info[key] = info
        else:
            info.priority, info.created, info.rank = priority, created, rank
        where = self._where.get(key)
        if where in ("flight", "backoff"):
            return
        if where == "active":
            self._push_active(info)  # re-push: priority may have changed
            return
        # New, or unschedulable and its spec changed: try it now.
        self._push_active(info)

    def delete(self, key: str) -> None:
        """The pod is gone or bound: drop it from every sub-queue."""
        self._info.pop(key, None)
        self._where.pop(key, None)
        self._active_seq.pop(key, None)
        self._backoff_seq.pop(key, None)
        self._unschedulable.pop(key, None)
        self._popped_cycle.pop(key, None)
        self._ungroup(key)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def _group(self, info: QueuedPod) -> None:
        if info.pod is None:
            return
        self._ungroup(info.key)
        g = (shape_key(info.pod), info.rejectors)
        self._groups.setdefault(g, {})[info.key] = None
        self._group_of[info.key] = g

    def _ungroup(self, key: str) -> None:
        g = self._group_of.pop(key, None)
        if g is not None:
            members = self._groups[g]
            members.pop(key, None)
            if not members:
                del self._groups[g]

    def _push_active(self, info: QueuedPod) -> None:
        self._ungroup(info.key)
        seq = next(self._seq)
        self._active_seq[info.key] = seq
        self._backoff_seq.pop(info.key, None)
        self._unschedulable.pop(info.key, None)
        self._where[info.key] = "active"
        heapq.heappush(self._active, (-info.priority, info.rank, info.created, seq, info.key))
        self._wakeup.set()

    def _push_backoff(self, info: QueuedPod) -> None:
        seq = next(self._seq)
        self._backoff_seq[info.key] = seq
        self._active_seq.pop(info.key, None)
        self._unschedulable.pop(info.key, None)
        self._where[info.key] = "backoff"
        heapq.heappush(self._backoff, (info.backoff_until, seq, info.key))
        self._wakeup.set()

    # -- popping ---------------------------------------------------------------------------

    def _flush(self, now: float) -> None:
        """Move backoff pods whose time has come, and long-unschedulable pods, to active."""
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            if self._backoff_seq.get(key) == seq:
                del self._backoff_seq[key]
                self._push_active(self._info[key])
        if self.unschedulable_timeout > 0:
            pool = self._unschedulable
            while pool:
                key = next(iter(pool))
                if now - pool[key] < self.unschedulable_timeout:
                    break
                self._push_active(self._info[key])

    def pop_nowait(self) -> str | None:
        """The next pod to schedule, or None when none is ready."""
        self._flush(self.clock())
        while self._active:
            _, _, _, seq, key = heapq.heappop(self._active)
            if self._active_seq.get(key) == seq:
                del self._active_seq[key]
                self._where[key] = "flight"
                self._popped_cycle[key] = self._move_cycle
                return key
        return None

    def next_ready_in(self) -> float | None:
        """Seconds until a backoff pod becomes ready (None when backoff is empty)."""
        while self._backoff and self._backoff_seq.get(self._backoff[0][2]) != self._backoff[0][1]:
            heapq.heappop(self._backoff)
        if not self._backoff:
            return None
        return max(0.0, self._backoff[0][0] - self.clock())

    async def pop(self) -> str | None:
        """Wait for the next pod; None once the queue is closed."""
        while not self._closed:
            key = self.pop_nowait()
            if key is not None:
                return key
            self._wakeup.clear()
            delay = self.next_ready_in()
            if self.unschedulable_timeout > 0 and self._unschedulable:
                oldest = next(iter(self._unschedulable.values()))
                due = max(0.0, oldest + self.unschedulable_timeout - self.clock())
                delay = due if delay is None else min(delay, due)
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
            except TimeoutError:
                pass
        return None

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # -- after an attempt ------------------------------------------------------------------

    def done(self, key: str) -> None:
        """Scheduled (or gone): forget the pod entirely."""
        self.delete(key)

    def requeue_backoff(self, key: str) -> None:
        """A scheduling error (e.g. Binding conflict): retry after the pod's backoff."""
        info = self._info.get(key)
        if info is None:
            return
        info.attempts += 1
        info.backoff_until = self.clock() + self.pod_backoff.delay(info.attempts)
        self._popped_cycle.pop(key, None)
        self._push_backoff(info)

    def requeue_unschedulable(
        self, key: str, pod: PodInfo | None = None, rejectors: frozenset[str] = frozenset()
    ) -> None:
        """The pod fits nowhere: park it until a cluster event (or retry at once through
        backoff, if such an event arrived while it was being scheduled). ``pod`` and
        ``rejectors`` (the plugins that rejected it) let ``move_for_event`` judge it."""
        info = self._info.get(key)
        if info is None:
            return
        info.pod, info.rejectors = pod, rejectors
        self._group(info)
        info.attempts += 1
        now = self.clock()
        info.backoff_until = now + self.pod_backoff.delay(info.attempts)
        popped = self._popped_cycle.pop(key, self._move_cycle)
        if popped != self._move_cycle:
            self._push_backoff(info)
            return
        info.unschedulable_since = now
        self._where[key] = "unschedulable"
        self._active_seq.pop(key, None)
        self._backoff_seq.pop(key, None)
        self._unschedulable.pop(key, None)
        self._unschedulable[key] = now

    def move_for_event(self, event: ClusterEvent, may_help: MayHelp) -> int:
        """Queueing hints: parked pods ``event`` may help go straight to active, their
        backoff reset; the rest stay. One hint per group. Returns how many moved."""
        self._move_cycle += 1
        moved = 0
        for (_, rejectors), members in list(self._groups.items()):
            first = self._info[next(iter(members))]
            assert first.pod is not None
            if not may_help(first.pod, rejectors, event):
                continue
            for key in list(members):
                info = self._info[key]
                info.attempts = 0
                info.backoff_until = 0.0
                self._push_active(info)
                moved += 1
        return moved

    def move_all_to_active(self) -> int:
        """A cluster event may have made room: every unschedulable pod goes back to active,
        or to backoff while its backoff lasts. Returns how many moved."""
        self._move_cycle += 1
        now = self.clock()
        moved = 0
        for key in list(self._unschedulable):
            info = self._info[key]
            if info.backoff_until > now:
                self._push_backoff(info)
            else:
                self._push_active(info)
            moved += 1
        return moved

    # -- sizes (metrics, tests) ------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many pods are active, backing off, unschedulable and in flight."""
        out = {"active": 0, "backoff": 0, "unschedulable": 0, "flight": 0}
        for where in self._where.values():
            out[where] += 1
        return out

    def has_active(self) -> bool:
        """Whether a pod is ready to be tried now (backoff not counted)."""
        return bool(self._active_seq)

    def pending(self) -> int:
        """Pods waiting to be scheduled (everything but those in flight)."""
        return sum(1 for w in self._where.values() if w != "flight")

    def where(self, key: str) -> str | None:
        return self._where.get(key)
