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


# -- sharing a GPU by memory: which container a process is, and who is over budget ------------

CID = "b118808849a4db089d42c1a6fb3dd319691b0eefca8f3a8c43af74df8d5e314b"


@pytest.mark.parametrize(
    "text",
    [
        f"12:pids:/docker/{CID}\n0::/docker/{CID}\n",  # cgroup v1, Docker's cgroupfs driver
        f"0::/system.slice/docker-{CID}.scope\n",  # cgroup v2, systemd driver
    ],
)
def test_container_id_from_cgroup(text: str) -> None:
    from kubelet.gpu_processes import container_id_from_cgroup

    assert container_id_from_cgroup(text) == CID


def test_a_host_process_is_no_container() -> None:
    from kubelet.gpu_processes import container_id_from_cgroup, container_of_pid

    assert container_id_from_cgroup("0::/user.slice/session-1.scope\n") is None
    assert container_of_pid(2**22 + 12345) is None  # no such process


def test_budget_verdicts_warn_then_stop() -> None:
    from kubelet.gpu_health import budget_verdicts

    budgets = {"a": 10 * 2**30, "b": 10 * 2**30}
    used = {"a": 12 * 2**30, "b": 9 * 2**30}
    (first,) = budget_verdicts(used, budgets, warned=set())
    assert (first.container_id, first.stop) == ("a", False)
    (second,) = budget_verdicts(used, budgets, warned={"a"})
    assert second.stop
    assert budget_verdicts({"a": 10 * 2**30}, budgets, warned={"a"}) == []  # back within


def test_monitor_warns_then_stops_a_sharer_over_its_memory() -> None:
    import asyncio

    from kubelet.gpu_monitor import GpuMonitor, Sharer

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "llm", "namespace": "lab"}}
    recorded: list[tuple[str, str]] = []
    killed: list[str] = []

    class Recorder:
        def record(self, obj: object, kind: str, reason: str, message: str, *a: object) -> None:
            recorded.append((reason, message))

    async def kill(cid: str) -> None:
        killed.append(cid)

    over = [GpuDevice(0, "GPU-a", "m", 81920, processes=((4242, 12288), (7, 500)))]
    monitor = GpuMonitor(
        GpuHealth(),
        Recorder(),  # type: ignore[arg-type]
        lambda: {},
        lambda: asyncio.sleep(0),
        lambda uuid: [],
        sharers=lambda: {"cid-1": Sharer(pod, "server", 10 * 2**30)},
        kill=kill,
        inventory=lambda: over,
        owner_of=lambda pid: "cid-1" if pid == 4242 else None,
    )
    asyncio.run(monitor.enforce_memory_budgets())
    assert recorded == [
        (
            "GPUMemoryOverBudget",
            "container server uses 12288 MiB of GPU memory, its limit is 10240 MiB; "
            "it is stopped if it stays over",
        )
    ]
    assert killed == []
    asyncio.run(monitor.enforce_memory_budgets())
    assert recorded[-1][0] == "GPUMemoryExceeded" and killed == ["cid-1"]
