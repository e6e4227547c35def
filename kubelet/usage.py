"""What each container and the node really use: CPU and memory, read from the kernel's
cgroup files (cheaper than Docker's stats API, which streams one second per container per
call: at 100 containers a node that is the difference between a few milliseconds of reads
and a core), and the simulated usage of the fake runtime.

A container's cgroup is found from its main process (``/proc/PID/cgroup``), so the same
code serves cgroup v1 and v2 and both of Docker's cgroup drivers. CPU is a counter: the
rate (nanocores, as the metrics API reports it) is the difference between two samples.
Memory is the working set (usage minus inactive file pages), as the kubelet's summary and
metrics-server report it, since that is what the OOM killer looks at.

The fake runtime runs nothing, so its pods use what their annotation
``kubelab.io/simulated-usage: cpu=500m,memory=256Mi`` says (split evenly over the pod's
containers), else nothing: autoscaling can be learned on a laptop by editing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.quantity import bytes_value, cpu_millis

SIMULATED_USAGE = "kubelab.io/simulated-usage"


@dataclass(frozen=True)
class Sample:
    """One reading of a container: its cumulative CPU time and its working set now."""

    cpu_ns: int
    memory_bytes: int


@dataclass(frozen=True)
class Usage:
    """A container's use over the last window: CPU in nanocores, memory in bytes."""

    cpu_nanocores: int
    memory_bytes: int


def cgroup_paths(text: str) -> dict[str, str]:
    """Controller -> path from a ``/proc/PID/cgroup`` file (``""``: the v2 hierarchy)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat_value(path: Path, *keys: str) -> int | None:
    """The first of ``keys`` in a ``name value`` file such as memory.stat or cpu.stat."""
    try:
        rows = dict(line.split(None, 1) for line in path.read_text().splitlines() if " " in line)
    except OSError:
        return None
    for k in keys:
        if k in rows:
            try:
                return int(rows[k])
            except ValueError:
                return None
    return None


def read_sample(
    pid: int, root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")
) -> Sample | None:
    """The cgroup counters of the container whose main process is ``pid`` (None: gone)."""
    try:
        paths = cgroup_paths((proc / str(pid) / "cgroup").read_text())
    except OSError:
        return None
    cpu_path = paths.get("cpuacct") or paths.get("cpu")
    mem_path = paths.get("memory")
    if cpu_path is not None and mem_path is not None:  # cgroup v1
        cpu = _read_int(root / "cpuacct" / cpu_path.lstrip("/") / "cpuacct.usage")
        mem_dir = root / "memory" / mem_path.lstrip("/")
        used = _read_int(mem_dir / "memory.usage_in_bytes")
        inactive = _stat_value(mem_dir / "memory.stat", "total_inactive_file", "inactive_file")
    elif "" in paths:  # cgroup v2
        d = root / paths[""].lstrip("/")
        usec = _stat_value(d / "cpu.stat", "usage_usec")
        cpu = usec * 1000 if usec is not None else None
        used = _read_int(d / "memory.current")
        inactive = _stat_value(d / "memory.stat", "inactive_file")
    else:
        return None
    if cpu is None or used is None:
        return None
    return Sample(cpu, max(used - (inactive or 0), 0))


class UsageTracker:
    """Turns successive samples into usage over the window between them."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, Sample]] = {}

    def observe(self, key: str, at: float, sample: Sample) -> Usage | None:
        """The usage since ``key``'s previous sample (None for the first one)."""
        prev = self._last.get(key)
        self._last[key] = (at, sample)
        if prev is None or at <= prev[0] or sample.cpu_ns < prev[1].cpu_ns:
            return None  # first sample, or a restarted container: its counter began again
        rate = (sample.cpu_ns - prev[1].cpu_ns) / (at - prev[0])
        return Usage(int(rate), sample.memory_bytes)

    def forget_except(self, keys: set[str]) -> None:
        for k in list(self._last):
            if k not in keys:
                del self._last[k]


def simulated_usage(annotation: str, containers: int) -> Usage:
    """Each container's share of ``cpu=500m,memory=256Mi`` (bad values count as zero)."""
    cpu = mem = 0
    for part in annotation.split(","):
        key, _, value = part.partition("=")
        try:
            if key.strip() == "cpu":
                cpu = cpu_millis(value.strip()) * 1_000_000
            elif key.strip() == "memory":
                mem = bytes_value(value.strip())
        except ValueError:
            continue
    n = max(containers, 1)
    return Usage(cpu // n, mem // n)


def node_cpu_ns(proc: Path = Path("/proc")) -> int | None:
    """The machine's busy CPU time (all cores, nanoseconds) from /proc/stat."""
    try:
        first = (proc / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if first[0] != "cpu":
        return None
    ticks = [int(x) for x in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    hz = 100  # USER_HZ: 100 on every Linux kubelab runs on
    return (sum(ticks[:8]) - idle) * 1_000_000_000 // hz


def node_memory_working_set(proc: Path = Path("/proc")) -> int | None:
    """MemTotal - MemAvailable, in bytes."""
    try:
        rows = {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in (proc / "meminfo").read_text().splitlines()
            if ":" in line
        }
    except (OSError, ValueError, IndexError):
        return None
    if "MemTotal" not in rows or "MemAvailable" not in rows:
        return None
    return rows["MemTotal"] - rows["MemAvailable"]
