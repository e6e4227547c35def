"""One HPA sync, decided: read the target's scale and the pods' usage, compute each
metric's proposal, normalize it (behavior or the legacy rule), and say what to write:
the new scale, the status (currentMetrics, conditions, lastScaleTime) and the events, as
upstream's reconcileAutoscaler. Pure: everything read is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.hpa import metric_description, metric_name, metric_source
from api.selectors import LabelSelector

from .. import actions as A
from ..objutil import Obj, format_time, get_condition, meta, parse_time
from .behavior import Condition, History, record_scale, with_behavior, without_behavior
from .replicas import (
    MetricError,
    PodMetric,
    Tunables,
    average_value_replicas,
    milli_value,
    resource_replicas,
)

CONDITION_ORDER = ("AbleToScale", "ScalingActive", "ScalingLimited")


@dataclass(frozen=True)
class Observed:
    """What the shell read for one sync."""

    scale: Obj | None  # the target's Scale, None when it could not be read
    scale_error: str = ""
    pods: list[Obj] = field(default_factory=list)
    pod_metrics: list[Obj] | None = None  # PodMetrics items; None: the API had none
    # Pods metrics, by pods_metric_key: custom.metrics.k8s.io's MetricValue items, or why
    # they could not be read.
    custom: dict[str, list[Obj] | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    tunables: Tunables = Tunables()
    downscale_stabilization: float = 300.0


def format_milli(milli: int) -> str:
    """A milli-value as Kubernetes prints a DecimalSI quantity (``250m``, ``64``, ``2k``)."""
    if milli % 1000:
        return f"{milli}m"
    n = milli // 1000
    for suffix in ("", "k", "M", "G", "T", "P"):
        if n % 1000 or n == 0 or suffix == "P":
            return f"{n}{suffix}"
        n //= 1000
    return str(n)  # pragma: no cover


def samples(items: list[Obj], resource: str, container: str = "") -> dict[str, PodMetric]:
    """Per-pod usage of ``resource`` (summed over containers, or ``container`` only)."""
    out: dict[str, PodMetric] = {}
    for item in items:
        total, found = 0, False
        for c in item.get("containers") or []:
            if container and c.get("name") != container:
                continue
            usage = (c.get("usage") or {}).get(resource)
            if usage is not None:
                total += milli_value(usage)
                found = True
        if not found:
            continue
        window = str(item.get("window") or "15s").rstrip("s")
        try:
            win = float(window)
        except ValueError:
            win = 15.0
        out[str(meta(item).get("name"))] = PodMetric(
            total, parse_time(item.get("timestamp")) or 0.0, win
        )
    return out


def pods_metric_key(metric: Obj) -> str:
    """Which custom metrics a Pods metric reads: its name and metric selector."""
    src = metric_source(metric)
    selector = (src.get("metric") or {}).get("selector")
    text = LabelSelector.from_dict(selector).to_string() if isinstance(selector, dict) else ""
    return f"{metric_name(metric)}?{text}"


def custom_samples(items: list[Obj]) -> dict[str, PodMetric]:
    """Per-pod values (milli-units) of custom.metrics.k8s.io MetricValues."""
    out: dict[str, PodMetric] = {}
    for item in items:
        name = str((item.get("describedObject") or {}).get("name") or "")
        try:
            value = milli_value(item.get("value", ""))
        except ValueError:
            continue
        window = item.get("windowSeconds")
        out[name] = PodMetric(
            value,
            parse_time(item.get("timestamp")) or 0.0,
            float(window) if isinstance(window, int | float) else 15.0,
        )
    return out


@dataclass
class _Proposal:
    replicas: int
    name: str
    status: Obj


def _pods_proposal(metric: Obj, current: int, seen: Observed, s: Settings, now: float) -> _Proposal:
    """A Pods metric: the pods' average value against the target's, as upstream's
    GetMetricReplicas (the plain calculation, with missing and unready pods)."""
    src = metric_source(metric)
    name = metric_name(metric)
    got = seen.custom.get(pods_metric_key(metric))
    if isinstance(got, str) or not got:
        why = got or "no metrics returned from custom metrics API"
        raise MetricError(f"unable to get metric {name}: {why}")
    rec = average_value_replicas(
        current,
        milli_value((src.get("target") or {})["averageValue"]),
        name,
        seen.pods,
        custom_samples(got),
        s.tunables,
        now,
    )
    ident: Obj = {"name": name}
    if (src.get("metric") or {}).get("selector") is not None:
        ident["selector"] = src["metric"]["selector"]
    status = {
        "type": "Pods",
        "pods": {"metric": ident, "current": {"averageValue": format_milli(rec.average)}},
    }
    return _Proposal(rec.replicas, metric_description(metric), status)


def _metric_proposal(
    metric: Obj, current: int, seen: Observed, s: Settings, now: float
) -> _Proposal:
    if metric.get("type") == "Pods":
        return _pods_proposal(metric, current, seen, s, now)
    src = metric_source(metric)
    resource = str(src.get("name"))
    container = str(src.get("container") or "") if metric.get("type") == "ContainerResource" else ""
    target = src.get("target") or {}
    util_target = target.get("type") == "Utilization"
    try:
        if not seen.pod_metrics:
            raise MetricError(
                f"unable to get metrics for resource {resource}: "
                "no metrics returned from resource metrics API"
            )
        found = samples(seen.pod_metrics, resource, container)
        if util_target:
            rec = resource_replicas(
                current,
                int(target["averageUtilization"]),
                resource,
                seen.pods,
                found,
                s.tunables,
                now,
                container,
            )
            current_value: Obj = {
                "averageUtilization": rec.utilization,
                "averageValue": format_milli(rec.average),
            }
        else:
            rec = average_value_replicas(
                current,
                milli_value(target["averageValue"]),
                resource,
                seen.pods,
                found,
                s.tunables,
                now,
            )
            current_value = {"averageValue": format_milli(rec.average)}
    except MetricError as exc:
        what = "utilization" if util_target else "usage"
        raise MetricError(f"failed to get {resource} {what}: {exc}") from exc
    body: Obj = {"name": resource, "current": current_value}
    if container:
        body["container"] = container
        status = {"type": "ContainerResource", "containerResource": body}
    else:
        status = {"type": "Resource", "resource": body}
    return _Proposal(rec.replicas, metric_description(metric), status)


@dataclass
class Decision:
    actions: list[A.Action]
    status: Obj
    desired: int


def _cond(ctype: str, c: Condition) -> Obj:
    return {"type": ctype, "status": c.status, "reason": c.reason, "message": c.message}


def decide(
    hpa: Obj,
    target_resource: str,
    seen: Observed,
    history: History,
    s: Settings,
    now: float,
) -> Decision:
    """The writes of one sync of ``hpa`` whose target is ``target_resource``."""
    spec = hpa.get("spec") or {}
    old_status = hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    ns = meta(hpa).get("namespace")
    actions: list[A.Action] = []
    conds: dict[str, Obj] = {}
    min_r, max_r = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))

    def event(etype: str, reason: str, message: str) -> None:
        actions.append(A.event(hpa, etype, reason, message))

    if seen.scale is None:
        conds["AbleToScale"] = _cond(
            "AbleToScale",
            Condition(
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: "
                f"{seen.scale_error}",
            ),
        )
        event("Warning", "FailedGetScale", seen.scale_error)
        status = {**old_status, "conditions": _merge(old_status, conds, now)}
        return Decision(actions + _status_write(hpa, status), status, -1)

    conds["AbleToScale"] = _cond(
        "AbleToScale",
        Condition(
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        ),
    )
    current = int((seen.scale.get("spec") or {}).get("replicas") or 0)
    metric_statuses: list[Obj] = []
    desired, reason, rescale = 0, "", False
    if current == 0 and min_r != 0:
        conds["ScalingActive"] = _cond(
            "ScalingActive",
            Condition(
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            ),
        )
    elif current > max_r:
        desired, reason, rescale = max_r, "Current number of replicas above Spec.MaxReplicas", True
    elif current < min_r:
        desired, reason, rescale = min_r, "Current number of replicas below Spec.MinReplicas", True
    else:
        proposals: list[_Proposal] = []
        errors: list[tuple[str, str, str]] = []  # (reason, condition message, error)
        for m in spec.get("metrics") or []:
            try:
                p = _metric_proposal(m, current, seen, s, now)
            except MetricError as exc:
                kind = str(m.get("type"))
                if kind not in ("ContainerResource", "Pods"):
                    kind = "Resource"
                err_reason = f"FailedGet{kind}Metric"
                event("Warning", err_reason, str(exc))
                name = metric_name(m)
                what = {"Resource": f"{name} resource", "Pods": "pods"}.get(
                    kind, f"{name} container resource"
                )
                errors.append(
                    (
                        err_reason,
                        f"the HPA was unable to compute the replica count: {exc}",
                        f"failed to get {what} metric value: {exc}",
                    )
                )
                metric_statuses.append({"type": ""})
                continue
            proposals.append(p)
            metric_statuses.append(p.status)
        best = max(proposals, key=lambda p: p.replicas, default=None)
        total = len(spec.get("metrics") or [])
        if errors and (best is None or best.replicas < current):
            first = errors[0]
            conds["ScalingActive"] = _cond("ScalingActive", Condition("False", first[0], first[1]))
            event(
                "Warning",
                "FailedComputeMetricsReplicas",
                f"invalid metrics ({len(errors)} invalid out of {total}), first error is: "
                f"{first[2]}",
            )
            status = {
                **old_status,
                "currentReplicas": current,
                "currentMetrics": [m for m in metric_statuses if m.get("type")] or None,
                "conditions": _merge(old_status, conds, now),
            }
            status = {k: v for k, v in status.items() if v is not None}
            return Decision(actions + _status_write(hpa, status), status, -1)
        assert best is not None
        conds["ScalingActive"] = _cond(
            "ScalingActive",
            Condition(
                "True",
                "ValidMetricFound",
                f"the HPA was able to successfully calculate a replica count from {best.name}",
            ),
        )
        proposed = best.replicas
        if proposed > current:
            reason = f"{best.name} above target"
        elif proposed < current:
            reason = "All metrics below target"
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            norm = with_behavior(
                history, behavior, current, proposed, min_r, max_r, s.downscale_stabilization, now
            )
        else:
            norm = without_behavior(
                history, current, proposed, min_r, max_r, s.downscale_stabilization, now
            )
        conds["AbleToScale"] = _cond("AbleToScale", norm.able_to_scale)
        conds["ScalingLimited"] = _cond("ScalingLimited", norm.scaling_limited)
        desired = norm.replicas
        rescale = desired != current
    if rescale:
        actions.append(
            A.patch(
                target_resource,
                ns,
                str(ref.get("name")),
                {"spec": {"replicas": desired}},
                subresource="scale",
            )
        )
        conds["AbleToScale"] = _cond(
            "AbleToScale",
            Condition(
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            ),
        )
        event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        record_scale(
            history,
            spec.get("behavior") if isinstance(spec.get("behavior"), dict) else None,
            current,
            desired,
            now,
        )
    else:
        desired = current
    status = {
        "observedGeneration": meta(hpa).get("generation"),
        "currentReplicas": current,
        "desiredReplicas": desired,
        "currentMetrics": [m for m in metric_statuses if m.get("type")] or None,
        "lastScaleTime": format_time(now) if rescale else old_status.get("lastScaleTime"),
        "conditions": _merge(old_status, conds, now),
    }
    status = {k: v for k, v in status.items() if v is not None}
    return Decision(actions + _status_write(hpa, status), status, desired)


def _merge(old_status: Obj, conds: dict[str, Obj], now: float) -> list[Obj]:
    """The new conditions in upstream's order; a transition time moves only on a change."""
    out: list[Obj] = []
    for ctype in CONDITION_ORDER:
        new = conds.get(ctype)
        old = get_condition(old_status, ctype) if old_status else None
        if new is None:
            if old is not None:
                out.append(old)
            continue
        same = old is not None and old.get("status") == new["status"]
        when = old.get("lastTransitionTime") if same and old else format_time(now)
        out.append({**new, "lastTransitionTime": when})
    return out


def _status_write(hpa: Obj, status: Obj) -> list[A.Action]:
    old = hpa.get("status") or {}
    if status == old:
        return []
    body: Obj = {k: None for k in old if k not in status}  # merge patch: null removes
    body.update(status)
    return [
        A.patch(
            "horizontalpodautoscalers",
            meta(hpa).get("namespace"),
            str(meta(hpa).get("name")),
            {"status": body},
            subresource="status",
        )
    ]
