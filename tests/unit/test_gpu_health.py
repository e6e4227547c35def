"""Sorting NVML health events into application and hardware faults (kubelet/gpu_health.py)."""

from __future__ import annotations

import pytest

from kubelet.gpu import EVENT_DOUBLE_BIT_ECC, EVENT_XID_CRITICAL, GpuDevice, GpuEvent
from kubelet.gpu_health import GpuHealth, fault_of


@pytest.mark.parametrize("xid", [13, 31, 43, 45, 68])
def test_application_xids_leave_the_gpu_in_service(xid: int) -> None:
    assert fault_of(GpuEvent("GPU-a", EVENT_XID_CRITICAL, xid), 1.0) is None


@pytest.mark.parametrize(("xid", "reason"), [(79, "Xid79"), (48, "Xid48"), (94, "Xid94")])
def test_hardware_xids_take_it_out(xid: int, reason: str) -> None:
    fault = fault_of(GpuEvent("GPU-a", EVENT_XID_CRITICAL, xid), 5.0)
    assert fault is not None and (fault.uuid, fault.reason, fault.since) == ("GPU-a", reason, 5.0)


def test_double_bit_ecc_is_hardware() -> None:
    fault = fault_of(GpuEvent("GPU-a", EVENT_DOUBLE_BIT_ECC, 0), 1.0)
    assert fault is not None and fault.reason == "DoubleBitECC"


def test_health_marks_only_the_faulty_gpu_until_healed() -> None:
    health = GpuHealth()
    devices = [GpuDevice(0, "GPU-a", "m", 1), GpuDevice(1, "GPU-b", "m", 1)]
    fault = fault_of(GpuEvent("GPU-b", EVENT_XID_CRITICAL, 79), 1.0)
    assert fault is not None
    assert health.mark(fault) is True
    assert health.mark(fault) is False  # a second event for it is no news
    assert [d.healthy for d in health.apply(devices)] == [True, False]
    assert devices[1].healthy  # the inventory itself is not changed
    assert health.heal("GPU-b") == fault
    assert [d.healthy for d in health.apply(devices)] == [True, True]


def test_clean_gate_holds_a_gpu_with_a_process_no_pod_owns() -> None:
    from kubelet.gpu_health import gate_unclean

    devices = [
        GpuDevice(0, "GPU-a", "m", 1, processes=((4242, 2048),)),
        GpuDevice(1, "GPU-b", "m", 1, processes=((7, 10),)),
        GpuDevice(2, "GPU-c", "m", 1),
    ]
    gated = gate_unclean(devices, held={"GPU-b"})
    assert [d.healthy for d in gated] == [False, True, True]
    assert gated[0].unhealthy_reason == "LeftoverProcess: pid 4242 (2048 MiB)"
    assert gated[0].to_status()["reason"] == gated[0].unhealthy_reason
    assert "reason" not in gated[2].to_status()
