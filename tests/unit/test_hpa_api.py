"""autoscaling/v2 HorizontalPodAutoscaler through the real apiserver app (in process):
Kubernetes' defaults, the validation messages (metric types kubelab has no API for are
refused), the Table kubectl prints, and status written only through /status."""

from __future__ import annotations

from typing import Any

import pytest

from api.defaults import apply_defaults
from api.hpa import format_targets
from api.validation import validate
from tests.inprocess import InProcessApi


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the in-process apiserver runs on asyncio only


HPAS = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
TABLE = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


def hpa(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            **spec,
        },
    }


def causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    apply_defaults("HorizontalPodAutoscaler", obj)
    return [(c.field, c.message) for c in validate("HorizontalPodAutoscaler", obj)]


def test_defaults_as_kubernetes() -> None:
    obj = hpa()
    apply_defaults("HorizontalPodAutoscaler", obj)
    spec = obj["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "behavior" not in spec  # only a given behavior is completed, as upstream
    obj = hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    apply_defaults("HorizontalPodAutoscaler", obj)
    b = obj["spec"]["behavior"]
    assert b["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert b["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        ({"maxReplicas": 0}, "spec.maxReplicas", "must be greater than or equal to 1"),
        (
            {"minReplicas": 6},
            "spec.maxReplicas",
            "must be greater than or equal to `minReplicas`",
        ),
        (
            {"metrics": [{"type": "Pods", "pods": {"metric": {"name": "rps"}}}]},
            "spec.metrics[0].pods.target",
            "type: AverageValue",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "gpu_utilization"},
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ]
            },
            "spec.metrics[0].pods.target.type",
            "must be AverageValue for a pods metric",
        ),
        (
            {"metrics": [{"type": "Pods", "pods": {"target": {"type": "AverageValue"}}}]},
            "spec.metrics[0].pods.metric.name",
            "e.g. gpu_utilization",
        ),
        (
            {"metrics": [{"type": "Object", "object": {}}]},
            "spec.metrics[0].type",
            "Object metrics",
        ),
        (
            {"metrics": [{"type": "External", "external": {}}]},
            "spec.metrics[0].type",
            "external.metrics.k8s.io",
        ),
        (
            {"metrics": [{"type": "Resource", "resource": {"name": "gpu", "target": {}}}]},
            "spec.metrics[0].resource.name",
            'supported values: "cpu", "memory"',
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization"}},
                    }
                ]
            },
            "spec.metrics[0].resource.target.averageUtilization",
            "must be set for type Utilization",
        ),
        (
            {"behavior": {"scaleUp": {"selectPolicy": "Fastest"}}},
            "spec.behavior.scaleUp.selectPolicy",
            '"Max", "Min", "Disabled"',
        ),
        (
            {
                "behavior": {
                    "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}
                }
            },
            "spec.behavior.scaleDown.policies[0].periodSeconds",
            "must be greater than zero and less than or equal to 1800",
        ),
        (
            {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 4000}}},
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "must be less than or equal to 3600",
        ),
    ],
)
def test_validation_names_the_field(spec: dict[str, Any], field: str, text: str) -> None:
    found = causes(hpa(**spec))
    assert any(f == field and text in m for f, m in found), found


def test_valid_hpa_and_no_scale_to_zero_yet() -> None:
    assert causes(hpa(minReplicas=1)) == []
    (zero,) = [m for f, m in causes(hpa(minReplicas=0)) if f == "spec.minReplicas"]
    assert zero.startswith("Invalid value: 0: must be greater than or equal to 1 (0 needs")
    assert "kubelab.io/scale-to-zero-after" in zero
    assert causes(hpa(behavior={"scaleUp": {"selectPolicy": "Disabled"}})) == []


def test_targets_cell() -> None:
    obj = hpa()
    apply_defaults("HorizontalPodAutoscaler", obj)
    assert format_targets(obj) == "cpu: <unknown>/80%"
    obj["status"] = {
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}
        ]
    }
    assert format_targets(obj) == "cpu: 40%/80%"
    obj["spec"]["metrics"].append(
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "AverageValue", "averageValue": "100Mi"},
            },
        }
    )
    obj["spec"]["metrics"].append(obj["spec"]["metrics"][0])
    assert format_targets(obj) == "cpu: 40%/80%, memory: <unknown>/100Mi + 1 more..."


@pytest.mark.anyio
@pytest.mark.inprocess
async def test_served_with_table_and_status_subresource(inprocess_api: InProcessApi) -> None:
    c = inprocess_api.client
    r = await c.post(HPAS, json=hpa(status={"currentReplicas": 9}))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["spec"]["minReplicas"] == 1
    assert "currentReplicas" not in (body.get("status") or {})  # status only via /status
    r = await c.post(HPAS, json=hpa("bad", metrics=[{"type": "Object", "object": {}}]))
    assert r.status_code == 422 and "custom.metrics.k8s.io" in r.text
    r = await c.patch(
        f"{HPAS}/web/status",
        json={"status": {"currentReplicas": 2, "desiredReplicas": 2}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    r = await c.get(HPAS, headers=TABLE)
    table = r.json()
    assert [col["name"] for col in table["columnDefinitions"]] == [
        "Name",
        "Reference",
        "Targets",
        "MinPods",
        "MaxPods",
        "Replicas",
        "Age",
    ]
    assert table["rows"][0]["cells"][:6] == [
        "web",
        "Deployment/web",
        "cpu: <unknown>/80%",
        "1",
        5,
        2,
    ]
    r = await c.get("/apis/autoscaling/v2")
    assert any(
        res["name"] == "horizontalpodautoscalers" and res["shortNames"] == ["hpa"]
        for res in r.json()["resources"]
    )
