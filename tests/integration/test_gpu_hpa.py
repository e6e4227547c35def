"""Autoscaling on GPU, learned on a laptop: a fake-runtime kubelet with ``--fake-gpus`` whose
pods use the GPU load their ``kubelab.io/simulated-usage`` annotation says (``gpu=90``).
The kubelet reports each GPU and each GPU pod; the apiserver serves them as
custom.metrics.k8s.io (per pod, with a label selector, as the HPA reads a Pods metric) and
in NodeMetrics; an HPA on ``gpu_utilization`` scales a Deployment up while its GPUs are
busier than the target and back down when they idle; ``kl top gpus|nodes`` show the
utilisation, memory and watts; ``/metrics/resource`` carries the DCGM exporter's series;
the real kubectl's ``top nodes`` keeps its columns."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster, start_cluster
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)

USAGE = "kubelab.io/simulated-usage"
CUSTOM = "/apis/custom.metrics.k8s.io/v1beta2"
HPA_FLAGS = (
    "--horizontal-pod-autoscaler-sync-period",
    "1",
    "--horizontal-pod-autoscaler-downscale-stabilization",
    "3",
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(
        tmp_path_factory.mktemp("gpu-hpa") / "home",
        nodes=1,
        controller_flags=(*FAST_CONTROLLER_FLAGS, *HPA_FLAGS),
        kubelet_flags=(*FAST_KUBELET_FLAGS, "--metrics-report-period", "1"),
        fake_gpus="4xH100-80GB",
    )
    try:
        c.wait_nodes_ready(timeout=60)
        yield c
    finally:
        c.stop()


def deployment(name: str, load: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {USAGE: load}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "vllm/vllm-openai",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
        },
    }


def gpu_hpa(name: str, target: str, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "gpu_utilization"},
                        "target": {"type": "AverageValue", "averageValue": target},
                    },
                }
            ],
        },
    }


def live_pods(c: Any, app: str) -> list[dict[str, Any]]:
    items = c.list("pods", "default", label_selector=f"app={app}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def replicas(c: Any, name: str) -> int:
    return int(c.get("deployments", name, "default")["spec"]["replicas"])


def test_simulated_gpu_load_scales_a_deployment_up_and_down(cluster: Cluster) -> None:
    c = cluster.client
    c.create("deployments", deployment("llm", "cpu=100m,gpu=90,gpu-memory=30Gi"), "default")
    (first,) = wait_for(
        lambda: [p for p in live_pods(c, "llm") if p["status"].get("phase") == "Running"] or None,
        "the first replica running",
    )
    uuid = first["metadata"]["annotations"]["kubelab.io/gpu-uuids"]

    # The custom metric, as the HPA asks for it.
    def values() -> list[dict[str, Any]] | None:
        got = c.request(
            "GET",
            f"{CUSTOM}/namespaces/default/pods/*/gpu_utilization",
            params={"labelSelector": "app=llm"},
        ).json()
        return got["items"] or None

    (item,) = wait_for(values, "gpu_utilization of the first replica")
    assert item["describedObject"]["name"] == first["metadata"]["name"]
    assert (item["value"], item["windowSeconds"]) == ("90", 1)

    c.create("horizontalpodautoscalers", gpu_hpa("llm", "50", 3), "default")
    # 90 against 50 per pod: ceil(1 x 1.8) = 2, then every new replica is as busy: 3 (max).
    wait_for(lambda: replicas(c, "llm") == 3, "scaled up to maxReplicas on GPU load", timeout=60)
    events = c.list(
        "events", "default", field_selector="involvedObject.kind=HorizontalPodAutoscaler"
    )["items"]
    assert any(
        e["reason"] == "SuccessfulRescale"
        and e["message"].endswith("reason: pods metric gpu_utilization above target")
        for e in events
    )
    hpa = c.get("horizontalpodautoscalers", "llm", "default")
    current = hpa["status"]["currentMetrics"][0]
    assert (current["type"], current["pods"]["metric"]["name"]) == ("Pods", "gpu_utilization")
    out = kl(cluster.api.kubeconfig, "get", "hpa", "llm").ok().out
    assert "gpu_utilization: " in out and "/50" in out

    # Each replica holds its own GPU: three of the four are busy.
    running = wait_for(
        lambda: (lambda ps: ps if len(ps) == 3 else None)(
            [p for p in live_pods(c, "llm") if p["status"].get("phase") == "Running"]
        ),
        "three replicas running",
        timeout=60,
    )
    held = {p["metadata"]["annotations"]["kubelab.io/gpu-uuids"] for p in running}
    assert uuid in held and len(held) == 3

    # The GPUs idle: back down to one after the (shortened) stabilization window.
    for p in live_pods(c, "llm"):
        c.patch(
            "pods",
            p["metadata"]["name"],
            {"metadata": {"annotations": {USAGE: "cpu=100m,gpu=5"}}},
            "default",
        )
    wait_for(lambda: replicas(c, "llm") == 1, "scaled back down on idle GPUs", timeout=60)


def test_top_shows_gpu_use_watts_and_the_dcgm_series(cluster: Cluster) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    c = cluster.client
    c.create("deployments", deployment("trainer", "gpu=60,gpu-memory=40Gi"), "default")
    pod = wait_for(
        lambda: next(
            (p for p in live_pods(c, "trainer") if p["status"].get("phase") == "Running"), None
        ),
        "the trainer running",
    )
    uuid = pod["metadata"]["annotations"]["kubelab.io/gpu-uuids"]
    name = f"default/{pod['metadata']['name']}"

    def trainer_row() -> list[str] | None:
        out = kl(cluster.api.kubeconfig, "top", "gpus", "-o", "wide").ok().out
        rows = [line.split() for line in out.splitlines()[1:]]
        row = next((r for r in rows if r[2] == uuid), None)
        return row if row is not None and row[-3] == "60%" else None

    row = wait_for(trainer_row, "kl top gpus showing the trainer's GPU busy")
    # NODE INDEX UUID MODEL... (the model has spaces) MEMORY UTIL HEALTH POD
    assert row[-4:] == ["40Gi/79.6Gi", "60%", "Healthy", name]

    top = kl(cluster.api.kubeconfig, "top", "nodes").ok().out.splitlines()
    header = top[0].split()
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)", "GPUS", "WATTS"]
    watts = int(top[1].split()[header.index("WATTS")])
    # Four H100s between 70 W idle and 700 W: at least the trainer's 448 W and three idle.
    assert watts >= 448 + 3 * 70

    text = c.request("GET", "/api/v1/nodes/node-0/proxy/metrics/resource").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    util = {s.labels["UUID"]: s for s in families["DCGM_FI_DEV_GPU_UTIL"].samples}
    assert util[uuid].value == 60
    assert util[uuid].labels["pod"] == pod["metadata"]["name"]
    assert util[uuid].labels["container"] == "server"
    assert len(families["DCGM_FI_DEV_POWER_USAGE"].samples) == 4

    from tests.tools.kubectl import ensure_kubectl

    try:
        kubectl = ensure_kubectl()
    except Exception:  # noqa: BLE001 - no wheel to take it from: kl's columns were checked
        return
    env = {"KUBECONFIG": str(cluster.api.kubeconfig), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [str(kubectl), "top", "nodes"], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout  # fmt: skip
    assert out.splitlines()[0].split() == [
        "NAME",
        "CPU(cores)",
        "CPU(%)",
        "MEMORY(bytes)",
        "MEMORY(%)",
    ]
    assert out.splitlines()[1].split()[0] == "node-0"
