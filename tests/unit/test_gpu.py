"""The GPU inventory: the NVML path against a recorded NVML stand-in, and simulated GPUs."""

from __future__ import annotations

import types
from typing import Any

import pytest

from kubelet import gpu

# Values recorded from `nvidia-smi -q` on an H100 box, as NVML returns them.
RECORDED = [
    {
        "uuid": "GPU-5e0c1a62-1b7e-4f0c-8c1e-0d6c7b1f9a01",
        "name": "NVIDIA H100 80GB HBM3",
        "total": 85520809984,
        "used": 560922624,
        "util": 0,
        "temp": 31,
        "power": 71234,
    },
    {
        "uuid": "GPU-0b8d2c44-7a61-4c38-9e12-2f2d5f7e3b02",
        "name": b"NVIDIA H100 80GB HBM3",  # older bindings return bytes
        "total": 85520809984,
        "used": 40000000000,
        "util": 97,
        "temp": 64,
        "power": 612000,
    },
]


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


def fake_nvml(
    devices: list[dict[str, Any]], lost: set[int] = frozenset(), init_error: bool = False
) -> Any:
    """A module with pynvml's names returning the recorded values; devices in ``lost``
    raise GPU_IS_LOST from their sensors, as a fallen-off-the-bus GPU does."""
    m = types.SimpleNamespace()
    m.NVMLError = NVMLError
    m.NVML_ERROR_GPU_IS_LOST = 15
    m.NVML_ERROR_NOT_SUPPORTED = 3
    m.NVML_ERROR_LIBRARY_NOT_FOUND = 12
    m.calls = []

    def init() -> None:
        if init_error:
            raise NVMLError(12)
        m.calls.append("init")

    m.nvmlInit = init
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = lambda i: i

    def sensor(fn: Any) -> Any:
        def wrapped(h: int, *a: Any) -> Any:
            if h in lost:
                raise NVMLError(15)
            return fn(devices[h], *a)

        return wrapped

    m.nvmlDeviceGetUUID = lambda h: devices[h]["uuid"]
    m.nvmlDeviceGetName = lambda h: devices[h]["name"]
    m.nvmlDeviceGetMemoryInfo = sensor(
        lambda d: types.SimpleNamespace(
            total=d["total"], used=d["used"], free=d["total"] - d["used"]
        )
    )
    m.nvmlDeviceGetUtilizationRates = sensor(
        lambda d: types.SimpleNamespace(gpu=d["util"], memory=0)
    )
    m.nvmlDeviceGetTemperature = sensor(lambda d, sensor_type: d["temp"])

    def power(d: dict[str, Any]) -> int:
        if d.get("power") is None:
            raise NVMLError(3)  # not supported on this board: harmless
        return int(d["power"])

    m.nvmlDeviceGetPowerUsage = sensor(power)
    return m


def test_nvml_path_reads_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(RECORDED)
    monkeypatch.setattr(gpu, "_import_nvml", lambda: nvml)
    devices = gpu.discover_gpus(None, "box1")
    assert [d.index for d in devices] == [0, 1]
    d0, d1 = devices
    assert d0.uuid == RECORDED[0]["uuid"]
    assert d1.model == "NVIDIA H100 80GB HBM3"  # bytes decoded
    assert d0.memory_mib == 81559
    assert d1.memory_used_mib == 40000000000 // (1024 * 1024)
    assert (d1.utilization, d1.temperature, d1.power_w) == (97, 64, 612.0)
    assert d0.healthy and d1.healthy and not d0.simulated
    assert nvml.calls == ["init", "shutdown"]


def test_lost_gpu_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "_import_nvml", lambda: fake_nvml(RECORDED, lost={1}))
    d0, d1 = gpu.discover_gpus(None, "box1")
    assert d0.healthy
    assert not d1.healthy
    assert d1.uuid == RECORDED[1]["uuid"]
    assert d1.to_status()["health"] == "Unhealthy"


def test_unsupported_sensor_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [dict(RECORDED[0], power=None)]
    monkeypatch.setattr(gpu, "_import_nvml", lambda: fake_nvml(devices))
    (d,) = gpu.discover_gpus(None, "box1")
    assert d.healthy and d.power_w == 0.0


def test_no_driver_means_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "_import_nvml", lambda: fake_nvml(RECORDED, init_error=True))
    assert gpu.discover_gpus(None, "box1") == []
    monkeypatch.setattr(gpu, "_import_nvml", lambda: None)
    assert gpu.discover_gpus(None, "box1") == []


def test_fake_gpus_count_and_model() -> None:
    four = gpu.discover_gpus("4", "n1")
    assert len(four) == 4 and all(d.simulated for d in four)
    assert four[0].model == "NVIDIA H100 80GB HBM3"
    two = gpu.discover_gpus("2xA100-40GB", "n1")
    assert [d.memory_mib for d in two] == [40960, 40960]
    custom = gpu.discover_gpus("1xMyCard-24GB", "n1")
    assert custom[0].memory_mib == 24 * 1024


def test_fake_uuids_are_stable_per_node_and_index() -> None:
    a = [d.uuid for d in gpu.discover_gpus("3", "n1")]
    b = [d.uuid for d in gpu.discover_gpus("3xH100-80GB", "n1")]
    c = [d.uuid for d in gpu.discover_gpus("3", "n2")]
    assert a == b
    assert len(set(a)) == 3 and not set(a) & set(c)
    assert all(u.startswith("GPU-") for u in a)


@pytest.mark.parametrize("spec", ["x", "2x", "-1", "4 GPUs", "100"])
def test_bad_fake_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="fake-gpus"):
        gpu.parse_fake_spec(spec)


def test_node_labels() -> None:
    labels = gpu.node_labels(gpu.discover_gpus("2xH100-80GB", "n1"))
    assert labels == {
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
        "nvidia.com/gpu.count": "2",
        "nvidia.com/gpu.memory": "81559",
    }
    assert gpu.node_labels([]) == {}
