"""What each GPU and each GPU pod uses: utilisation, memory and power, per GPU from NVML's
device readings (kubelet/gpu.py), per pod from the GPUs it holds by the exact UUIDs of its
``kubelab.io/gpu-uuids`` annotation.

A pod's memory is the sum of its own processes' memory on those GPUs where NVML lists
compute processes and their host PIDs lead to the pod's containers
(kubelet/gpu_processes.py); a pod that holds its GPUs alone but whose processes NVML does
not show (another PID namespace, an older driver) is given the devices' whole memory use.
Utilisation is the devices' for a pod that holds its GPUs alone (DCGM's exporter labels
the device's utilisation with its pod the same way); on a GPU shared by memory it is the sum
of the pod's own processes' SM utilisation where the driver samples it per process
(``nvmlDeviceGetProcessUtilization``), else the device's.

Simulated GPUs (``--fake-gpus``) run nothing, so they use what the holder's
``kubelab.io/simulated-usage`` annotation says: ``gpu=80`` (percent of each GPU it holds)
and ``gpu-memory=20Gi`` (per GPU); their power follows the utilisation between the board's
idle and maximum draw, so autoscaling on GPU and the WATTS column can be learned on a
laptop. Pure: devices and pods in, readings out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from api.quantity import bytes_value
from kubelet.gpu import GpuDevice

MIB = 1024 * 1024

# Board power (idle W, maximum W) of the models --fake-gpus knows, from their data sheets'
# TDP; idle is what such a board draws with nothing on it, roughly. Others: 30/300 W.
BOARD_POWER_W: dict[str, tuple[float, float]] = {
    "NVIDIA H100 80GB HBM3": (70.0, 700.0),
    "NVIDIA H200": (75.0, 700.0),
    "NVIDIA A100-SXM4-80GB": (55.0, 400.0),
    "NVIDIA A100-SXM4-40GB": (50.0, 400.0),
    "NVIDIA L4": (16.0, 72.0),
    "Tesla T4": (10.0, 70.0),
    "NVIDIA GeForce RTX 4090": (25.0, 450.0),
}
DEFAULT_BOARD_POWER_W = (30.0, 300.0)


@dataclass(frozen=True)
class GpuLoad:
    """A simulated holder's load on each GPU it holds (None: the annotation says nothing)."""

    utilization: int | None = None  # percent
    memory_bytes: int | None = None


@dataclass(frozen=True)
class Holder:
    """A pod of this node that holds GPUs."""

    namespace: str
    pod: str
    uuids: tuple[str, ...]
    container: str  # the container the GPUs are for (the first asking for nvidia.com/gpu)
    container_ids: frozenset[str] = frozenset()  # its running containers' ids
    load: GpuLoad = GpuLoad()  # what its simulated-usage annotation says


@dataclass(frozen=True)
class GpuReading:
    """One GPU now, and the pod holding it ("" when it is free)."""

    index: int
    uuid: str
    model: str
    memory_total_bytes: int
    utilization: int | None  # percent; None: the device does not report it
    memory_used_bytes: int | None
    power_w: float | None
    namespace: str = ""
    pod: str = ""
    container: str = ""


@dataclass(frozen=True)
class PodGpuUsage:
    """A pod's use of the GPUs it holds."""

    uuids: tuple[str, ...]
    utilization: int | None  # percent, the mean over its GPUs
    memory_used_bytes: int | None  # summed over its GPUs
    power_w: float | None = None  # its GPUs' draw, when it holds them alone


@dataclass(frozen=True)
class GpuReadings:
    gpus: tuple[GpuReading, ...] = ()
    pods: dict[tuple[str, str], PodGpuUsage] = field(default_factory=dict)


def parse_gpu_load(annotation: str) -> GpuLoad:
    """The ``gpu=`` and ``gpu-memory=`` parts of ``kubelab.io/simulated-usage`` (the CPU and
    memory parts are kubelet/usage.py's); a bad value counts as unset."""
    util: int | None = None
    memory: int | None = None
    for part in annotation.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        try:
            if key == "gpu":
                util = max(0, min(100, round(float(value.rstrip("%")))))
            elif key == "gpu-memory":
                memory = max(0, bytes_value(value))
        except ValueError:
            continue
    return GpuLoad(util, memory)


def simulated_power(model: str, utilization: int) -> float:
    """A simulated board's draw at ``utilization`` percent: linear from idle to maximum."""
    idle, peak = BOARD_POWER_W.get(model, DEFAULT_BOARD_POWER_W)
    return round(idle + (peak - idle) * utilization / 100, 1)


def _device_reading(d: GpuDevice, holders: Sequence[Holder]) -> GpuReading:
    total = d.memory_mib * MIB
    util: int | None
    used: int | None
    power: float | None
    if d.simulated:
        util = min(100, sum(h.load.utilization or 0 for h in holders))
        used = min(total, sum(h.load.memory_bytes or 0 for h in holders))
        power = simulated_power(d.model, util)
    else:
        util = d.utilization
        used = d.memory_used_mib * MIB if d.memory_mib else None  # a lost GPU: unknown
        power = d.power_w
    first = holders[0] if holders else None
    return GpuReading(
        d.index,
        d.uuid,
        d.model,
        total,
        util,
        used,
        power,
        first.namespace if first else "",
        first.pod if first else "",
        first.container if first else "",
    )


def _pod_memory(
    h: Holder,
    devices: Sequence[GpuDevice],
    sharers: dict[str, int],
    owner_of_pid: Callable[[int], str | None],
) -> int | None:
    """The pod's memory on its GPUs: its own processes' where NVML shows them, else (alone
    on its GPUs) the devices' whole use, else unknown."""
    own, seen_any = 0, False
    for d in devices:
        for pid, mib in d.processes:
            if owner_of_pid(pid) in h.container_ids:
                own += mib * MIB
                seen_any = True
    if seen_any:
        return own
    if all(sharers.get(d.uuid, 0) <= 1 for d in devices):
        return sum(d.memory_used_mib * MIB for d in devices)
    return None


def _pod_utilization(
    h: Holder, d: GpuDevice, sharers: dict[str, int], owner_of_pid: Callable[[int], str | None]
) -> int | None:
    """The pod's utilisation of device ``d``: the device's when the pod holds it alone,
    else its own processes' samples where the driver gives them, else the device's."""
    if sharers.get(d.uuid, 0) > 1 and d.process_utilization:
        return min(
            100, sum(u for pid, u in d.process_utilization if owner_of_pid(pid) in h.container_ids)
        )
    return d.utilization


def gpu_readings(
    devices: Iterable[GpuDevice],
    holders: Iterable[Holder],
    owner_of_pid: Callable[[int], str | None] = lambda pid: None,
) -> GpuReadings:
    """Each GPU's reading and each holder's usage. ``owner_of_pid`` names the container a
    host PID runs in (kubelet/gpu_processes.container_of_pid)."""
    devs = list(devices)
    by_uuid = {d.uuid: d for d in devs}
    holders = list(holders)
    on: dict[str, list[Holder]] = {}
    for h in holders:
        for u in h.uuids:
            on.setdefault(u, []).append(h)
    readings = tuple(_device_reading(d, on.get(d.uuid, [])) for d in devs)
    by_reading = {r.uuid: r for r in readings}
    sharers = {u: len(hs) for u, hs in on.items()}
    pods: dict[tuple[str, str], PodGpuUsage] = {}
    for h in holders:
        mine = [by_uuid[u] for u in h.uuids if u in by_uuid]
        if not mine:
            continue  # its GPUs are not (or no longer) on this node
        alone = all(sharers.get(d.uuid, 0) <= 1 for d in mine)
        if all(d.simulated for d in mine):
            util: int | None = h.load.utilization or 0
            memory: int | None = (h.load.memory_bytes or 0) * len(mine)
        else:
            utils = [_pod_utilization(h, d, sharers, owner_of_pid) for d in mine]
            known = [u for u in utils if u is not None]
            util = round(sum(known) / len(known)) if known else None
            memory = _pod_memory(h, mine, sharers, owner_of_pid)
        powers = [by_reading[d.uuid].power_w for d in mine]
        power = (
            round(sum(p for p in powers if p is not None), 1)
            if alone and all(p is not None for p in powers)
            else None
        )
        pods[(h.namespace, h.pod)] = PodGpuUsage(tuple(d.uuid for d in mine), util, memory, power)
    return GpuReadings(readings, pods)
