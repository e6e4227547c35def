"""The node's side of ``rancher.io/local-path``: the kubelet owns the disk, so it makes and
removes the directories of the volumes provisioned on its node (no helper pod).

The PV controller creates the PersistentVolume (a ``local`` path under this kubelet's
``--storage-dir``, pinned to this node); this kubelet creates the directory, says on the
volume whether its filesystem can hold it to its capacity, and, once the volume is being
deleted (reclaim ``Delete``), removes the data and then its finalizer
``kubelab.io/local-volume-data``. Only directories inside the storage dir are ever
removed, whatever a volume's path says.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.storage import LOCAL_DATA_FINALIZER, LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION
from api.volume_match import pinned_node, volume_capacity
from client import AsyncClient, Informer
from client.events import EventRecorder
from kubelet.loop_volumes import ensure_loop_volume, image_of, loop_problem, remove_loop_volume

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def local_dir(pv: Obj, storage_dir: Path) -> Path | None:
    """The directory of a local-path volume when it lies inside ``storage_dir`` (the only
    ones this kubelet creates or removes); None for any other volume."""
    meta = pv.get("metadata") or {}
    if (meta.get("annotations") or {}).get(PROVISIONED_BY_ANNOTATION) != LOCAL_PATH_PROVISIONER:
        return None
    raw = ((pv.get("spec") or {}).get("local") or {}).get("path")
    if not isinstance(raw, str) or not raw:
        return None
    root = storage_dir.resolve()
    path = Path(os.path.normpath(raw))
    if path == root or root not in path.parents:
        return None
    return path


def ensure_dir(path: Path) -> bool:
    """Create a volume's directory (world-writable, as local-path-provisioner makes it, so
    a pod running as any user can write); True when it was created now."""
    if path.is_dir():
        return False
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)
    return True


def _mount_of(path: Path) -> tuple[str, str]:
    """The mount point and filesystem type ``path`` lives on (from /proc/self/mounts)."""
    best, fstype = "/", "unknown"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return best, fstype
    target = str(path.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
            best, fstype = mnt, parts[2]
    return best, fstype


def capacity_warning(path: Path, capacity: str, why: str = "") -> str:
    """What to say on a plain-directory volume: its size is recorded, not enforced. It can
    grow until the node's filesystem is full."""
    mnt, fstype = _mount_of(path)
    return (
        f"capacity not enforced on this filesystem: {path} is a directory on {fstype} "
        f"({mnt}), which can hold more than the volume's {capacity}; "
        + (
            why
            or "start the kubelet with --enforce-volume-capacity to loop-mount a filesystem of that size"
        )
    )


def prepare_volume(pv: Obj, path: Path, storage_dir: Path, enforce: bool) -> str | None:
    """Make a local-path volume ready on this node: a filesystem of its capacity
    loop-mounted at ``path`` (``enforce``, where this node can), else a directory. None
    when the capacity is enforced, else the warning to give. Idempotent."""
    capacity = str(((pv.get("spec") or {}).get("capacity") or {}).get("storage") or "?")
    if enforce:
        problem = loop_problem()
        if problem is None:
            ensure_loop_volume(path, image_of(path, storage_dir), volume_capacity(pv))
            return None
        ensure_dir(path)
        return capacity_warning(path, capacity, f"--enforce-volume-capacity: {problem}")
    ensure_dir(path)
    return capacity_warning(path, capacity)


def remove_volume(path: Path, storage_dir: Path) -> None:
    """Remove a volume's data (its loop filesystem too, when it has one)."""
    remove_loop_volume(path, image_of(path, storage_dir))


class LocalVolumeManager:
    """Watches the PersistentVolumes pinned to this node that local-path provisioned."""

    def __init__(
        self,
        client: AsyncClient,
        node_name: str,
        storage_dir: Path,
        recorder: EventRecorder,
        enforce_capacity: bool = False,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.storage_dir = storage_dir
        self.enforce_capacity = enforce_capacity
        self.recorder = recorder
        self.informer = Informer(client, "persistentvolumes")
        self._reported: set[str] = set()  # uids whose capacity warning was given
        self._work: asyncio.Queue[str] = asyncio.Queue()
        self.informer.add_handler(on_add=self._changed, on_update=lambda _o, n: self._changed(n))

    def _changed(self, pv: Obj) -> None:
        if pinned_node(pv) == self.node_name and local_dir(pv, self.storage_dir) is not None:
            self._work.put_nowait(str((pv.get("metadata") or {}).get("name", "")))

    async def run(self) -> None:
        task = asyncio.create_task(self.informer.run(), name=f"local-volumes-{self.node_name}")
        try:
            while True:
                name = await self._work.get()
                pv = self.informer.get(name)
                if pv is None:
                    continue
                try:
                    await self.sync(pv)
                except (ApiError, OSError) as e:
                    log.warning("local volume %s: %s (retrying)", name, e)
                    asyncio.get_running_loop().call_later(5.0, self._work.put_nowait, name)
        finally:
            self.informer.stop()
            task.cancel()

    async def sync(self, pv: Obj) -> None:
        """Create the directory of a live volume; remove that of one being deleted."""
        path = local_dir(pv, self.storage_dir)
        if path is None:
            return
        meta = pv.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            if LOCAL_DATA_FINALIZER not in (meta.get("finalizers") or []):
                return
            await asyncio.to_thread(remove_volume, path, self.storage_dir)
            log.info("local volume %s: removed %s", meta.get("name"), path)
            rest = [f for f in meta.get("finalizers") or [] if f != LOCAL_DATA_FINALIZER]
            body = {
                "metadata": {"finalizers": rest, "resourceVersion": meta.get("resourceVersion")}
            }
            await self.client.patch("persistentvolumes", str(meta.get("name")), body)
            return
        await self.prepare(pv, path)

    async def prepare(self, pv: Obj, path: Path) -> None:
        """Make the volume ready; say once per volume whether its capacity holds."""
        warning = await asyncio.to_thread(
            prepare_volume, pv, path, self.storage_dir, self.enforce_capacity
        )
        uid = str((pv.get("metadata") or {}).get("uid") or "")
        if uid and uid not in self._reported:
            self._reported.add(uid)
            if warning is not None:
                self.recorder.record(pv, "Warning", "CapacityNotEnforced", warning)
            else:
                capacity = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
                self.recorder.record(
                    pv,
                    "Normal",
                    "CapacityEnforced",
                    f"{path} is an ext4 filesystem of {capacity}, loop-mounted: writes past "
                    "it fail with ENOSPC",
                )
