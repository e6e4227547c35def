"""Which container a GPU process belongs to: NVML reports host PIDs, and a process's
cgroup path names its container (``/docker/<id>`` under cgroup v1,
``/system.slice/docker-<id>.scope`` under systemd's cgroup v2)."""

from __future__ import annotations

import re
from pathlib import Path

_CONTAINER_ID = re.compile(r"(?:/docker[-/]|/cri-containerd-|/crio-)([0-9a-f]{64})(?:\.scope)?")


def container_id_from_cgroup(text: str) -> str | None:
    """The 64-hex container id in a ``/proc/PID/cgroup`` file, or None (a host process)."""
    for line in text.splitlines():
        m = _CONTAINER_ID.search(line)
        if m:
            return m.group(1)
    return None


def container_of_pid(pid: int, proc: Path = Path("/proc")) -> str | None:
    """The container running ``pid``, or None when it is a host process or has exited."""
    try:
        return container_id_from_cgroup((proc / str(pid) / "cgroup").read_text())
    except OSError:
        return None
