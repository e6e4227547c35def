"""Capacity that holds: a local-path volume as an ext4 filesystem image of exactly its
capacity, loop-mounted at the volume's directory (kubelet ``--enforce-volume-capacity``).

A pod writing past the volume's size gets ENOSPC instead of filling the node's disk. The
image lives beside the volumes (``STORAGE_DIR/.images/<volume dir>.img``), is made once,
mounted again after a reboot, grown when the claim grows (``resize2fs`` online) and
removed with the volume. Needs root, ``mkfs.ext4``, ``losetup`` and loop devices; without
them the volume is a plain directory and the kubelet says capacity is not enforced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

IMAGES = ".images"
_TOOLS = ("mkfs.ext4", "losetup", "mount", "umount", "resize2fs", "findmnt")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class LoopVolumeError(OSError):
    """A loop-mounted volume could not be made, mounted, grown or removed."""


def loop_problem() -> str | None:
    """Why volumes cannot be loop-mounted here; None when they can."""
    if os.geteuid() != 0:
        return "the kubelet does not run as root"
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not found"
    if not Path("/dev/loop-control").exists():
        return "no loop devices (/dev/loop-control)"
    return None


def image_of(path: Path, storage_dir: Path) -> Path:
    return storage_dir / IMAGES / f"{path.name}.img"


def _run(*cmd: str) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise LoopVolumeError(f"{' '.join(cmd)}: {(p.stderr or p.stdout).strip()}")
    return p.stdout.strip()


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(path), threading.Lock())


def ensure_loop_volume(path: Path, image: Path, size: int) -> None:
    """Make (once) and mount (when not mounted) the ``size``-byte filesystem of a volume,
    growing it when ``size`` grew. Safe to call from several threads at once."""
    with _lock(path):
        image.parent.mkdir(parents=True, exist_ok=True)
        if not image.exists():
            tmp = image.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.truncate(size)
            # -m 0: no blocks reserved for root, so the pod can use all it asked for.
            _run("mkfs.ext4", "-q", "-F", "-m", "0", str(tmp))
            os.replace(tmp, image)
        path.mkdir(parents=True, exist_ok=True)
        if not os.path.ismount(path):
            _run("mount", "-o", "loop", str(image), str(path))
            os.chmod(path, 0o777)  # as the directory form: any pod user may write
        if image.stat().st_size < size:
            with open(image, "r+b") as f:
                f.truncate(size)
            device = _run("findmnt", "-n", "-o", "SOURCE", "--target", str(path))
            _run("losetup", "-c", device)
            _run("resize2fs", device)


def remove_loop_volume(path: Path, image: Path) -> None:
    """Unmount and remove a volume's filesystem and its directory."""
    with _lock(path):
        if os.path.ismount(path):
            _run("umount", str(path))
        image.unlink(missing_ok=True)
        if path.exists():
            shutil.rmtree(path)
