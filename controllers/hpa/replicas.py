"""The replica calculator: how many pods a resource metric asks for, as upstream's
``pkg/controller/podautoscaler/replica_calculator.go`` decides it.

``desired = ceil(ready pods × current / target)`` unless the ratio is within the
tolerance. Pods being deleted or failed are ignored; pending pods, and (for CPU) pods not
ready within the initialization window, are "unready"; pods without a sample are
"missing". When any of those exist the ratio is computed again as if missing pods used
100 % of their request (or the target, if higher) on a scale-down and 0 % on a scale-up,
and unready pods 0 % on a scale-up, and the recommendation is dropped when that second
look would reverse the direction or lands within the tolerance. Pure: pods are dicts,
metrics are per-pod samples in milli-units, ``now`` is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from api.quantity import cpu_millis, parse_quantity

from ..objutil import Obj, get_condition, is_deleting, name_of, parse_time


class MetricError(Exception):
    """The metric could not be turned into a replica count (the message says why)."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage of one resource: milli-units (millicores, millibytes)."""

    value: int
    timestamp: float
    window: float = 15.0


@dataclass(frozen=True)
class Tunables:
    """kube-controller-manager's --horizontal-pod-autoscaler-* flags."""

    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0
    initial_readiness_delay: float = 30.0


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    utilization: int  # percent of request (0 for an AverageValue target)
    average: int  # milli-units per pod


@dataclass(frozen=True)
class PodGroups:
    ready: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


def milli_value(q: str | int | float) -> int:
    """A quantity in milli-units (``250m`` → 250, ``64Mi`` → 67108864000)."""
    return math.ceil(parse_quantity(q) * 1000)


def group_pods(
    pods: list[Obj], metrics: dict[str, PodMetric], resource: str, t: Tunables, now: float
) -> PodGroups:
    """Sort pods into ready (counted), unready, missing (no sample) and ignored."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = name_of(pod)
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if is_deleting(pod) or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(pod, metric, t, now):
            unready.add(name)
            continue
        ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(pod: Obj, metric: PodMetric, t: Tunables, now: float) -> bool:
    cond = get_condition(pod, "Ready")
    start = parse_time((pod.get("status") or {}).get("startTime"))
    if cond is None or start is None:
        return True
    changed = parse_time(cond.get("lastTransitionTime")) or start
    if start + t.cpu_initialization_period > now:
        # Young pod: its sample counts once it is ready and a whole window was measured since.
        return cond.get("status") == "False" or metric.timestamp < changed + metric.window
    # Older pod: ignored only while unready and never ready since its start.
    return cond.get("status") == "False" and start + t.initial_readiness_delay > changed


def pod_requests(pods: list[Obj], container: str, resource: str) -> dict[str, int]:
    """Each pod's request of ``resource`` in milli-units (only ``container`` if named)."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise MetricError(
                    f"missing request for {resource} in container {c.get('name')} "
                    f"of Pod {name_of(pod)}"
                )
            total += cpu_millis(req) if resource == "cpu" else milli_value(req)
        out[name_of(pod)] = total
    return out


def utilization_ratio(
    metrics: dict[str, PodMetric], requests: dict[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio, utilization %, average milli-units) over pods with a request."""
    used = requested = entries = 0
    for name, m in metrics.items():
        req = requests.get(name)
        if req is None:
            continue
        used += m.value
        requested += req
        entries += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def _without(metrics: dict[str, PodMetric], names: frozenset[str]) -> dict[str, PodMetric]:
    return {n: m for n, m in metrics.items() if n not in names}


def _usable(
    pods: list[Obj], metrics: dict[str, PodMetric], groups: PodGroups
) -> dict[str, PodMetric]:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    kept = _without(_without(metrics, groups.ignored), groups.unready)
    if not kept:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return kept


def _settle(current: int, ratio: float, new_ratio: float, count: int, t: Tunables) -> int:
    """The second look: keep ``current`` unless the adjusted ratio still points the same way."""
    if (
        abs(1.0 - new_ratio) <= t.tolerance
        or (ratio < 1.0 < new_ratio)
        or (ratio > 1.0 > new_ratio)
    ):
        return current
    new = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current
    return new


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: list[Obj],
    metrics: dict[str, PodMetric],
    t: Tunables,
    now: float,
    container: str = "",
) -> Recommendation:
    """Replicas for a Utilization target (percent of the pods' requests)."""
    groups = group_pods(pods, metrics, resource, t, now)
    samples = _usable(pods, metrics, groups)
    requests = pod_requests(pods, container, resource)
    ratio, utilization, average = utilization_ratio(samples, requests, target_utilization)
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= t.tolerance:
            return Recommendation(current, utilization, average)
        return Recommendation(math.ceil(ratio * groups.ready), utilization, average)
    adjusted = dict(samples)
    if groups.missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for n in groups.missing:
                adjusted[n] = PodMetric(requests[n] * fallback // 100, now)
        elif ratio > 1.0:
            for n in groups.missing:
                adjusted[n] = PodMetric(0, now)
    if up_with_unready:
        for n in groups.unready:
            adjusted[n] = PodMetric(0, now)
    new_ratio, _, _ = utilization_ratio(adjusted, requests, target_utilization)
    return Recommendation(
        _settle(current, ratio, new_ratio, len(adjusted), t), utilization, average
    )


def average_value_replicas(
    current: int,
    target_average: int,
    resource: str,
    pods: list[Obj],
    metrics: dict[str, PodMetric],
    t: Tunables,
    now: float,
) -> Recommendation:
    """Replicas for an AverageValue target (milli-units per pod), upstream's
    calcPlainMetricReplicas."""
    groups = group_pods(pods, metrics, resource, t, now)
    samples = _usable(pods, metrics, groups)
    average = sum(m.value for m in samples.values()) // len(samples)
    ratio = average / target_average
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= t.tolerance:
            return Recommendation(current, 0, average)
        return Recommendation(math.ceil(ratio * groups.ready), 0, average)
    adjusted = dict(samples)
    if groups.missing:
        fill = target_average if ratio < 1.0 else 0
        for n in groups.missing:
            adjusted[n] = PodMetric(fill, now)
    if up_with_unready:
        for n in groups.unready:
            adjusted[n] = PodMetric(0, now)
    new_ratio = (sum(m.value for m in adjusted.values()) // len(adjusted)) / target_average
    return Recommendation(_settle(current, ratio, new_ratio, len(adjusted), t), 0, average)
