"""The node's side of ``kubelab.io/node-cache``: one local copy per box of a ReadOnlyMany
volume (a model cache), and the Node annotation saying which copies here are complete.

A node-cache PersistentVolume has no node affinity: its copy on a node is
``<storage dir>/node-cache/<pv name>``, made (empty) by that node's kubelet when the first
pod mounting it starts there. That pod's warm-up (an init container) fills it and writes
the marker ``.complete`` last; a later pod on the same node finds the marker and reads the
copy as it is. Every ``PERIOD`` the kubelet lists its complete copies into the Node
annotation ``kubelab.io/complete-caches`` (the scheduler prefers those nodes) and removes
the copies of volumes that are gone.

Pure decisions (``complete_caches``, ``stale_copies``, ``annotation_patch``) are kept apart
from the loop that reads the disk and writes the Node.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.storage import (
    CACHE_COMPLETE_MARKER,
    NODE_CACHE_PROVISIONER,
    NODE_CACHES_ANNOTATION,
    PROVISIONED_BY_ANNOTATION,
)
from client import AsyncClient
from kubelet.local_volumes import ensure_dir

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CACHE_SUBDIR = "node-cache"
PERIOD = 1.0  # a fill that just finished is preferred within about a second


def is_node_cache(pv: Obj) -> bool:
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    return annotations.get(PROVISIONED_BY_ANNOTATION) == NODE_CACHE_PROVISIONER


def copy_dir(storage_dir: Path, pv_name: str) -> Path:
    """Where this node keeps its copy of node-cache volume ``pv_name``."""
    return storage_dir / CACHE_SUBDIR / pv_name


def complete_caches(copies: dict[str, bool]) -> list[str]:
    """The volumes whose copy here is complete (``copies``: name → has the marker)."""
    return sorted(name for name, done in copies.items() if done)


def stale_copies(copies: list[str], live_volumes: set[str]) -> list[str]:
    """The copies whose node-cache volume no longer exists: their data goes."""
    return sorted(name for name in copies if name not in live_volumes)


def annotation_patch(node: Obj, complete: list[str]) -> Obj | None:
    """The Node patch that makes its annotation list ``complete``; None when it does."""
    have = ((node.get("metadata") or {}).get("annotations") or {}).get(NODE_CACHES_ANNOTATION)
    want = ",".join(complete) or None
    if have == want:
        return None
    return {"metadata": {"annotations": {NODE_CACHES_ANNOTATION: want}}}


def prepare_copy(storage_dir: Path, pv_name: str) -> Path:
    """This node's copy of a node-cache volume, made empty if it is not here yet."""
    path = copy_dir(storage_dir, pv_name)
    if ensure_dir(path):
        log.info("node cache %s: new copy at %s (the first pod here fills it)", pv_name, path)
    return path


def _scan(storage_dir: Path) -> dict[str, bool]:
    root = storage_dir / CACHE_SUBDIR
    if not root.is_dir():
        return {}
    return {d.name: (d / CACHE_COMPLETE_MARKER).is_file() for d in root.iterdir() if d.is_dir()}


class NodeCacheReporter:
    """Keeps this node's ``kubelab.io/complete-caches`` annotation true, and removes the
    copies of deleted node-cache volumes."""

    def __init__(self, client: AsyncClient, node_name: str, storage_dir: Path) -> None:
        self.client = client
        self.node_name = node_name
        self.storage_dir = storage_dir

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (ApiError, OSError) as e:
                log.warning("node caches: %s (retrying)", e)
            await asyncio.sleep(PERIOD)

    async def sync(self) -> None:
        copies = await asyncio.to_thread(_scan, self.storage_dir)
        if copies:
            # Only a successful list may remove data: a volume missing from it is gone.
            pvs = (await self.client.list("persistentvolumes")).get("items") or []
            live = {str(p["metadata"]["name"]) for p in pvs if is_node_cache(p)}
            for name in stale_copies(list(copies), live):
                await asyncio.to_thread(shutil.rmtree, copy_dir(self.storage_dir, name), True)
                log.info("node cache %s: volume gone, copy removed", name)
                copies.pop(name)
        node = await self.client.get("nodes", self.node_name)
        patch = annotation_patch(node, complete_caches(copies))
        if patch is not None:
            await self.client.patch("nodes", self.node_name, patch)
