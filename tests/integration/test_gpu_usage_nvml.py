"""GPU usage through the kubelet's real NVML path (the real ``pynvml`` against the stand-in
``libnvidia-ml.so.1`` of tests/nvml): the utilisation, memory and power NVML reports reach
NodeMetrics, the holder pod's custom metrics by its exact GPU UUID, ``kl top gpus|nodes``
and the DCGM series of ``/metrics/resource``; a board without a power sensor shows no
watts rather than 0; a change NVML reports is followed at the next report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Cluster
from tests.integration.kl_helpers import kl
from tests.nvml import Device, StandIn
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

H100 = "GPU-11111111-2222-3333-4444-555555555555"
RTX = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CUSTOM = "/apis/custom.metrics.k8s.io/v1beta2"
REPO = Path(__file__).resolve().parents[2]
READ_GPUS = (
    "import json; from kubelet.gpu import discover_gpus;"
    "print(json.dumps([d.as_dict() for d in discover_gpus(None, 'n')]))"
)


def test_per_process_utilisation_through_pynvml(tmp_path: Path) -> None:
    """nvmlDeviceGetProcessUtilization's samples, where the driver has some; a device with
    none (NVML's NOT_FOUND) has no per-process figures rather than an error."""
    standin = StandIn(tmp_path, devices=[Device(H100, util=80), Device(RTX)])
    standin.processes = [(0, 4242, 1024), (0, 4243, 2048), (1, 4244, 512)]
    standin.process_sm = {4242: 35, 4243: 45}
    standin.write()
    out = subprocess.run(
        [sys.executable, "-c", READ_GPUS],
        env=standin.env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    h100, rtx = json.loads(out.stdout)
    assert h100["process_utilization"] == [[4242, 35], [4243, 45]]
    assert h100["processes"] == [[4242, 1024], [4243, 2048]]
    assert rtx["process_utilization"] == [] and rtx["healthy"]


def gpu_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "train"}},
        "spec": {
            "containers": [
                {"name": "t", "image": "busybox", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
            ]
        },
    }


def test_nvml_readings_reach_the_metrics_apis_and_kl_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = StandIn(
        tmp_path,
        devices=[
            Device(H100, used_mib=1024, util=37, power_mw=123_400),
            Device(RTX, name="NVIDIA GeForce RTX 4090", memory_mib=24564, power_mw=None),
        ],
    )
    standin.write()
    for key, value in standin.env().items():  # the kubelet is a child: it inherits them
        monkeypatch.setenv(key, value)
    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        cl.add_kubelet("gpu-box", "--status-report-period", "1", "--metrics-report-period", "1")
        cl.wait_nodes_ready()
        api = cl.api.client()
        api.create("Pod", gpu_pod("train"), namespace="default")
        pod = wait_for(
            lambda: (lambda p: p if p["status"].get("phase") == "Running" else None)(
                api.get("Pod", "train", namespace="default")
            ),
            "the GPU pod running",
        )
        uuid = pod["metadata"]["annotations"]["kubelab.io/gpu-uuids"]
        device = standin.devices[[d.uuid for d in standin.devices].index(uuid)]
        device.util, device.used_mib = 81, 4096
        standin.write()

        def values(metric: str) -> list[dict[str, Any]] | None:
            got = api.request(
                "GET",
                f"{CUSTOM}/namespaces/default/pods/*/{metric}",
                params={"labelSelector": "app=train"},
            ).json()["items"]
            return got if got and got[0]["value"] != "37" else None

        (util,) = wait_for(lambda: values("gpu_utilization"), "the new utilisation reported")
        assert (util["describedObject"]["name"], util["value"]) == ("train", "81")
        # NVML shows no process of the pod's: alone on its GPU, it has the device's memory.
        (mem,) = api.request(
            "GET", f"{CUSTOM}/namespaces/default/pods/train/gpu_memory_used"
        ).json()["items"]
        assert mem["value"] == "4Gi"

        node = api.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes/gpu-box").json()
        by_uuid = {g["uuid"]: g for g in node["gpus"]}
        assert by_uuid[H100]["powerWatts"] == 123.4
        assert "powerWatts" not in by_uuid[RTX]  # no sensor: no figure, not 0
        assert by_uuid[uuid]["pod"] == {"namespace": "default", "name": "train", "container": "t"}

        out = kl(cl.api.kubeconfig, "top", "gpus", "-o", "wide").ok().out
        row = next(line.split() for line in out.splitlines() if uuid in line)
        assert row[-4:] == ["4Gi/" + row[-4].split("/")[1], "81%", "Healthy", "default/train"]
        top = kl(cl.api.kubeconfig, "top", "nodes").ok().out.splitlines()
        assert top[0].split()[-1] == "WATTS" and top[1].split()[-1] == "123"

        text = api.request("GET", "/api/v1/nodes/gpu-box/proxy/metrics/resource").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        util_series = {s.labels["UUID"]: s for s in families["DCGM_FI_DEV_GPU_UTIL"].samples}
        assert util_series[uuid].value == 81
        assert util_series[uuid].labels["Hostname"] == "gpu-box"
        powered = {s.labels["UUID"] for s in families["DCGM_FI_DEV_POWER_USAGE"].samples}
        assert powered == {H100}
