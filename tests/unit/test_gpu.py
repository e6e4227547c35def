"""Simulated GPUs (``--fake-gpus``). The NVML path runs through the real ``pynvml`` against
the stand-in libnvidia-ml.so.1 in tests/integration/test_nvml_standin.py."""

from __future__ import annotations

import pytest

from kubelet import gpu


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
