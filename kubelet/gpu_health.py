"""Which GPUs may take work: NVML health events sorted into application faults and hardware
faults, and the set of GPUs taken out of service until a re-check passes. Pure: the NVML
calls are kubelet/gpu.py's, the timing and the API writes kubelet/gpu_monitor.py's.

Application Xids are errors of the program on the GPU (an illegal address, a kernel killed
by its own watchdog): the GPU is fine, so they are recorded on the pod that caused them and
never take the device out, as the NVIDIA device plugin does by default. Every other Xid and
every double-bit ECC error is treated as the hardware's: that GPU alone leaves the set the
scheduler may assign (``Node.status.gpus[].health``, and the node's allocatable) until a
re-check finds it answering and idle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubelet.gpu import EVENT_DOUBLE_BIT_ECC, EVENT_XID_CRITICAL, GpuDevice, GpuEvent

# Xid 13 graphics engine exception, 31 GPU memory page fault, 43 GPU stopped processing
# (the application's own fault), 45 preemptive cleanup after a kill, 68 video processor
# exception, 109 context switch timeout: the device plugin's default "skip" list.
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68, 109})


@dataclass(frozen=True)
class GpuFault:
    """Why one GPU is out of service, and since when (seconds, the monitor's clock)."""

    uuid: str
    reason: str  # "Xid79", "DoubleBitECC", ...
    message: str
    since: float


def is_application_fault(event: GpuEvent) -> bool:
    """An application's error, which leaves the GPU in service."""
    return event.event_type == EVENT_XID_CRITICAL and event.data in APPLICATION_XIDS


def fault_of(event: GpuEvent, now: float) -> GpuFault | None:
    """The hardware fault an event reports, or None for an application's error."""
    if is_application_fault(event):
        return None
    if event.event_type == EVENT_DOUBLE_BIT_ECC:
        return GpuFault(event.uuid, "DoubleBitECC", "a double-bit ECC memory error", now)
    if event.event_type == EVENT_XID_CRITICAL:
        return GpuFault(event.uuid, f"Xid{event.data}", f"hardware Xid {event.data}", now)
    return GpuFault(event.uuid, f"Event{event.event_type:#x}", "an NVML health event", now)


class GpuHealth:
    """The GPUs taken out of service, by UUID."""

    def __init__(self) -> None:
        self.faults: dict[str, GpuFault] = {}

    def mark(self, fault: GpuFault) -> bool:
        """Take a GPU out; True when it was in service until now."""
        fresh = fault.uuid not in self.faults
        if fresh:
            self.faults[fault.uuid] = fault
        return fresh

    def heal(self, uuid: str) -> GpuFault | None:
        """Put a GPU back; the fault it had, or None when it was not out."""
        return self.faults.pop(uuid, None)

    def apply(self, devices: list[GpuDevice]) -> list[GpuDevice]:
        """The inventory with every GPU out of service marked unhealthy."""
        return [
            replace(d, healthy=False, unhealthy_reason=self.faults[d.uuid].reason)
            if d.uuid in self.faults
            else d
            for d in devices
        ]


def leftovers(device: GpuDevice) -> str:
    """``pid 4242 (2048 MiB)``: the compute processes on a GPU, for messages."""
    return ", ".join(f"pid {pid} ({mib} MiB)" for pid, mib in device.processes)


def gate_unclean(devices: list[GpuDevice], held: set[str]) -> list[GpuDevice]:
    """The clean-GPU gate: a GPU that no pod of this node holds but that still runs compute
    processes (a finished job's leftover, or a program outside the cluster) is not handed
    out, since the next job would find its memory taken. It returns as soon as NVML shows
    it idle."""
    return [
        replace(d, healthy=False, unhealthy_reason=f"LeftoverProcess: {leftovers(d)}")
        if d.healthy and d.processes and d.uuid not in held
        else d
        for d in devices
    ]


@dataclass(frozen=True)
class BudgetVerdict:
    """A container over its share of GPU memory: warn first, stop if it stays over."""

    container_id: str
    used: int  # bytes NVML reports for its processes
    budget: int  # bytes of its kubelab.io/gpu-memory limit
    stop: bool


def budget_verdicts(
    used: dict[str, int], budgets: dict[str, int], warned: set[str]
) -> list[BudgetVerdict]:
    """Containers (by id) using more GPU memory than their limit. One warned at the last
    check and still over is stopped: there is no hardware isolation without MIG, so a
    sharer that overruns would starve the others on its device."""
    out = []
    for cid, budget in sorted(budgets.items()):
        n = used.get(cid, 0)
        if n > budget:
            out.append(BudgetVerdict(cid, n, budget, stop=cid in warned))
    return out
