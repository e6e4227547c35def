"""One HPA sync decided (controllers/hpa/decide.py): the scale written, the event's words,
the conditions with upstream's reasons, currentMetrics and lastScaleTime."""

from __future__ import annotations

from typing import Any

from api.defaults import apply_defaults
from controllers.hpa.behavior import History
from controllers.hpa.decide import Observed, Settings, decide, format_milli
from controllers.objutil import format_time

NOW = 1_000_000.0


def hpa(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
            **spec,
        },
    }
    apply_defaults("HorizontalPodAutoscaler", obj)
    return obj


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "200m"}}}]},
        "status": {
            "phase": "Running",
            "startTime": format_time(NOW - 3600),
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": format_time(NOW - 3000)}
            ],
        },
    }


def pod_metrics(name: str, cpu: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "timestamp": format_time(NOW - 5),
        "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": "10Mi"}}],
    }


def scale(replicas: int) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}, "status": {"replicas": replicas, "selector": "app=web"}}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_scale_up_writes_scale_event_and_status() -> None:
    seen = Observed(
        scale(2), "", [pod("a"), pod("b")], [pod_metrics("a", "200m"), pod_metrics("b", "200m")]
    )
    d = decide(hpa(), "deployments.apps", seen, History(), Settings(), NOW)
    scale_patch = next(a for a in d.actions if a.subresource == "scale")
    assert (scale_patch.resource, scale_patch.name, scale_patch.body) == (
        "deployments.apps",
        "web",
        {"spec": {"replicas": 4}},
    )
    event = next(a for a in d.actions if a.verb == "event")
    assert (event.reason, event.message) == (
        "SuccessfulRescale",
        "New size: 4; reason: cpu resource utilization (percentage of request) above target",
    )
    assert d.status["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "current": {"averageUtilization": 100, "averageValue": "200m"},
            },
        }
    ]
    assert (d.status["currentReplicas"], d.status["desiredReplicas"]) == (2, 4)
    assert d.status["lastScaleTime"] == format_time(NOW)
    assert conditions(d.status) == {
        "AbleToScale": ("True", "SucceededRescale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }


def test_no_metrics_is_reported_not_guessed() -> None:
    d = decide(
        hpa(),
        "deployments.apps",
        Observed(scale(2), "", [pod("a")], None),
        History(),
        Settings(),
        NOW,
    )
    assert not [a for a in d.actions if a.subresource == "scale"]
    events = {a.reason: a.message for a in d.actions if a.verb == "event"}
    assert events["FailedGetResourceMetric"] == (
        "failed to get cpu utilization: unable to get metrics for resource cpu: "
        "no metrics returned from resource metrics API"
    )
    assert events["FailedComputeMetricsReplicas"].startswith(
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value:"
    )
    assert conditions(d.status)["ScalingActive"] == ("False", "FailedGetResourceMetric")


def test_unreadable_target_and_disabled_scaling() -> None:
    d = decide(
        hpa(),
        "deployments.apps",
        Observed(None, 'deployments.apps "web" not found'),
        History(),
        Settings(),
        NOW,
    )
    assert conditions(d.status) == {"AbleToScale": ("False", "FailedGetScale")}
    d = decide(
        hpa(), "deployments.apps", Observed(scale(0), "", [], None), History(), Settings(), NOW
    )
    assert conditions(d.status)["ScalingActive"] == ("False", "ScalingDisabled")
    assert not [a for a in d.actions if a.subresource == "scale"]


def test_replicas_outside_min_max_are_brought_back() -> None:
    d = decide(
        hpa(minReplicas=3),
        "deployments.apps",
        Observed(scale(1), "", [], None),
        History(),
        Settings(),
        NOW,
    )
    event = next(a for a in d.actions if a.verb == "event")
    assert event.message == "New size: 3; reason: Current number of replicas below Spec.MinReplicas"


def test_an_unchanged_status_is_not_written_again() -> None:
    seen = Observed(
        scale(2), "", [pod("a"), pod("b")], [pod_metrics("a", "100m"), pod_metrics("b", "100m")]
    )
    obj, history = hpa(), History()
    first = decide(obj, "deployments.apps", seen, history, Settings(), NOW)
    assert [a.subresource for a in first.actions] == ["status"]
    obj["status"] = first.status
    again = decide(obj, "deployments.apps", seen, history, Settings(), NOW + 15)
    assert again.actions == []


def test_format_milli() -> None:
    assert [format_milli(v) for v in (250, 1000, 67108864000, 2_000_000_000)] == [
        "250m",
        "1",
        "67108864",
        "2M",
    ]
