"""HorizontalPodAutoscaler rules shared by the apiserver, the controller and kl: Kubernetes'
autoscaling/v2 defaulting (pkg/apis/autoscaling/v2/defaults.go) and the names the
controller gives its metrics in conditions and events.

Pure: plain dicts in, plain dicts out.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

DEFAULT_CPU_UTILIZATION = 80
# Kubernetes' default scaling rules (used to fill what a given ``behavior`` leaves out).
SCALE_UP_RULES: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
# No stabilizationWindowSeconds: left unset, the controller's
# --horizontal-pod-autoscaler-downscale-stabilization (300 s) applies, as upstream.
SCALE_DOWN_RULES: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
# Metric source types kubelab can read (Pods: from custom.metrics.k8s.io), and those it has
# no API for yet.
SERVED_METRIC_TYPES = ("Resource", "ContainerResource", "Pods")
UNSERVED_METRIC_TYPES = ("Object", "External")


def _rules(given: Any, defaults: Obj) -> Obj:
    out = copy.deepcopy(defaults)
    if isinstance(given, dict):
        for k in ("stabilizationWindowSeconds", "selectPolicy", "policies"):
            if given.get(k) is not None:
                out[k] = given[k]
        for k, v in given.items():  # unknown keys are reported by validation, not dropped
            out.setdefault(k, v)
    return out


def default_hpa(obj: Obj) -> None:
    """minReplicas 1, one CPU metric at 80 % when none is named, and a given ``behavior``
    completed with the default rules of each direction (in place)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": DEFAULT_CPU_UTILIZATION,
                    },
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), SCALE_UP_RULES)
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), SCALE_DOWN_RULES)


def metric_source(metric: Obj) -> Obj:
    """The source object of a MetricSpec (``resource``, ``containerResource``, ...)."""
    key = {"ContainerResource": "containerResource"}.get(
        str(metric.get("type")), str(metric.get("type", "")).lower()
    )
    src = metric.get(key)
    return src if isinstance(src, dict) else {}


def metric_name(metric: Obj) -> str:
    """The measured name: the resource (``cpu``), or a Pods metric's ``metric.name``."""
    src = metric_source(metric)
    if metric.get("type") == "Pods":
        return str((src.get("metric") or {}).get("name") or "")
    return str(src.get("name") or "")


def metric_description(metric: Obj) -> str:
    """How the controller names a metric in conditions and events (upstream's wording)."""
    src = metric_source(metric)
    target = src.get("target") or {}
    name = metric_name(metric)
    if metric.get("type") == "Pods":
        return f"pods metric {name}"
    if metric.get("type") == "ContainerResource":
        if target.get("type") == "Utilization":
            return f"{name} container resource utilization (percentage of request)"
        return f"{name} container resource"
    if target.get("type") == "Utilization":
        return f"{name} resource utilization (percentage of request)"
    return f"{name} resource"


def _current_of(status: Any) -> Obj:
    if not isinstance(status, dict):
        return {}
    src = status.get("resource") or status.get("containerResource") or status.get("pods") or {}
    cur = src.get("current") if isinstance(src, dict) else None
    return cur if isinstance(cur, dict) else {}


def format_targets(hpa: Obj, max_shown: int = 2) -> str:
    """The TARGETS cell of ``kubectl get hpa`` (``cpu: 40%/80%``, ``<unknown>`` before the
    first measurement, ``+ N more...`` past two), as kubectl's formatHPAMetrics."""
    specs = (hpa.get("spec") or {}).get("metrics") or []
    statuses = (hpa.get("status") or {}).get("currentMetrics") or []
    if not specs:
        return "<none>"
    cells: list[str] = []
    for i, m in enumerate(specs):
        src = metric_source(m)
        name = metric_name(m)
        if m.get("type") == "ContainerResource":
            name = f"{name} of container {src.get('container', '')}"
        target = src.get("target") or {}
        cur = _current_of(statuses[i]) if i < len(statuses) else {}
        if target.get("averageValue") is not None:
            current = str(cur["averageValue"]) if cur.get("averageValue") is not None else None
            cells.append(f"{name}: {current or '<unknown>'}/{target['averageValue']}")
        else:
            util = cur.get("averageUtilization")
            current = f"{util}%" if util is not None else "<unknown>"
            want = target.get("averageUtilization")
            cells.append(f"{name}: {current}/{f'{want}%' if want is not None else '<auto>'}")
    if len(cells) > max_shown:
        return f"{', '.join(cells[:max_shown])} + {len(cells) - max_shown} more..."
    return ", ".join(cells)
