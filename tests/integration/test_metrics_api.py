"""Usage through the metrics API: kubelets report, the apiserver serves metrics.k8s.io as
metrics-server does, and the real `kubectl top` and `kl top` show it (fake runtime: the
pods' simulated usage); a node may report only its own usage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import Cluster
from tests.wait import wait_for


def pod(name: str, usage: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "llm"},
            "annotations": {"kubelab.io/simulated-usage": usage},
        },
        "spec": {"nodeName": "box", "containers": [{"name": "c", "image": "busybox"}]},
    }


def test_kubectl_top_shows_reported_usage(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_kubelet("box", "--metrics-report-period", "1")
        cl.wait_nodes_ready()
        api = cl.api.client()
        api.create("pods", pod("server", "cpu=750m,memory=300Mi"), "default")
        api.create("pods", pod("sidecar", "cpu=20m,memory=10Mi"), "default")

        def metrics() -> dict[str, Any] | None:
            got = api.request(
                "GET",
                "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                params={"labelSelector": "app=llm"},
            ).json()
            return got if len(got["items"]) == 2 else None

        listed = wait_for(metrics, "both pods in the metrics API")
        server = next(p for p in listed["items"] if p["metadata"]["name"] == "server")
        assert server["containers"] == [
            {"name": "c", "usage": {"cpu": "750000000n", "memory": "300Mi"}}
        ]
        assert server["metadata"]["labels"] == {"app": "llm"}
        node = api.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes/box").json()
        assert node["usage"] == {"cpu": "770000000n", "memory": "310Mi"}  # fake: its pods' sum

        kl = [sys.executable, "-m", "kubectl.main", "--kubeconfig", str(cl.api.kubeconfig)]
        out = subprocess.run(
            [*kl, "top", "pods"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)", "GPUS"]
        rows = {line.split()[0]: line.split()[1:] for line in out.strip().splitlines()[1:]}
        assert rows == {"server": ["750m", "300Mi", "-"], "sidecar": ["20m", "10Mi", "-"]}
        out = subprocess.run(
            [*kl, "top", "nodes"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        assert out.splitlines()[1].split()[:2] == ["box", "770m"]

        kubectl = shutil.which("kubectl")
        if kubectl is not None:
            env = {"KUBECONFIG": str(cl.api.kubeconfig), "PATH": "/usr/bin:/bin"}
            out = subprocess.run(
                [kubectl, "top", "pods", "-n", "default"], env=env, capture_output=True,
                text=True, timeout=60, check=True,
            ).stdout  # fmt: skip
            rows = {line.split()[0]: line.split()[1:] for line in out.strip().splitlines()[1:]}
            assert rows["server"] == ["750m", "300Mi"] and rows["sidecar"] == ["20m", "10Mi"]
            out = subprocess.run(
                [kubectl, "top", "nodes"], env=env, capture_output=True, text=True,
                timeout=60, check=True,
            ).stdout  # fmt: skip
            assert out.split("\n")[1].split()[:2] == ["box", "770m"]


def test_a_node_reports_only_its_own_usage(tmp_path: Path) -> None:
    from apiserver.main import node_kubeconfig
    from client import Client

    with Cluster(tmp_path / "home") as cl:
        kc = node_kubeconfig(cl.api.home, "box", cl.api.url)
        node = Client.from_kubeconfig(str(kc))
        body = {"usage": {"cpu": "1n", "memory": "1Ki"}, "pods": []}
        node.request("POST", "/apis/metrics.k8s.io/v1beta1/nodes/box/usage", json=body)
        with pytest.raises(ApiError) as err:
            node.request("POST", "/apis/metrics.k8s.io/v1beta1/nodes/other/usage", json=body)
        assert err.value.code == 403
        with pytest.raises(ApiError) as err:
            cl.api.client().request("DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/box")
        assert err.value.code == 405


def test_the_kubelets_resource_metrics_through_the_node_proxy(tmp_path: Path) -> None:
    """GET /api/v1/nodes/NAME/proxy/metrics/resource: kubelet's Prometheus text, parsed
    here with prometheus-client's own parser; CPU seconds are a counter that grows at the
    pod's rate, memory the working set; other kubelet paths are refused."""
    from prometheus_client.parser import text_string_to_metric_families

    with Cluster(tmp_path / "home") as cl:
        cl.add_kubelet("box", "--metrics-report-period", "1")
        cl.wait_nodes_ready()
        api = cl.api.client()
        api.create("pods", pod("server", "cpu=500m,memory=300Mi"), "default")
        path = "/api/v1/nodes/box/proxy/metrics/resource"

        def samples() -> dict[tuple[str, str], float]:
            reply = api.request("GET", path)
            assert reply.headers["content-type"].startswith("text/plain; version=")
            out: dict[tuple[str, str], float] = {}
            for family in text_string_to_metric_families(reply.text):
                for s in family.samples:
                    out[(s.name, s.labels.get("pod", ""))] = s.value
            return out

        first = wait_for(
            lambda: (s := samples()).get(("container_cpu_usage_seconds_total", "server")) and s,
            "the pod's CPU counter",
        )
        assert first[("container_memory_working_set_bytes", "server")] == 300 * 2**20
        assert first[("pod_memory_working_set_bytes", "server")] == 300 * 2**20
        assert ("node_cpu_usage_seconds_total", "") in first
        assert first[("resource_scrape_error", "")] == 0
        later = wait_for(
            lambda: (
                (s := samples())[("container_cpu_usage_seconds_total", "server")]
                >= first[("container_cpu_usage_seconds_total", "server")] + 0.9
                and s
            ),
            "the counter growing by the pod's 500m over two seconds or more",
            timeout=15,
        )
        assert later[("pod_cpu_usage_seconds_total", "server")] == pytest.approx(
            later[("container_cpu_usage_seconds_total", "server")]
        )
        with pytest.raises(ApiError) as refused:
            api.request("GET", "/api/v1/nodes/box/proxy/containerLogs/default/server/c")
        assert refused.value.code == 404 and "metrics/resource" in refused.value.message
