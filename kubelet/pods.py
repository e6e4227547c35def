"""The pods bound to this node: one informer, one worker per pod, runtime events routed to
the worker of the pod they concern, and adoption of existing containers at start.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from api.mirror import is_mirror_pod
from client import Informer
from kubelet.context import NodeContext
from kubelet.housekeeping import run_housekeeping
from kubelet.ownership import StartupScan, sort_startup_scan
from kubelet.runtime.base import LABEL_CLUSTER, LABEL_NODE, LABEL_POD_UID, RuntimeError_
from kubelet.volumes import remove_pod_dir
from kubelet.worker import PodWorker

log = logging.getLogger(__name__)


class PodManager:
    """Keeps one PodWorker per pod bound to ``ctx.node_name``."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.informer = Informer(
            ctx.client, "pods", field_selector=f"spec.nodeName={ctx.node_name}"
        )
        self.workers: dict[str, PodWorker] = {}  # by pod uid
        self.by_key: dict[str, str] = {}  # "ns/name" -> uid of the newest pod of that name
        self._tasks: list[asyncio.Task[Any]] = []
        self.ready = asyncio.Event()
        self._scanned = False  # the start-up container scan succeeded
        self._with_containers: set[str] = set()  # pod uids that had containers at start-up

    # -- lookups for the log server -------------------------------------------------------

    def worker_for(self, namespace: str, name: str) -> PodWorker | None:
        uid = self.by_key.get(f"{namespace}/{name}")
        return self.workers.get(uid) if uid else None

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync the informer, clean up what belongs to no pod, then run workers forever."""
        self._tasks.append(asyncio.create_task(self._runtime_events(), name="runtime-events"))
        self._tasks.append(asyncio.create_task(self.informer.run(), name="pod-informer"))
        await self.informer.wait_synced()
        # A mirror pod's process is run by its owner, not by a worker of this kubelet.
        scanned = {p["metadata"]["uid"]: p for p in self.informer.list() if not is_mirror_pod(p)}
        await self._remove_orphans(set(scanned))
        # The handlers are added only now, so a pod deleted while the scan ran (a DELETED
        # event with nobody listening) is absent from the cache and from the handler's
        # replay: its containers were kept for it, yet no worker would ever stop them.
        self.informer.add_handler(
            on_add=self._on_pod, on_update=self._on_update, on_delete=self._on_delete
        )
        # The replay gave every cached pod a worker: a scanned pod without one is gone.
        for uid, pod in scanned.items():
            if uid not in self.workers:
                self._start_worker(pod, deleted=True)
        self.ready.set()
        self._tasks.append(
            asyncio.create_task(run_housekeeping(self.ctx, self.known_uids), name="housekeeping")
        )
        await asyncio.gather(*self._tasks)

    def known_uids(self) -> set[str]:
        """The pods this kubelet knows of: cached by its informer or driven by a worker."""
        known = {str((p.get("metadata") or {}).get("uid") or "") for p in self.informer.list()}
        return known | set(self.workers)

    async def stop(self) -> None:
        """Stop watching and stop the workers; containers are left running on purpose, so a
        restarted kubelet adopts them."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await asyncio.gather(*(w.stop() for w in list(self.workers.values())))

    async def _remove_orphans(self, live: set[str]) -> None:
        """Our containers and pod directories of pods no longer bound here (``live``: the
        uids of those that are) are removed; containers of another cluster (same node
        name, same engine) are left alone."""
        try:
            containers = await self.ctx.runtime.list({LABEL_NODE: self.ctx.node_name})
        except RuntimeError_ as e:
            log.warning("cannot list containers for cleanup: %s", e)
            containers = []
            self._scanned = False
        else:
            self._scanned = True
        scan = sort_startup_scan(containers, self.ctx.cluster_uid, self.ctx.node_name, live)
        self._log_scan(scan)
        self._with_containers = {c.labels.get(LABEL_POD_UID, "") for c in scan.kept}
        for c in scan.orphans:
            log.info(
                "removing container %s of pod %s/%s that is gone",
                c.id[:12],
                c.labels.get("io.kubelab.pod.namespace"),
                c.labels.get("io.kubelab.pod.name"),
            )
            try:
                if c.running:
                    await self.ctx.runtime.stop(c.id, 2)
                await self.ctx.runtime.remove(c.id)
            except RuntimeError_ as e:
                log.warning("removing orphan container %s failed: %s", c.id[:12], e)
        pods_dir = Path(self.ctx.config.root_dir) / "pods"
        if pods_dir.is_dir():
            for d in pods_dir.iterdir():
                if d.name not in live:
                    await asyncio.to_thread(remove_pod_dir, self.ctx.config.root_dir, d.name)

    def _log_scan(self, scan: StartupScan) -> None:
        """Say once, at start, what this kubelet found but will not touch or adopts."""
        node = self.ctx.node_name
        if scan.other_cluster:
            clusters = sorted({c.labels.get(LABEL_CLUSTER, "") for c in scan.other_cluster})
            log.warning(
                "found %d container(s) of node %s from another cluster (%s %s; this cluster "
                "is %s): leaving them alone. Two clusters share this Docker engine under one "
                "node name; give one kubelet another --node-name",
                len(scan.other_cluster),
                node,
                LABEL_CLUSTER,
                ", ".join(clusters),
                self.ctx.cluster_uid,
            )
        for c in scan.adopted_legacy:
            log.info(
                "adopting container %s of pod %s/%s, made by an older kubelab (no %s label)",
                c.id[:12],
                c.labels.get("io.kubelab.pod.namespace"),
                c.labels.get("io.kubelab.pod.name"),
                LABEL_CLUSTER,
            )
        if scan.unclaimed_legacy:
            log.warning(
                "found %d container(s) of node %s without a cluster label (made by an older "
                "kubelab) whose pods are not bound here: leaving them alone, as they may be "
                "another cluster's; remove them with `docker rm -f` if they are not (%s)",
                len(scan.unclaimed_legacy),
                node,
                " ".join(c.id[:12] for c in scan.unclaimed_legacy),
            )

    # -- informer handlers (only enqueue, never wait) --------------------------------------

    def _on_pod(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        if not uid or (pod.get("spec") or {}).get("nodeName") != self.ctx.node_name:
            return
        if is_mirror_pod(pod):
            return  # its process is run by whoever keeps the mirror pod (api/mirror.py)
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        old_uid = self.by_key.get(key)
        if old_uid and old_uid != uid and old_uid in self.workers:
            # Same name, new pod: the old one must be gone.
            self.workers[old_uid].mark_deleted()
        self._start_worker(pod)

    def _start_worker(self, pod: dict[str, Any], deleted: bool = False) -> None:
        """A worker for a pod first seen here; ``deleted``: the pod is already gone from
        the API (its worker only stops and removes what the pod left)."""
        uid = pod["metadata"]["uid"]
        fresh = self._scanned and uid not in self._with_containers
        worker = PodWorker(self.ctx, pod, fresh=fresh)
        self.workers[uid] = worker
        if deleted:
            worker.mark_deleted()
        else:
            self.by_key[worker.key] = uid
        worker.start()
        asyncio.get_running_loop().create_task(self._reap(worker))

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._on_pod(new)

    def _on_delete(self, pod: dict[str, Any]) -> None:
        uid = (pod.get("metadata") or {}).get("uid")
        worker = self.workers.get(uid or "")
        if worker is not None:
            worker.mark_deleted()

    async def _reap(self, worker: PodWorker) -> None:
        await worker.finished.wait()
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]
        if self.by_key.get(worker.key) == worker.uid:
            del self.by_key[worker.key]

    # -- runtime events --------------------------------------------------------------------

    async def _runtime_events(self) -> None:
        """Wake a pod's worker the moment one of its containers starts or dies."""
        while True:
            try:
                async for ev in self.ctx.runtime.events({LABEL_NODE: self.ctx.node_name}):
                    worker = self.workers.get(ev.labels.get(LABEL_POD_UID, ""))
                    if worker is not None:
                        worker.container_event(ev.action, ev.container_id)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the engine restarted; resubscribe
                log.warning("runtime event stream ended: %s; reconnecting", e)
            await asyncio.sleep(1.0)
