"""When the scheduler writes a pending pod's reasons: pure decisions, no I/O.

Every unschedulable attempt produces a report (the ``0/N nodes are available`` summary
and the per-node reasons ``kl why`` reads). Writing each one costs two API writes and an
event; when capacity arrives, a backlog of pods fails a few times in a row, each with a
slightly different report, just before they are all bound. So, per pod:

- a report equal to the last one written is not written again;
- the first report of a pod never reported is written at once (``kl why`` can explain a
  new pod straight away);
- a changed report of a pod already reported is held for ``hold`` seconds, replaced by
  newer ones meanwhile, then the latest is written: at most one write per pod per
  ``hold``, and none at all for a pod bound (``forget``) within it.

What is written last is always the latest attempt's report, so ``kl why`` stays exact
for a pod that stays pending, at most ``hold`` seconds behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Report:
    """What to write about one pending pod."""

    key: str
    pod: dict[str, Any]  # the cached pod the report is about
    summary: str
    encoded: str  # the reasons annotation, as written


class ReportHold:
    """Per-pod coalescing of unschedulable reports (see the module docstring)."""

    def __init__(self, hold: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold = hold
        self.clock = clock
        self._written: dict[str, tuple[str, str]] = {}  # key -> (summary, encoded) last sent
        self._held: dict[str, tuple[float, Report]] = {}  # key -> (due, latest report)

    def offer(self, report: Report, reported_before: bool) -> bool:
        """A new attempt's report. True: write it now; False: nothing to write now (it is
        a repeat, or it is held). ``reported_before``: the pod already carries reasons
        (from this scheduler or an earlier one)."""
        key = report.key
        content = (report.summary, report.encoded)
        if self._written.get(key) == content:
            self._held.pop(key, None)  # back to what stands: a held change is moot
            return False
        if not reported_before and key not in self._written:
            self._written[key] = content
            return True
        held = self._held.get(key)
        due = held[0] if held is not None else self.clock() + self.hold
        self._held[key] = (due, report)
        return False

    def due(self) -> list[Report]:
        """Held reports whose time has come (taken out, and counted as written)."""
        now = self.clock()
        ready: list[Report] = []
        # Held in order of due time: each is due ``hold`` after it was first held, and a
        # replacement keeps its place.
        for due, r in self._held.values():
            if due > now:
                break
            ready.append(r)
        for r in ready:
            del self._held[r.key]
            self._written[r.key] = (r.summary, r.encoded)
        return ready

    def next_due_in(self) -> float | None:
        """Seconds until the next held report is due; None when none is held."""
        if not self._held:
            return None
        due, _ = next(iter(self._held.values()))
        return max(0.0, due - self.clock())

    def forget(self, key: str) -> None:
        """The pod is bound or gone: drop what is held and what was written."""
        self._held.pop(key, None)
        self._written.pop(key, None)

    def held(self) -> int:
        return len(self._held)
