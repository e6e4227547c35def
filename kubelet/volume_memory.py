"""Memory-backed emptyDir volumes (``emptyDir.medium: Memory``): a tmpfs the kubelet mounts
on the volume's directory, so every container of the pod shares it (a Docker tmpfs mount
would be one per container), and unmounts before the pod's directory is removed.

Its size is, as the Kubernetes kubelet sizes it, ``sizeLimit`` when set, else the pod's
memory limit when every container has one, else the kernel's default (half the node's
memory). Mounting needs root and ``mount``; without them the container waits in
CreateContainerConfigError with the reason, never given a disk directory in its place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from api.quantity import bytes_value

MEDIUM = "Memory"


class MemoryVolumeError(OSError):
    """A tmpfs could not be mounted or unmounted."""


def tmpfs_size(pod: dict[str, Any], empty_dir: dict[str, Any]) -> int | None:
    """Bytes for the tmpfs of one memory emptyDir of ``pod``; None: the kernel's default."""
    if empty_dir.get("sizeLimit") is not None:
        return bytes_value(empty_dir["sizeLimit"])
    limits: list[str | int] = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        if limit is None:
            return None
        limits.append(limit)
    return sum(bytes_value(limit) for limit in limits) if limits else None


def _run(*cmd: str) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise MemoryVolumeError(f"{' '.join(cmd)}: {(p.stderr or p.stdout).strip()}")


def mount_problem() -> str | None:
    """Why a tmpfs cannot be mounted here; None when it can."""
    if os.geteuid() != 0:
        return "the kubelet does not run as root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount not found"
    return None


def ensure_tmpfs(path: Path, size: int | None) -> None:
    """A tmpfs at ``path`` (made if missing); one already mounted there (a refresh, a
    kubelet restart) is kept with what the pod wrote in it."""
    path.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(path):
        return
    problem = mount_problem()
    if problem:
        raise MemoryVolumeError(f"cannot mount a tmpfs: {problem}")
    opts = "mode=0777" + (f",size={size}" if size else "")
    _run("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path))


def mounts_under(root: Path, mounts_file: Path = Path("/proc/self/mounts")) -> list[Path]:
    """The mount points below ``root``, deepest first (the order to unmount them in)."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return []
    prefix = str(root).rstrip("/") + "/"
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) > 1:
            # /proc/self/mounts escapes spaces and the like as octal (\040).
            point = fields[1].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(root: Path) -> None:
    """Unmount every tmpfs the kubelet mounted below ``root`` (a pod's directory)."""
    for point in mounts_under(root):
        _run("umount", str(point))
