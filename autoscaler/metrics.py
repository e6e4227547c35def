"""The lab autoscaler's Prometheus metrics (rendered by prometheus-client): wake-ups,
failed wakes and power-offs per power group, powered-on node time, and how many boxes are
in each power state now. ``kubelab autoscaler --metrics-port`` serves them at /metrics.

Powered-on time is a counter of seconds (Prometheus' base unit): node-hours are its value
over 3600, and ``rate()`` of it is the number of boxes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from api.power import ASLEEP, AWAKE, DRAINING, WAKING, power_state
from autoscaler.marks import group_of, is_draining

Obj = dict[str, Any]
STATES = (AWAKE, WAKING, DRAINING, ASLEEP)


def state_of(node: Obj) -> str:
    """The box's power state as the metrics count it (a drain begun counts as Draining)."""
    state = power_state(node)
    if state == AWAKE and is_draining(node):
        return DRAINING
    return state


class AutoscalerMetrics:
    """One registry per autoscaler (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.wakeups = Counter(
            "kubelab_autoscaler_wakeups", "Boxes powered on", ["group"], registry=r
        )
        self.failed_wakes = Counter(
            "kubelab_autoscaler_failed_wakes",
            "Wakes that failed: the driver refused, or the box did not come up in its "
            "resume timeout",
            ["group"],
            registry=r,
        )
        self.power_offs = Counter(
            "kubelab_autoscaler_power_offs", "Boxes powered off after idling", ["group"], registry=r
        )
        self.powered_on_seconds = Counter(
            "kubelab_autoscaler_powered_on_node_seconds",
            "Seconds of boxes powered on (up, waking or draining), summed over boxes; "
            "node-hours = value / 3600",
            ["group"],
            registry=r,
        )
        self.nodes = Gauge(
            "kubelab_autoscaler_nodes",
            "Power-managed boxes in each power state",
            ["group", "state"],
            registry=r,
        )
        self._last: float | None = None

    def observe(self, managed: Iterable[Obj], now: float) -> None:
        """Once a step: the boxes' states now, and their powered-on time since the last."""
        counts: dict[tuple[str, str], int] = {}
        on: dict[str, int] = {}
        for n in managed:
            group, state = group_of(n), state_of(n)
            counts[(group, state)] = counts.get((group, state), 0) + 1
            if state != ASLEEP:
                on[group] = on.get(group, 0) + 1
        groups = {g for g, _ in counts}
        for g in groups:
            for s in STATES:
                self.nodes.labels(group=g, state=s).set(counts.get((g, s), 0))
        if self._last is not None and now > self._last:
            for g, k in on.items():
                self.powered_on_seconds.labels(group=g).inc(k * (now - self._last))
        self._last = now
