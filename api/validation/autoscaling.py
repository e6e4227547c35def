"""Validation of autoscaling/v2 HorizontalPodAutoscaler with kube-apiserver's rules
(pkg/apis/autoscaling/validation) and wording, plus kubelab's one refusal: metric types it
has no metrics API for (Object, External) are refused, never stored and ignored. Pods
metrics are read from custom.metrics.k8s.io (apiserver/custom_metrics_api.py)."""

from __future__ import annotations

from typing import Any

from api.hpa import SERVED_METRIC_TYPES, UNSERVED_METRIC_TYPES, metric_source
from api.quantity import is_quantity, parse_quantity
from api.scaletozero import SCALE_TO_ZERO_AFTER
from api.validation.common import (
    Errs,
    check_int,
    forbidden,
    invalid,
    required,
    unsupported,
)

Obj = dict[str, Any]

SELECT_POLICIES = ("Max", "Min", "Disabled")
POLICY_TYPES = ("Pods", "Percent")
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
RESOURCE_NAMES = ("cpu", "memory")
MAX_STABILIZATION_WINDOW = 3600
MAX_PERIOD_SECONDS = 1800

MIN_REPLICAS_ZERO = (
    "must be greater than or equal to 1 (0 needs Kubernetes' HPAScaleToZero feature gate, "
    "which kubelab does not enable; to scale a Deployment to zero while idle, annotate it "
    f"{SCALE_TO_ZERO_AFTER}: 10m instead)"
)


def validate_hpa(errs: Errs, obj: Obj) -> None:
    """scaleTargetRef, min/max replicas, every metric and the behavior."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "an HPA needs a spec with scaleTargetRef and maxReplicas")
        return
    ref = spec.get("scaleTargetRef")
    if not isinstance(ref, dict):
        required(errs, "spec.scaleTargetRef", "name the object to scale (kind, name)")
    else:
        if not ref.get("kind"):
            required(errs, "spec.scaleTargetRef.kind", "e.g. Deployment")
        if not ref.get("name"):
            required(errs, "spec.scaleTargetRef.name", "the name of the object to scale")
        elif not isinstance(ref["name"], str) or "/" in ref["name"] or ref["name"] in (".", ".."):
            invalid(errs, "spec.scaleTargetRef.name", ref["name"], "may not contain '/'")
    min_r, max_r = spec.get("minReplicas"), spec.get("maxReplicas")
    # 0 is Kubernetes' alpha HPAScaleToZero gate, off on a stock cluster: refused as there,
    # naming kubelab's own opt-in (docs/scale-to-zero.md) instead.
    if min_r == 0 and not isinstance(min_r, bool):
        invalid(errs, "spec.minReplicas", 0, MIN_REPLICAS_ZERO)
        min_ok = False
    else:
        min_ok = check_int(errs, "spec.minReplicas", min_r, 1)
    if max_r is None:
        required(errs, "spec.maxReplicas", "the most replicas the autoscaler may set, e.g. 5")
    elif check_int(errs, "spec.maxReplicas", max_r, 1):
        if min_ok and isinstance(min_r, int) and max_r < min_r:
            invalid(
                errs, "spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"
            )
    metrics = spec.get("metrics")
    if metrics is not None and not isinstance(metrics, list):
        invalid(errs, "spec.metrics", metrics, "must be a list of metric specs")
    elif metrics:
        for i, m in enumerate(metrics):
            _validate_metric(errs, f"spec.metrics[{i}]", m)
    behavior = spec.get("behavior")
    if behavior is not None:
        if not isinstance(behavior, dict):
            invalid(errs, "spec.behavior", behavior, "must be an object (scaleUp, scaleDown)")
        else:
            for direction in ("scaleUp", "scaleDown"):
                rules = behavior.get(direction)
                if rules is not None:
                    _validate_rules(errs, f"spec.behavior.{direction}", rules)


def _validate_metric(errs: Errs, field: str, m: Any) -> None:
    if not isinstance(m, dict):
        invalid(errs, field, m, "must be a metric spec (type: Resource, resource: ...)")
        return
    mtype = m.get("type")
    if mtype in UNSERVED_METRIC_TYPES:
        why = (
            "External metrics need the external.metrics.k8s.io API, which kubelab does not "
            "serve yet"
            if mtype == "External"
            else "Object metrics (one object's metric, e.g. a Service's) are not in kubelab's "
            "custom.metrics.k8s.io yet, which has per-pod GPU metrics"
        )
        forbidden(
            errs,
            f"{field}.type",
            f"{why}; use a Resource metric (cpu or memory) or a Pods metric "
            "(gpu_utilization) instead",
        )
        return
    if mtype not in SERVED_METRIC_TYPES:
        unsupported(errs, f"{field}.type", mtype, (*SERVED_METRIC_TYPES, *UNSERVED_METRIC_TYPES))
        return
    key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(mtype, "pods")
    for other in ("resource", "containerResource", "pods", "object", "external"):
        if other != key and m.get(other) is not None:
            forbidden(errs, f"{field}.{other}", f"must be unset for a {mtype} metric")
    src = metric_source(m)
    if not src:
        what = "metric, target" if mtype == "Pods" else "name, target"
        required(errs, f"{field}.{key}", f"a {mtype} metric needs {key} ({what})")
        return
    if mtype == "Pods":
        _validate_pods_source(errs, f"{field}.pods", src)
        return
    name = src.get("name")
    if not name:
        required(errs, f"{field}.{key}.name", "the resource to measure: cpu or memory")
    elif name not in RESOURCE_NAMES:
        unsupported(errs, f"{field}.{key}.name", name, RESOURCE_NAMES)
    if mtype == "ContainerResource" and not src.get("container"):
        required(errs, f"{field}.{key}.container", "the container whose usage is measured")
    _validate_resource_target(errs, f"{field}.{key}.target", src.get("target"))


def _validate_pods_source(errs: Errs, field: str, src: Obj) -> None:
    """A Pods metric: the metric's name (e.g. gpu_utilization) and an AverageValue target."""
    metric = src.get("metric")
    if not isinstance(metric, dict) or not metric.get("name"):
        required(
            errs,
            f"{field}.metric.name",
            "the per-pod metric to read from custom.metrics.k8s.io, e.g. gpu_utilization",
        )
    elif metric.get("selector") is not None and not isinstance(metric["selector"], dict):
        invalid(errs, f"{field}.metric.selector", metric["selector"], "must be a label selector")
    target = src.get("target")
    if not isinstance(target, dict):
        required(errs, f"{field}.target", "a target: {type: AverageValue, averageValue: 50}")
        return
    avg = target.get("averageValue")
    if target.get("type") != "AverageValue":
        invalid(
            errs,
            f"{field}.target.type",
            target.get("type"),
            "must be AverageValue for a pods metric (the value per pod)",
        )
    elif avg is None:
        required(errs, f"{field}.target.averageValue", "must specify a positive target value")
    elif not is_quantity(avg) or parse_quantity(avg) <= 0:
        invalid(errs, f"{field}.target.averageValue", avg, "must be a positive quantity, e.g. 50")
    for other in ("averageUtilization", "value"):
        if target.get(other) is not None:
            forbidden(errs, f"{field}.target.{other}", "a pods metric's target is averageValue")


def _validate_resource_target(errs: Errs, field: str, target: Any) -> None:
    if not isinstance(target, dict):
        required(errs, field, "a target: {type: Utilization, averageUtilization: 80}")
        return
    ttype = target.get("type")
    if ttype not in TARGET_TYPES:
        unsupported(errs, f"{field}.type", ttype, TARGET_TYPES)
        return
    util, avg = target.get("averageUtilization"), target.get("averageValue")
    if ttype == "Utilization":
        if util is None:
            required(errs, f"{field}.averageUtilization", "must be set for type Utilization")
        elif check_int(errs, f"{field}.averageUtilization", util) and util <= 0:
            invalid(errs, f"{field}.averageUtilization", util, "must be greater than 0")
    elif ttype == "AverageValue":
        if avg is None:
            required(errs, f"{field}.averageValue", "must be set for type AverageValue")
        elif not is_quantity(avg) or parse_quantity(avg) <= 0:
            invalid(
                errs, f"{field}.averageValue", avg, "must be a positive quantity (e.g. 250m, 1Gi)"
            )
    else:
        invalid(
            errs,
            f"{field}.type",
            ttype,
            "must be either Utilization or AverageValue for a resource metric",
        )
    if ttype != "Utilization" and util is not None:
        forbidden(errs, f"{field}.averageUtilization", "may only be set for type Utilization")
    if ttype != "AverageValue" and avg is not None:
        forbidden(errs, f"{field}.averageValue", "may only be set for type AverageValue")
    if target.get("value") is not None:
        forbidden(errs, f"{field}.value", "a resource metric's target is per pod: use averageValue")


def _validate_rules(errs: Errs, field: str, rules: Any) -> None:
    if not isinstance(rules, dict):
        invalid(errs, field, rules, "must be an object (stabilizationWindowSeconds, policies)")
        return
    check_int(
        errs,
        f"{field}.stabilizationWindowSeconds",
        rules.get("stabilizationWindowSeconds"),
        0,
        MAX_STABILIZATION_WINDOW,
    )
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        unsupported(errs, f"{field}.selectPolicy", select, SELECT_POLICIES)
    policies = rules.get("policies")
    if not isinstance(policies, list) or not policies:
        required(errs, f"{field}.policies", "must specify at least one Policy")
        return
    for i, p in enumerate(policies):
        pf = f"{field}.policies[{i}]"
        if not isinstance(p, dict):
            invalid(errs, pf, p, "must be a policy {type: Pods, value: 4, periodSeconds: 15}")
            continue
        if p.get("type") not in POLICY_TYPES:
            unsupported(errs, f"{pf}.type", p.get("type"), POLICY_TYPES)
        value = p.get("value")
        if value is None:
            required(errs, f"{pf}.value", "how many pods (or percent) per period")
        elif check_int(errs, f"{pf}.value", value) and value <= 0:
            invalid(errs, f"{pf}.value", value, "must be greater than zero")
        period = p.get("periodSeconds")
        if period is None:
            required(errs, f"{pf}.periodSeconds", "the period the value applies to, 1..1800")
        elif check_int(errs, f"{pf}.periodSeconds", period) and not (
            0 < period <= MAX_PERIOD_SECONDS
        ):
            invalid(
                errs,
                f"{pf}.periodSeconds",
                period,
                f"must be greater than zero and less than or equal to {MAX_PERIOD_SECONDS}",
            )
