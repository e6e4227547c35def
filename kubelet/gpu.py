"""The node's GPU inventory: real devices through NVML, or simulated ones for learning.

This is the only module that imports ``pynvml``. ``discover_gpus`` never raises for a
machine without a driver: no driver and no ``--fake-gpus`` simply means no GPUs.
"""

from __future__ import annotations

import logging
import re
import uuid
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

log = logging.getLogger(__name__)

# Memory (MiB) and marketing name of the models a user may name in --fake-gpus.
KNOWN_MODELS: dict[str, tuple[str, int]] = {
    "H100-80GB": ("NVIDIA H100 80GB HBM3", 81559),
    "H200": ("NVIDIA H200", 143771),
    "A100-80GB": ("NVIDIA A100-SXM4-80GB", 81920),
    "A100-40GB": ("NVIDIA A100-SXM4-40GB", 40960),
    "L4": ("NVIDIA L4", 23034),
    "T4": ("Tesla T4", 15360),
    "RTX4090": ("NVIDIA GeForce RTX 4090", 24564),
}
DEFAULT_FAKE_MODEL = "H100-80GB"
_said_no_driver = False
_FAKE_NAMESPACE = uuid.UUID("8f0b6a52-3c1e-4a8e-9a57-6b1d2f0c9e11")


@dataclass
class GpuDevice:
    """One GPU as the node reports it."""

    index: int
    uuid: str
    model: str
    memory_mib: int
    memory_used_mib: int = 0
    utilization: int | None = None  # percent, GPU core; None: not reported
    temperature: int = 0  # Celsius
    power_w: float | None = None  # None: the board has no power sensor (consumer cards)
    healthy: bool = True
    simulated: bool = False
    # Compute processes NVML sees on it: (pid, MiB). Read for the clean-GPU gate.
    processes: tuple[tuple[int, int], ...] = ()
    # Per-process SM utilisation NVML sampled, where the driver gives it: (pid, percent).
    process_utilization: tuple[tuple[int, int], ...] = ()
    unhealthy_reason: str = ""  # why it is out of service, when it is

    def to_status(self) -> dict[str, Any]:
        """The entry for the Node's ``status.gpus`` list (kubelab extension)."""
        return {
            "index": self.index,
            "uuid": self.uuid,
            "model": self.model,
            "memoryMiB": self.memory_mib,
            "health": "Healthy" if self.healthy else "Unhealthy",
            **({"reason": self.unhealthy_reason} if self.unhealthy_reason else {}),
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fake_spec(spec: str) -> tuple[int, str]:
    """Parse ``--fake-gpus``: ``4`` or ``2xH100-80GB`` → (count, model key).

    Raises ValueError with a message naming the accepted forms.
    """
    text = spec.strip()
    m = re.fullmatch(r"(\d+)(?:\s*[xX]\s*([A-Za-z0-9][A-Za-z0-9_.-]*))?", text)
    if not m:
        raise ValueError(
            f"--fake-gpus {spec!r}: expected a count like '4' or COUNTxMODEL like "
            f"'2xH100-80GB' (models: {', '.join(KNOWN_MODELS)})"
        )
    count = int(m.group(1))
    model = m.group(2) or DEFAULT_FAKE_MODEL
    if count < 0 or count > 64:
        raise ValueError(f"--fake-gpus {spec!r}: count must be between 0 and 64")
    return count, model


def fake_gpus(spec: str, node_name: str) -> list[GpuDevice]:
    """Simulated devices whose UUIDs are stable for a given node name and index."""
    count, model_key = parse_fake_spec(spec)
    known = {k.upper(): v for k, v in KNOWN_MODELS.items()}
    if model_key.upper() in known:
        name, memory = known[model_key.upper()]
    else:
        # An unknown model is still allowed: "8xMyCard-24GB" takes its memory from the name.
        mem = re.search(r"(\d+)\s*GB", model_key, re.IGNORECASE)
        name, memory = model_key, int(mem.group(1)) * 1024 if mem else 16384
    devices = []
    for i in range(count):
        u = uuid.uuid5(_FAKE_NAMESPACE, f"{node_name}/{i}")
        devices.append(
            GpuDevice(index=i, uuid=f"GPU-{u}", model=name, memory_mib=memory, simulated=True)
        )
    return devices


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _import_nvml() -> Any | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pynvml
    except Exception:  # noqa: BLE001 - no bindings installed means no GPUs
        return None
    return pynvml


def _read_device(nvml: Any, index: int, handle: Any = None) -> GpuDevice:
    """Read one device (a MIG device when ``handle`` is given); an NVML error (lost GPU,
    ECC failure...) marks it unhealthy."""
    try:
        if handle is None:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        uuid_text = _text(nvml.nvmlDeviceGetUUID(handle))
        name = _text(nvml.nvmlDeviceGetName(handle))
    except nvml.NVMLError as e:
        log.warning("GPU %d cannot be read: %s", index, e)
        return GpuDevice(
            index=index, uuid=f"GPU-lost-{index}", model="unknown", memory_mib=0, healthy=False
        )
    dev = GpuDevice(index=index, uuid=uuid_text, model=name, memory_mib=0)
    try:
        mem = nvml.nvmlDeviceGetMemoryInfo(handle)
        dev.memory_mib = int(mem.total) // (1024 * 1024)
        dev.memory_used_mib = int(mem.used) // (1024 * 1024)
    except nvml.NVMLError as e:
        log.warning("GPU %d (%s): memory info failed: %s", index, uuid_text, e)
        dev.healthy = False
    try:
        procs = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        dev.processes = tuple(
            (int(p.pid), int(p.usedGpuMemory or 0) // (1024 * 1024)) for p in procs
        )
    except nvml.NVMLError as e:
        if _is_fatal(nvml, e):
            dev.healthy = False
    dev.process_utilization = _process_utilization(nvml, handle)
    for what, read in (
        ("utilization", lambda: int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)),
        ("temperature", lambda: int(nvml.nvmlDeviceGetTemperature(handle, 0))),
        ("power_w", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
    ):
        try:
            setattr(dev, what, read())
        except nvml.NVMLError as e:
            # Lost or failed devices answer with errors; unsupported sensors are harmless.
            if _is_fatal(nvml, e):
                log.warning("GPU %d (%s): %s failed: %s", index, uuid_text, what, e)
                dev.healthy = False
    return dev


def _process_utilization(nvml: Any, handle: Any) -> tuple[tuple[int, int], ...]:
    """Each process's latest SM utilisation sample in the driver's buffer; () where the
    driver has none (NOT_FOUND: nothing ran lately) or cannot say (NOT_SUPPORTED: MIG
    devices, older boards)."""
    try:
        samples = nvml.nvmlDeviceGetProcessUtilization(handle, 0)
    except (nvml.NVMLError, AttributeError):
        return ()
    latest: dict[int, tuple[int, int]] = {}
    for smp in samples:
        pid, at = int(smp.pid), int(smp.timeStamp)
        if pid not in latest or at >= latest[pid][0]:
            latest[pid] = (at, int(smp.smUtil))
    return tuple((pid, util) for pid, (_, util) in sorted(latest.items()))


def _mig_handles(nvml: Any, index: int) -> list[Any]:
    """The MIG devices of GPU ``index`` when MIG is enabled on it, else []."""
    try:
        parent = nvml.nvmlDeviceGetHandleByIndex(index)
        current, _pending = nvml.nvmlDeviceGetMigMode(parent)
        if current != getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
            return []
        slots = nvml.nvmlDeviceGetMaxMigDeviceCount(parent)
    except nvml.NVMLError:
        return []  # NOT_SUPPORTED: a GPU without MIG (consumer cards, older models)
    handles = []
    for k in range(slots):
        try:
            handles.append(nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, k))
        except nvml.NVMLError:
            continue  # NOT_FOUND: an empty slot
    return handles


def _is_fatal(nvml: Any, err: Exception) -> bool:
    """Errors that mean the device itself is broken, not that a sensor is missing."""
    fatal = {
        getattr(nvml, n)
        for n in (
            "NVML_ERROR_GPU_IS_LOST",
            "NVML_ERROR_UNKNOWN",
            "NVML_ERROR_RESET_REQUIRED",
            "NVML_ERROR_CORRUPTED_INFOROM",
            "NVML_ERROR_IRQ_ISSUE",
            "NVML_ERROR_MEMORY",
        )
        if hasattr(nvml, n)
    }
    return getattr(err, "value", None) in fatal


def nvml_gpus() -> list[GpuDevice]:
    """The real devices NVML sees; [] when there is no driver or no NVML library."""
    nvml = _import_nvml()
    if nvml is None:
        return []
    try:
        nvml.nvmlInit()
    except Exception as e:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        global _said_no_driver
        if not _said_no_driver:
            _said_no_driver = True
            log.info("no NVIDIA driver found (%s); this node reports no GPUs", e)
        return []
    try:
        devices: list[GpuDevice] = []
        for i in range(nvml.nvmlDeviceGetCount()):
            migs = _mig_handles(nvml, i)
            if not migs:
                # Indexes count what the node reports: MIG devices before it shift it.
                devices.append(replace(_read_device(nvml, i), index=len(devices)))
                continue
            # A GPU split by MIG is handed out as its MIG devices, each with its own UUID
            # (as the NVIDIA device plugin's "single" strategy does); the parent is not.
            for handle in migs:
                devices.append(_read_device(nvml, len(devices), handle))
        return devices
    except nvml.NVMLError as e:
        log.warning("NVML failed to list devices: %s", e)
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def discover_gpus(fake: str | None = None, node_name: str = "node") -> list[GpuDevice]:
    """The node's GPUs: simulated ones when ``fake`` is given, else what NVML reports."""
    if fake:
        return fake_gpus(fake, node_name)
    return nvml_gpus()


def node_labels(gpus: list[GpuDevice]) -> dict[str, str]:
    """The ``nvidia.com/gpu.*`` labels GPU feature discovery would set."""
    if not gpus:
        return {}
    model = gpus[0].model.replace(" ", "-")
    model = re.sub(r"[^A-Za-z0-9_.-]", "", model)[:63].strip("-_.")
    return {
        "nvidia.com/gpu.product": model,
        "nvidia.com/gpu.count": str(len(gpus)),
        "nvidia.com/gpu.memory": str(gpus[0].memory_mib),
    }


# -- health: NVML events and re-checks (driven by kubelet/gpu_monitor.py) ------------------

EVENT_DOUBLE_BIT_ECC = 0x2  # nvmlEventTypeDoubleBitEccError
EVENT_XID_CRITICAL = 0x8  # nvmlEventTypeXidCriticalError


@dataclass(frozen=True)
class GpuEvent:
    """One NVML event: which GPU, what kind (the NVML event type) and its data (the Xid)."""

    uuid: str
    event_type: int
    data: int


class NvmlEventSource:
    """Xid and double-bit ECC events of every GPU, from one NVML event set.

    ``wait`` blocks in the driver (ctypes releases the GIL), so it runs on a thread of its
    own. Devices that cannot report events (consumer cards answer NOT_SUPPORTED) are left
    out, with a log line: their health then rests on the periodic inventory alone."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._set: Any = None
        self._uuids: dict[int, str] = {}  # device handle address -> UUID (a lost GPU has none)

    def open(self) -> bool:
        """Initialise NVML and register for events; False when there is no NVML."""
        nvml = _import_nvml()
        if nvml is None:
            return False
        try:
            nvml.nvmlInit()
        except Exception:  # noqa: BLE001 - no driver: nvml_gpus() already says so
            return False
        self._nvml = nvml
        self._set = nvml.nvmlEventSetCreate()
        wanted = EVENT_DOUBLE_BIT_ECC | EVENT_XID_CRITICAL
        for i in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                uuid_text = _text(nvml.nvmlDeviceGetUUID(handle))
                supported = int(nvml.nvmlDeviceGetSupportedEventTypes(handle))
                nvml.nvmlDeviceRegisterEvents(handle, wanted & supported, self._set)
            except nvml.NVMLError as e:
                log.info(
                    "GPU %d reports no health events (%s); the inventory still checks it", i, e
                )
                continue
            self._uuids[_handle_key(handle)] = uuid_text
        return True

    def wait(self, timeout_ms: int) -> GpuEvent | None:
        """The next event, or None when ``timeout_ms`` passed without one."""
        nvml = self._nvml
        try:
            data = nvml.nvmlEventSetWait(self._set, timeout_ms)
        except nvml.NVMLError as e:
            if getattr(e, "value", None) == getattr(nvml, "NVML_ERROR_TIMEOUT", 10):
                return None
            raise
        uuid_text = self._uuids.get(_handle_key(data.device), "")
        return GpuEvent(uuid_text, int(data.eventType), int(data.eventData))

    def close(self) -> None:
        nvml, self._nvml = self._nvml, None
        if nvml is None:
            return
        try:
            nvml.nvmlEventSetFree(self._set)
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - closing on the way out
            pass


def _handle_key(handle: Any) -> int:
    import ctypes

    return int(ctypes.cast(handle, ctypes.c_void_p).value or 0)


def nvml_recheck(gpu_uuid: str) -> str:
    """Why the GPU is not fit for work yet ("" when it is): it must answer NVML by its UUID
    and hold no compute process (a leftover would keep memory the next job expects)."""
    nvml = _import_nvml()
    if nvml is None:
        return "NVML is not available"
    try:
        nvml.nvmlInit()
    except Exception as e:  # noqa: BLE001
        return f"NVML does not start: {e}"
    try:
        handle = nvml.nvmlDeviceGetHandleByUUID(gpu_uuid)
        nvml.nvmlDeviceGetMemoryInfo(handle)
        procs = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        if procs:
            pids = ", ".join(str(p.pid) for p in procs)
            return f"compute processes still hold it (pid {pids})"
        return ""
    except nvml.NVMLError as e:
        return f"NVML: {e}"
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
