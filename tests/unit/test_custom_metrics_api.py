"""custom.metrics.k8s.io/v1beta2 (apiserver/custom_metrics_api.py): the GPU metrics of the
kubelets' reports as MetricValueLists, per pod with a label selector as the HPA's Pods
metric asks, per node; what a missing metric answers; discovery; and the GPU extension of
NodeMetrics that ``kl top`` reads (apiserver/metrics_api.py)."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from api.registry import by_version_plural
from apiserver import discovery
from apiserver.custom_metrics_api import CustomMetricsApi, node_figures
from apiserver.metrics_api import MetricsApi
from apiserver.paths import Target, parse_resource_path

STAMP = "2026-12-04T21:00:00Z"


def report(pods: list[dict[str, Any]], gpus: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": STAMP,
        "window": "15s",
        "usage": {"cpu": "1n", "memory": "1Ki"},
        "pods": pods,
    }
    if gpus is not None:
        body["gpus"] = gpus
    return body


def gpu_pod(name: str, util: int | None, labels: dict[str, str]) -> dict[str, Any]:
    gpu: dict[str, Any] = {"uuids": [f"GPU-{name}"], "memoryUsed": "20Gi", "powerWatts": 574.0}
    if util is not None:
        gpu["utilization"] = util
    return {
        "namespace": "ml",
        "name": name,
        "labels": labels,
        "timestamp": STAMP,
        "window": "15s",
        "containers": [{"name": "c", "usage": {"cpu": "0", "memory": "0"}}],
        "gpu": gpu,
    }


@pytest.fixture
def api() -> CustomMetricsApi:
    m = MetricsApi(clock=lambda: 1000.0)
    m.accept(
        "box",
        report(
            [
                gpu_pod("llm-a", 90, {"app": "llm"}),
                gpu_pod("llm-b", 30, {"app": "llm"}),
                gpu_pod("other", 10, {"app": "other"}),
                gpu_pod("no-sensor", None, {"app": "llm"}),
                {"namespace": "ml", "name": "cpu-only", "labels": {"app": "llm"}, "containers": []},
            ],
            [
                {"uuid": "GPU-llm-a", "utilization": 90, "memoryUsed": "20Gi", "powerWatts": 574.0},
                {"uuid": "GPU-llm-b", "utilization": 30, "memoryUsed": "4Gi", "powerWatts": 200.5},
            ],
        ),
    )
    return CustomMetricsApi(m.fresh_reports, lambda node: {"gpu": "h100"} if node == "box" else {})


def target(path: str) -> Target:
    t = parse_resource_path(path)
    assert t is not None
    return t


PODS = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/pods"


def test_pods_metric_with_a_label_selector_as_the_hpa_reads_it(api: CustomMetricsApi) -> None:
    got = api.values(target(f"{PODS}/*/gpu_utilization"), "app=llm", None)
    assert (got["kind"], got["apiVersion"]) == ("MetricValueList", "custom.metrics.k8s.io/v1beta2")
    assert got["items"] == [
        {
            "describedObject": {"kind": "Pod", "name": name, "apiVersion": "v1", "namespace": "ml"},
            "metric": {"name": "gpu_utilization"},
            "timestamp": STAMP,
            "windowSeconds": 15,
            "value": value,
        }
        for name, value in (("llm-a", "90"), ("llm-b", "30"))
    ]  # no-sensor reported no utilisation: absent, not 0; cpu-only holds no GPU


def test_memory_and_power_are_quantities(api: CustomMetricsApi) -> None:
    mem = api.values(target(f"{PODS}/llm-a/gpu_memory_used"), None, None)["items"]
    assert [i["value"] for i in mem] == ["20Gi"]
    power = api.values(target(f"{PODS}/llm-a/gpu_power_usage"), None, None)["items"]
    assert [i["value"] for i in power] == ["574"]


def test_a_named_pod_without_the_metric_is_a_404_naming_it(api: CustomMetricsApi) -> None:
    with pytest.raises(ApiError) as err:
        api.values(target(f"{PODS}/cpu-only/gpu_utilization"), None, None)
    assert err.value.code == 404
    assert 'could not find the metric gpu_utilization for pods "cpu-only"' in str(err.value)
    # All pods of a selector with none: an empty list, which the HPA reports as missing.
    assert api.values(target(f"{PODS}/*/gpu_utilization"), "app=none", None)["items"] == []


def test_unknown_metrics_and_bare_paths_are_refused() -> None:
    with pytest.raises(ApiError) as err:
        parse_resource_path(f"{PODS}/*/requests_per_second")
    assert err.value.code == 404 and "gpu_utilization" in str(err.value)
    m = MetricsApi()
    api = CustomMetricsApi(m.fresh_reports, lambda n: {})
    with pytest.raises(ApiError) as err:
        api.values(target(f"{PODS}/llm-a"), None, None)
    assert err.value.code == 404 and "pods/*/METRIC" in str(err.value)
    with pytest.raises(ApiError) as err:
        api.values(target(f"{PODS}/*/gpu_utilization"), "app in (", None)
    assert err.value.code == 400


def test_a_metric_label_selector_matches_the_unlabelled_series(api: CustomMetricsApi) -> None:
    t = target(f"{PODS}/*/gpu_utilization")
    assert len(api.values(t, "app=llm", "gpu!=x")["items"]) == 2
    assert api.values(t, "app=llm", "gpu=x")["items"] == []


def test_node_metrics_sum_and_average_the_nodes_gpus(api: CustomMetricsApi) -> None:
    nodes = "/apis/custom.metrics.k8s.io/v1beta2/nodes"
    util = api.values(target(f"{nodes}/*/gpu_utilization"), "gpu=h100", None)["items"]
    assert [(i["describedObject"], i["value"]) for i in util] == [
        ({"kind": "Node", "name": "box", "apiVersion": "v1"}, "60")
    ]
    power = api.values(target(f"{nodes}/box/gpu_power_usage"), None, None)["items"]
    assert power[0]["value"] == "774500m"
    assert api.values(target(f"{nodes}/*/gpu_utilization"), "gpu=a100", None)["items"] == []
    assert node_figures([{"uuid": "a", "utilization": 5}, {"uuid": "b"}]) == {}


def test_discovery_lists_each_metric_as_a_subresource() -> None:
    doc = discovery.api_resource_list("custom.metrics.k8s.io", "v1beta2")
    assert doc is not None
    entries = {e["name"]: e for e in doc["resources"]}
    assert entries["pods/gpu_utilization"] == {
        "name": "pods/gpu_utilization",
        "singularName": "",
        "namespaced": True,
        "kind": "MetricValueList",
        "verbs": ["get"],
    }
    assert entries["nodes/gpu_power_usage"]["namespaced"] is False
    # No bare pods or nodes here (a get of them is no metric): kubectl api-resources lists none.
    assert "pods" not in entries and "nodes" not in entries
    (group,) = [
        g
        for g in discovery.aggregated_discovery(core=False)["items"]
        if g["metadata"]["name"] == "custom.metrics.k8s.io"
    ]
    pods = next(r for r in group["versions"][0]["resources"] if r["resource"] == "pods")
    assert "responseKind" not in pods and pods["verbs"] == []
    assert [s["subresource"] for s in pods["subresources"]] == [
        "gpu_utilization",
        "gpu_memory_used",
        "gpu_power_usage",
    ]
    info = by_version_plural("custom.metrics.k8s.io", "v1beta2", "pods")
    assert info is not None and info.verbs == ("get",)


def test_node_metrics_carry_the_gpus_and_reject_bad_ones() -> None:
    m = MetricsApi(clock=lambda: 1000.0)
    m.accept("box", report([], [{"uuid": "GPU-1", "utilization": 5, "powerWatts": 71.5}]))
    (node,) = m.node_metrics()
    assert node["gpus"] == [{"uuid": "GPU-1", "utilization": 5, "powerWatts": 71.5}]
    assert node["usage"] == {"cpu": "1n", "memory": "1Ki"}
    m.accept("cpu-box", report([]))
    assert "gpus" not in m.node_metrics()[1]
    with pytest.raises(ApiError) as err:
        m.accept("box", report([], [{"utilization": 5}]))
    assert err.value.code == 422 and "uuid" in str(err.value)


def test_old_reports_drop_out_of_the_custom_metrics_too() -> None:
    now = [1000.0]
    m = MetricsApi(max_age=60, clock=lambda: now[0])
    m.accept("box", report([gpu_pod("llm-a", 90, {})]))
    api = CustomMetricsApi(m.fresh_reports, lambda n: {})
    t = target(f"{PODS}/*/gpu_utilization")
    assert len(api.values(t, None, None)["items"]) == 1
    now[0] += 61
    assert api.values(t, None, None)["items"] == []
