"""The HPA's Pods metrics (controllers/hpa/decide.py) from custom.metrics.k8s.io values: the
average against an AverageValue target, upstream's wording for status, events and
conditions, missing pods, and the TARGETS cell and describe line kubectl shows."""

from __future__ import annotations

from typing import Any

from api.defaults import apply_defaults
from api.hpa import format_targets
from controllers.hpa.behavior import History
from controllers.hpa.decide import Observed, Settings, decide, pods_metric_key
from controllers.objutil import format_time
from kubectl.describing.autoscaling import _metric_line
from kubectl.describing.writer import Page

NOW = 1_000_000.0
GPU_METRIC = {
    "type": "Pods",
    "pods": {
        "metric": {"name": "gpu_utilization"},
        "target": {"type": "AverageValue", "averageValue": "50"},
    },
}


def hpa(metric: dict[str, Any] = GPU_METRIC) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "llm", "namespace": "ml", "generation": 1},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
            "maxReplicas": 8,
            "metrics": [metric],
        },
    }
    apply_defaults("HorizontalPodAutoscaler", obj)
    return obj


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"containers": [{"name": "srv"}]},  # no requests: a Pods metric needs none
        "status": {"phase": "Running", "startTime": format_time(NOW - 60)},
    }


def value(name: str, v: str) -> dict[str, Any]:
    return {
        "describedObject": {"kind": "Pod", "namespace": "ml", "name": name, "apiVersion": "v1"},
        "metric": {"name": "gpu_utilization"},
        "timestamp": format_time(NOW - 5),
        "windowSeconds": 15,
        "value": v,
    }


def scale(replicas: int) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}, "status": {"replicas": replicas, "selector": "app=llm"}}


def seen(replicas: int, pods: list[str], got: list[dict[str, Any]] | str) -> Observed:
    key = pods_metric_key(GPU_METRIC)
    return Observed(scale(replicas), "", [pod(n) for n in pods], None, {key: got})


def test_gpu_utilisation_above_target_scales_up() -> None:
    d = decide(
        hpa(),
        "deployments.apps",
        seen(2, ["a", "b"], [value("a", "90"), value("b", "70")]),
        History(),
        Settings(),
        NOW,
    )
    patch = next(a for a in d.actions if a.subresource == "scale")
    assert patch.body == {"spec": {"replicas": 4}}  # ceil(2 x 80 / 50)
    events = {a.reason: a.message for a in d.actions if a.verb == "event"}
    assert events["SuccessfulRescale"] == (
        "New size: 4; reason: pods metric gpu_utilization above target"
    )
    assert d.status["currentMetrics"] == [
        {
            "type": "Pods",
            "pods": {"metric": {"name": "gpu_utilization"}, "current": {"averageValue": "80"}},
        }
    ]
    conds = {c["type"]: c for c in d.status["conditions"]}
    assert conds["ScalingActive"]["message"] == (
        "the HPA was able to successfully calculate a replica count from pods metric "
        "gpu_utilization"
    )


def test_within_tolerance_nothing_changes() -> None:
    d = decide(
        hpa(),
        "deployments.apps",
        seen(2, ["a", "b"], [value("a", "52"), value("b", "50")]),
        History(),
        Settings(),
        NOW,
    )
    assert not [a for a in d.actions if a.subresource == "scale"]
    assert d.desired == 2


def test_a_pod_without_a_value_counts_as_idle_on_a_scale_up() -> None:
    # b has no value yet: upstream assumes 0 for it on a scale-up, so 90 over 2 pods is
    # 45 < 50 and the direction reverses: no change.
    d = decide(
        hpa(),
        "deployments.apps",
        seen(2, ["a", "b"], [value("a", "90")]),
        History(),
        Settings(),
        NOW,
    )
    assert d.desired == 2


def test_an_unreadable_metric_is_reported_with_upstreams_reasons() -> None:
    d = decide(
        hpa(),
        "deployments.apps",
        seen(2, ["a"], 'the server could not find the metric gpu_utilization for pods "a"'),
        History(),
        Settings(),
        NOW,
    )
    events = {a.reason: a.message for a in d.actions if a.verb == "event"}
    assert events["FailedGetPodsMetric"] == (
        "unable to get metric gpu_utilization: the server could not find the metric "
        'gpu_utilization for pods "a"'
    )
    assert events["FailedComputeMetricsReplicas"].startswith(
        "invalid metrics (1 invalid out of 1), first error is: failed to get pods metric value: "
    )
    conds = {c["type"]: (c["status"], c["reason"]) for c in d.status["conditions"]}
    assert conds["ScalingActive"] == ("False", "FailedGetPodsMetric")
    d = decide(hpa(), "deployments.apps", seen(2, ["a"], []), History(), Settings(), NOW)
    events = {a.reason: a.message for a in d.actions if a.verb == "event"}
    assert "no metrics returned from custom metrics API" in events["FailedGetPodsMetric"]


def test_the_metric_selector_is_part_of_what_is_read() -> None:
    m = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "gpu_utilization", "selector": {"matchLabels": {"gpu": "0"}}},
            "target": {"type": "AverageValue", "averageValue": "50"},
        },
    }
    assert pods_metric_key(m) == "gpu_utilization?gpu=0"
    assert pods_metric_key(GPU_METRIC) == "gpu_utilization?"


def test_what_kubectl_shows_for_a_pods_metric() -> None:
    h = hpa()
    assert format_targets(h) == "gpu_utilization: <unknown>/50"
    h["status"] = {
        "currentMetrics": [
            {
                "type": "Pods",
                "pods": {"metric": {"name": "gpu_utilization"}, "current": {"averageValue": "80"}},
            }
        ]
    }
    assert format_targets(h) == "gpu_utilization: 80/50"
    page = Page()
    _metric_line(page, GPU_METRIC, h["status"]["currentMetrics"][0])
    assert '"gpu_utilization" on pods:' in page.text() and "80 / 50" in page.text()
