"""From the metrics' recommendation to the replicas set: stabilization windows, scaling
policies and min/max, as upstream's normalizeDesiredReplicas(WithBehaviors).

The controller remembers, per HPA, its recent recommendations and the scale changes it
made (both in memory, as upstream: a restarted controller starts with none). Pure: the
history is passed in and the updated history comes back with the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Without ``behavior`` (upstream's legacy rule): at most double, or 4, per sync.
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4


@dataclass(frozen=True)
class Sample:
    at: float
    value: int  # a recommendation, or a replica change (always positive) for events


@dataclass
class History:
    """What one HPA's decisions depend on beyond the current state."""

    recommendations: list[Sample] = field(default_factory=list)
    scale_up_events: list[Sample] = field(default_factory=list)
    scale_down_events: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class Condition:
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class Normalized:
    replicas: int
    able_to_scale: Condition
    scaling_limited: Condition


def _record(samples: list[Sample], value: int, now: float, cutoff: float) -> list[Sample]:
    """Keep samples newer than ``cutoff`` and add one (the old ones are of no use)."""
    return [s for s in samples if s.at > cutoff] + [Sample(now, value)]


_UP_STABILIZED = Condition(
    "True",
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)
_DOWN_STABILIZED = Condition(
    "True",
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
_READY = Condition("True", "ReadyForNewScale", "recommended size matches current size")
_WITHIN = Condition(
    "False", "DesiredWithinRange", "the desired count is within the acceptable range"
)


def without_behavior(
    history: History,
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    downscale_window: float,
    now: float,
) -> Normalized:
    """An HPA without ``behavior``: the highest recommendation of the downscale window,
    then at most max(2 × current, 4) and within [min, max]."""
    cutoff = now - downscale_window
    stabilized = max([desired, *(s.value for s in history.recommendations if s.at > cutoff)])
    history.recommendations = _record(history.recommendations, desired, now, cutoff)
    able = _DOWN_STABILIZED if stabilized != desired else _READY
    up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > up_limit:
        top, reason, msg = (
            up_limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        top, reason, msg = (
            max_replicas,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if stabilized < min_replicas:
        out, limited = (
            min_replicas,
            Condition(
                "True",
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            ),
        )
    elif stabilized > top:
        out, limited = top, Condition("True", reason, msg)
    else:
        out, limited = stabilized, _WITHIN
    return Normalized(out, able, limited)


def _window(rules: Obj, default: float) -> float:
    w = rules.get("stabilizationWindowSeconds")
    return float(default if w is None else w)


def _changed_in(events: list[Sample], period: float, now: float) -> int:
    return sum(e.value for e in events if e.at > now - period)


def scale_up_limit(current: int, events: list[Sample], rules: Obj, now: float) -> int:
    """The most replicas the scaleUp policies allow now (``current`` when Disabled)."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for p in rules.get("policies") or []:
        start = current - _changed_in(events, float(p["periodSeconds"]), now)
        if p["type"] == "Pods":
            proposals.append(start + int(p["value"]))
        else:
            proposals.append(math.ceil(start * (1 + int(p["value"]) / 100)))
    if not proposals:
        return current
    return min(proposals) if select == "Min" else max(proposals)


def scale_down_limit(current: int, events: list[Sample], rules: Obj, now: float) -> int:
    """The fewest replicas the scaleDown policies allow now (``current`` when Disabled)."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for p in rules.get("policies") or []:
        start = current + _changed_in(events, float(p["periodSeconds"]), now)
        if p["type"] == "Pods":
            proposals.append(start - int(p["value"]))
        else:
            proposals.append(int(start * (1 - int(p["value"]) / 100)))
    if not proposals:
        return current
    return max(proposals) if select == "Min" else min(proposals)


def with_behavior(
    history: History,
    behavior: Obj,
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    downscale_window: float,
    now: float,
) -> Normalized:
    """An HPA with ``behavior``: both stabilization windows, then the policies' rate."""
    up_rules, down_rules = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
    up_cut = now - _window(up_rules, 0.0)
    down_cut = now - _window(down_rules, downscale_window)
    up_rec = min([desired, *(s.value for s in history.recommendations if s.at > up_cut)])
    down_rec = max([desired, *(s.value for s in history.recommendations if s.at > down_cut)])
    stabilized = min(max(current, up_rec), down_rec)
    history.recommendations = _record(history.recommendations, desired, now, min(up_cut, down_cut))
    if stabilized != desired:
        able = _UP_STABILIZED if desired >= current else _DOWN_STABILIZED
    else:
        able = _READY
    out, reason, msg = stabilized, "DesiredWithinRange", _WITHIN.message
    if stabilized > current:
        limit = max(scale_up_limit(current, history.scale_up_events, up_rules, now), current)
        if max_replicas > limit:
            top, r, m = (
                limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            top, r, m = (
                max_replicas,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        if stabilized > top:
            out, reason, msg = top, r, m
    elif stabilized < current:
        limit = min(scale_down_limit(current, history.scale_down_events, down_rules, now), current)
        if min_replicas < limit:
            bottom, r, m = (
                limit,
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            )
        else:
            bottom, r, m = (
                min_replicas,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        if stabilized < bottom:
            out, reason, msg = bottom, r, m
    limited = Condition("True" if out != stabilized else "False", reason, msg)
    return Normalized(out, able, limited)


def _longest_period(rules: Obj) -> float:
    return float(max((p.get("periodSeconds", 0) for p in rules.get("policies") or []), default=0))


def record_scale(history: History, behavior: Obj | None, old: int, new: int, now: float) -> None:
    """Remember a scale change for the policies' periods (only with ``behavior``)."""
    if behavior is None or old == new:
        return
    if new > old:
        cutoff = now - _longest_period(behavior.get("scaleUp") or {})
        history.scale_up_events = _record(history.scale_up_events, new - old, now, cutoff)
    else:
        cutoff = now - _longest_period(behavior.get("scaleDown") or {})
        history.scale_down_events = _record(history.scale_down_events, old - new, now, cutoff)
