"""GPU usage (kubelet/gpu_usage.py): the simulated load of ``--fake-gpus`` pods, NVML
readings joined with the pods holding each GPU by UUID, per-process memory matched to the
pod's containers; the report body (kubelet/usage_reporter.py) and the DCGM exporter's series
on /metrics/resource (kubelet/resource_metrics.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kubelet.gpu import GpuDevice, fake_gpus
from kubelet.gpu_usage import (
    MIB,
    GpuLoad,
    Holder,
    gpu_readings,
    parse_gpu_load,
    simulated_power,
)
from kubelet.resource_metrics import Readings, render
from kubelet.runtime.base import ContainerInfo
from kubelet.usage_reporter import UsageReporter

GIB = 1024 * MIB
H100 = "NVIDIA H100 80GB HBM3"


def test_the_gpu_parts_of_the_simulated_usage_annotation() -> None:
    assert parse_gpu_load("cpu=500m,gpu=80,gpu-memory=20Gi") == GpuLoad(80, 20 * GIB)
    assert parse_gpu_load("gpu=150%") == GpuLoad(100, None)  # a GPU is busy at most 100 %
    assert parse_gpu_load("gpu=lots,gpu-memory=x") == GpuLoad(None, None)
    assert parse_gpu_load("cpu=1") == GpuLoad()


def test_simulated_power_follows_utilisation_between_idle_and_peak() -> None:
    assert simulated_power(H100, 0) == 70.0
    assert simulated_power(H100, 100) == 700.0
    assert simulated_power(H100, 80) == 574.0
    assert simulated_power("MyCard-24GB", 50) == 165.0  # unknown boards: 30..300 W


def test_fake_gpus_follow_the_holders_annotation() -> None:
    devs = fake_gpus("2xH100-80GB", "n1")
    holder = Holder("ml", "llm", (devs[0].uuid,), "server", load=GpuLoad(80, 20 * GIB))
    got = gpu_readings(devs, [holder])
    busy, free = got.gpus
    assert (busy.utilization, busy.memory_used_bytes, busy.power_w) == (80, 20 * GIB, 574.0)
    assert (busy.namespace, busy.pod, busy.container) == ("ml", "llm", "server")
    assert (free.utilization, free.memory_used_bytes, free.power_w, free.pod) == (0, 0, 70.0, "")
    pod = got.pods[("ml", "llm")]
    assert (pod.uuids, pod.utilization, pod.memory_used_bytes, pod.power_w) == (
        (devs[0].uuid,),
        80,
        20 * GIB,
        574.0,
    )


def test_pods_sharing_a_fake_gpu_add_up_on_it() -> None:
    (dev,) = fake_gpus("1", "n1")
    a = Holder("ml", "a", (dev.uuid,), "c", load=GpuLoad(70, 10 * GIB))
    b = Holder("ml", "b", (dev.uuid,), "c", load=GpuLoad(50, 90 * GIB))
    got = gpu_readings([dev], [a, b])
    assert got.gpus[0].utilization == 100  # capped
    assert got.gpus[0].memory_used_bytes == dev.memory_mib * MIB  # capped at the board's
    assert got.pods[("ml", "a")].utilization == 70  # each pod its own share
    assert got.pods[("ml", "a")].power_w is None  # a shared board's draw is nobody's alone


def real(uuid: str, **kw: Any) -> GpuDevice:
    return GpuDevice(index=kw.pop("index", 0), uuid=uuid, model=H100, memory_mib=81559, **kw)


def test_a_pods_memory_is_its_own_processes_where_nvml_lists_them() -> None:
    dev = real(
        "GPU-a",
        memory_used_mib=4096,
        utilization=37,
        power_w=123.4,
        processes=((100, 1024), (200, 3072)),
    )
    owners = {100: "cid-1", 200: "cid-other"}
    h = Holder("ml", "train", ("GPU-a",), "t", frozenset({"cid-1"}))
    got = gpu_readings([dev], [h], owners.get)
    assert got.pods[("ml", "train")].memory_used_bytes == 1024 * MIB
    assert got.pods[("ml", "train")].utilization == 37
    assert got.pods[("ml", "train")].power_w == 123.4
    assert (got.gpus[0].memory_used_bytes, got.gpus[0].pod) == (4096 * MIB, "train")


def test_without_process_details_a_lone_holder_gets_the_devices_use() -> None:
    devs = [real("GPU-a", memory_used_mib=2048, utilization=20), real("GPU-b", index=1,
            memory_used_mib=1024, utilization=60)]  # fmt: skip
    h = Holder("ml", "train", ("GPU-a", "GPU-b"), "t", frozenset({"cid-1"}))
    pod = gpu_readings(devs, [h]).pods[("ml", "train")]
    assert (pod.utilization, pod.memory_used_bytes) == (40, 3072 * MIB)
    assert pod.power_w is None  # neither board has a power sensor


def test_shared_gpus_without_process_details_leave_memory_unknown() -> None:
    dev = real("GPU-a", memory_used_mib=2048, utilization=20)
    a = Holder("ml", "a", ("GPU-a",), "c", frozenset({"x"}))
    b = Holder("ml", "b", ("GPU-a",), "c", frozenset({"y"}))
    assert gpu_readings([dev], [a, b]).pods[("ml", "a")].memory_used_bytes is None


def test_on_a_shared_gpu_each_pod_has_its_own_processes_utilisation() -> None:
    dev = real(
        "GPU-a",
        memory_used_mib=3072,
        utilization=85,
        processes=((100, 1024), (200, 2048)),
        process_utilization=((100, 30), (200, 50)),
    )
    owners = {100: "cid-a", 200: "cid-b"}
    a = Holder("ml", "a", ("GPU-a",), "c", frozenset({"cid-a"}))
    b = Holder("ml", "b", ("GPU-a",), "c", frozenset({"cid-b"}))
    got = gpu_readings([dev], [a, b], owners.get)
    assert (got.pods[("ml", "a")].utilization, got.pods[("ml", "b")].utilization) == (30, 50)
    assert got.pods[("ml", "b")].memory_used_bytes == 2048 * MIB
    assert got.gpus[0].utilization == 85  # the GPU's own figure stays the device's
    # Alone on a GPU, the device's utilisation is the pod's (it sees everything that ran).
    alone = gpu_readings([dev], [a], owners.get).pods[("ml", "a")]
    assert alone.utilization == 85
    # Shared, with no per-process samples: the device's, as the DCGM exporter reports it.
    bare = real("GPU-a", utilization=85)
    assert gpu_readings([bare], [a, b]).pods[("ml", "a")].utilization == 85


def test_a_pod_whose_uuids_are_not_on_this_node_has_no_gpu_usage() -> None:
    got = gpu_readings([real("GPU-a")], [Holder("ml", "x", ("GPU-elsewhere",), "c")])
    assert got.pods == {}
    assert got.gpus[0].pod == ""


def gpu_worker(name: str, uuids: str, annotation: str) -> Any:
    pod = {
        "metadata": {
            "name": name,
            "namespace": "ml",
            "annotations": {
                "kubelab.io/gpu-uuids": uuids,
                "kubelab.io/simulated-usage": annotation,
            },
        },
        "status": {"phase": "Running"},
    }
    info = ContainerInfo(id=f"id-{name}", name="srv", labels={}, state="running")
    container = {"name": "srv", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    return SimpleNamespace(
        pod=pod,
        tracks={"srv": SimpleNamespace(current=info)},
        app_containers=lambda: [container],
    )


def test_the_report_carries_each_gpu_and_each_gpu_pods_use() -> None:
    devs = fake_gpus("2", "n1")
    pods = [gpu_worker("llm", devs[1].uuid, "cpu=100m,gpu=90,gpu-memory=30Gi")]
    rep = UsageReporter(
        None,  # type: ignore[arg-type]
        "n1",
        lambda: pods,
        simulated=True,
        node_from_host=False,
        gpus=lambda: devs,
    )
    body = rep.collect()
    free, held = body["gpus"]
    assert free == {
        "index": 0,
        "uuid": devs[0].uuid,
        "model": H100,
        "memoryTotal": "81559Mi",
        "utilization": 0,
        "memoryUsed": "0",
        "powerWatts": 70.0,
    }
    assert held["pod"] == {"namespace": "ml", "name": "llm", "container": "srv"}
    assert (held["utilization"], held["memoryUsed"], held["powerWatts"]) == (90, "30Gi", 637.0)
    (pod,) = body["pods"]
    assert pod["gpu"] == {
        "uuids": [devs[1].uuid],
        "utilization": 90,
        "memoryUsed": "30Gi",
        "powerWatts": 637.0,
    }
    assert rep.readings is not None and len(rep.readings.gpus) == 2


def test_a_node_without_gpus_reports_none() -> None:
    rep = UsageReporter(
        None,  # type: ignore[arg-type]
        "n1",
        lambda: [],
        simulated=True,
        node_from_host=False,
    )
    assert "gpus" not in rep.collect()


def test_resource_metrics_carry_the_dcgm_exporters_series() -> None:
    devs = [
        real("GPU-a", memory_used_mib=1024, utilization=37, power_w=123.4),
        real("GPU-b", index=1),  # a board without utilisation or power sensors
    ]
    got = gpu_readings(devs, [Holder("ml", "train", ("GPU-a",), "t")])
    text = render(Readings(1_700_000_000.0, gpus=got.gpus, node="box")).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (util,) = families["DCGM_FI_DEV_GPU_UTIL"].samples
    assert util.value == 37
    assert util.labels == {
        "gpu": "0",
        "UUID": "GPU-a",
        "device": "nvidia0",
        "modelName": H100,
        "Hostname": "box",
        "container": "t",
        "namespace": "ml",
        "pod": "train",
    }
    used = {s.labels["UUID"]: s.value for s in families["DCGM_FI_DEV_FB_USED"].samples}
    assert used == {"GPU-a": 1024, "GPU-b": 0}
    free = {s.labels["UUID"]: s.value for s in families["DCGM_FI_DEV_FB_FREE"].samples}
    assert free["GPU-a"] == 81559 - 1024
    power = [(s.labels["UUID"], s.value) for s in families["DCGM_FI_DEV_POWER_USAGE"].samples]
    assert power == [("GPU-a", 123.4)]  # GPU-b has no sensor: no series, not a 0


def test_a_node_without_gpus_has_no_dcgm_series() -> None:
    assert b"DCGM_FI" not in render(Readings(1.0))
