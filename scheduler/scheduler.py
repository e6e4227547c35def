"""The scheduling loop: pop a pod, run the framework, assume, bind asynchronously.

Everything runs on one asyncio loop, so the cache needs no locks: informer handlers,
the loop and the binding tasks take turns. A cycle (filter, score, reserve, assume) is
synchronous and short; the Binding is a separate task, with at most ``bind_concurrency``
in flight, so the next pod is scheduled while earlier Bindings are on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from api.errors import ApiError
from client import AsyncClient, Informer
from scheduler.binder import Binder, ClientBinder
from scheduler.cached_pod import cached_pod_transform
from scheduler.framework import Diagnosis, Framework, ScheduleResult
from scheduler.hints import ClusterEvent, EventKind
from scheduler.metrics import SchedulerMetrics
from scheduler.plugins import default_framework
from scheduler.plugins.preemption import find_preemption, may_preempt
from scheduler.podinfo import (
    GPU_UUIDS_ANNOTATION,
    REASONS_ANNOTATION,
    PodInfo,
    is_terminal,
    pod_info,
    pod_key,
    pod_priority,
)
from scheduler.reporting import Reporter, event_recorder, preemption_summary, reasons_document
from scheduler.snapshot import NodeInfo
from scheduler.volumes import ClaimCache

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SCHEDULER_NAMES = ("", "default-scheduler", "kubelab")
PARKED = frozenset({"unschedulable", "backoff"})


def _bound(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def binding_body(pi: PodInfo, node: str, gpu_uuids: Iterable[str]) -> Obj:
    """The Binding that puts ``pi`` on ``node`` with exactly ``gpu_uuids``."""
    meta: Obj = {"name": pi.name, "namespace": pi.namespace}
    if pi.uid:
        meta["uid"] = pi.uid
    uuids = ",".join(gpu_uuids)
    if uuids:
        meta["annotations"] = {GPU_UUIDS_ANNOTATION: uuids}
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": meta,
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


class Scheduler:
    """Watches pods and nodes, places pending pods, writes Bindings."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        framework: Framework | None = None,
        scheduler_names: Iterable[str] = DEFAULT_SCHEDULER_NAMES,
        bind_concurrency: int = 32,
        metrics: SchedulerMetrics | None = None,
        identity: str = "",
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        scheduled_events: bool = True,
        binder: Binder | None = None,
        event_qps: float = 50.0,
        queueing_hints: bool = True,
        report_hold: float = 1.0,
    ) -> None:
        from scheduler.queue import SchedulingQueue
        from scheduler.snapshot import Snapshot

        self.client = client
        self.binder: Binder = binder or ClientBinder(client)
        self.framework = framework or default_framework()
        self.scheduler_names = frozenset(scheduler_names)
        self.snapshot = Snapshot()
        self.queue = SchedulingQueue(initial_backoff, max_backoff)
        self.metrics = metrics or SchedulerMetrics()
        self.metrics.pending = self.queue.counts
        self.events = event_recorder(client, identity, qps=event_qps)
        self.reporter = Reporter(client, self.events, hold=report_hold)
        self.reporter.still_parked = lambda key: self.queue.where(key) in PARKED
        # Off: every cluster event moves every parked pod back (the behaviour before).
        self.queueing_hints = queueing_hints
        self.scheduled_events = scheduled_events
        # Pods are cached with only the fields read here: see scheduler.cached_pod.
        self.pods = Informer(client, "pods", transform=cached_pod_transform())
        self.nodes = Informer(client, "nodes")
        # Claims, volumes, classes: a change may let a pod waiting for its claim fit.
        self.volumes = ClaimCache(client, self.queue.move_all_to_active)
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._binding: set[str] = set()  # pods whose Binding is in flight
        self._preempting: set[str] = set()  # preemptors whose victims are being deleted
        self._tasks: set[asyncio.Task[Any]] = set()
        self._work_tasks: set[asyncio.Task[Any]] = set()  # bindings, reports, preemptions
        self._stopping = False
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)

    # -- which pods are ours -------------------------------------------------------------

    def responsible_for(self, pod: Obj) -> bool:
        """An unbound, live pod naming one of our scheduler names."""
        spec = pod.get("spec") or {}
        return (
            not spec.get("nodeName")
            and (spec.get("schedulerName") or "") in self.scheduler_names
            and not is_terminal(pod)
        )

    def _enqueue(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        self.queue.add(pod_key(pod), pod_priority(pod), meta.get("creationTimestamp") or "")

    # -- informer handlers (they only touch the cache and the queue) ---------------------

    def _cluster_event(self, kind: EventKind, node: NodeInfo | None) -> None:
        """Wake the parked pods ``kind`` on ``node`` may help (all of them, without hints
        or when the node is not known)."""
        if not self.queueing_hints or node is None:
            self.queue.move_all_to_active()
            return
        self.queue.move_for_event(ClusterEvent(kind, node), self.framework.may_help)

    def _pod_gone_from(self, pod: Obj) -> None:
        """A pod on a node finished or went away: room there."""
        name = (pod.get("spec") or {}).get("nodeName") or ""
        self._cluster_event(EventKind.ASSIGNED_POD_DELETE, self.snapshot.nodes.get(name))

    def _pod_added(self, pod: Obj) -> None:
        if _bound(pod):
            if self.snapshot.set_pod(pod):
                self._pod_gone_from(pod)
            self.queue.delete(pod_key(pod))
            self.reporter.forget(pod_key(pod))
        elif self.responsible_for(pod):
            self._enqueue(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = pod_key(new)
        if _bound(new):
            if self.snapshot.set_pod(new):
                self._pod_gone_from(new)
            if key not in self._binding:
                self.queue.delete(key)
            self.reporter.forget(key)
            return
        if not self.responsible_for(new):
            self.queue.delete(key)
            self.reporter.forget(key)
            return
        where = self.queue.where(key)
        if where is None:
            if key not in self._binding:
                self._enqueue(new)
        elif where == "unschedulable" and old.get("spec") != new.get("spec"):
            # The pod itself changed: worth another try now. (Its labels are not cached:
            # no plugin reads them, so a label change cannot change the outcome.)
            self._enqueue(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self.queue.delete(pod_key(pod))
        self.reporter.forget(pod_key(pod))
        if self.snapshot.delete_pod(pod):
            self._pod_gone_from(pod)

    def _node_added(self, node: Obj) -> None:
        self._cluster_event(EventKind.NODE_ADD, self.snapshot.add_node(node))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if self.snapshot.update_node(new):
            name = (new.get("metadata") or {}).get("name", "")
            self._cluster_event(EventKind.NODE_UPDATE, self.snapshot.nodes.get(name))

    def _node_deleted(self, node: Obj) -> None:
        self.snapshot.remove_node((node.get("metadata") or {}).get("name", ""))

    # -- running ------------------------------------------------------------------------

    async def start(self, sync_timeout: float | None = None) -> None:
        """Start the informers and the event writers; return once both caches are full."""
        self._spawn(self.nodes.run(), work=False)
        self._spawn(self.pods.run(), work=False)
        for inf in self.volumes.informers():
            self._spawn(inf.run(), work=False)
        self.events.start()
        self._spawn(self.reporter.run_held(), work=False)
        self._spawn(self.reporter.run_clears(self._busy), work=False)
        await self.nodes.wait_synced(sync_timeout)
        await self.pods.wait_synced(sync_timeout)
        await self.volumes.wait_synced(sync_timeout)
        log.info(
            "caches synced: %d nodes, %d pods, %d pending",
            len(self.snapshot.nodes),
            len(self.pods),
            self.queue.pending(),
        )

    def _busy(self) -> bool:
        """Pods waiting to be tried, or Bindings on the wire."""
        return self.queue.has_active() or bool(self._binding)

    async def run(self) -> None:
        """Schedule until ``stop``. Call ``start`` first."""
        while not self._stopping:
            await self._bind_slots.acquire()  # back-pressure: bounded Bindings in flight
            key = await self.queue.pop()
            if key is None:
                self._bind_slots.release()
                break
            binding = False
            try:
                binding = self.schedule_one(key)
            except Exception:
                log.exception("scheduling %s failed", key)
                self.queue.requeue_backoff(key)
                self.metrics.attempt("error")
            finally:
                if not binding:
                    self._bind_slots.release()
            # A cycle never awaits; give informers and Bindings their turn.
            await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop scheduling, let in-flight Bindings finish briefly, stop informers."""
        self._stopping = True
        self.queue.close()
        pending = [t for t in self._work_tasks if not t.done()]
        if pending:  # Bindings and reports already sent: let them land
            await asyncio.wait(pending, timeout=2)
        self.pods.stop()
        self.nodes.stop()
        self.volumes.stop()
        await self.events.stop(flush_timeout=1)
        await self.binder.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, work: bool = True) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if work:
            self._work_tasks.add(task)
            task.add_done_callback(self._work_tasks.discard)
        return task

    # -- one cycle ------------------------------------------------------------------------

    def schedule_one(self, key: str) -> bool:
        """Run one scheduling cycle for ``key``. True when a Binding task was started
        (it then owns one bind slot)."""
        pod = self.pods.get(key)
        if pod is None or not self.responsible_for(pod) or self.snapshot.is_counted(key):
            self.queue.done(key)  # gone, bound, or assumed and binding
            return False
        started = time.perf_counter()
        resolved = self.volumes.resolve(pod_info(pod), self._placed_pods)
        if isinstance(resolved, str):  # a claim missing or not bound: fits nowhere now
            diag = Diagnosis(len(self.snapshot.node_list), pre_filter=resolved)
            self._unschedulable(pod_info(pod), diag, started)
            return False
        pi = resolved
        result = self.framework.schedule(pi, self.snapshot)
        if isinstance(result, ScheduleResult):
            uuids = result.allocations.get("gpus", [])
            self.snapshot.assume(pi, result.node.name, uuids)
            self._binding.add(key)
            self._spawn(self._bind(pi, result.node.name, uuids, started))
            return True
        self._unschedulable(pi, result, started)
        return False

    def _placed_pods(self, namespace: str) -> list[Obj]:
        """The live pods of ``namespace`` that are bound or whose Binding is in flight."""
        return [
            p
            for p in self.pods.in_namespace(namespace)
            if not is_terminal(p) and (_bound(p) or pod_key(p) in self._binding)
        ]

    async def _bind(self, pi: PodInfo, node: str, uuids: list[str], started: float) -> None:
        key = pi.key
        try:
            if await self.volumes.select_node(pi, node):
                if not await self.volumes.wait_bound(pi):
                    log.info("%s: its claims are not bound yet; binding it anyway", key)
            await self.binder.bind(pi.namespace, pi.name, binding_body(pi, node, uuids))
        except ApiError as exc:
            self.snapshot.forget(key)
            if exc.code == 404:  # deleted meanwhile
                self.queue.done(key)
                return
            if exc.code == 409:
                # Bound by another scheduler, or one of our GPUs is taken: the watch
                # brings the truth; retry after backoff if the pod is still pending.
                self.metrics.binding_conflicts += 1
                log.info("binding %s to %s refused: %s", key, node, exc.message)
            else:
                log.warning("binding %s to %s failed: %s", key, node, exc)
            self.metrics.attempt("error", time.perf_counter() - started)
            self.queue.requeue_backoff(key)
        except Exception as exc:  # unreachable apiserver, timeouts
            self.snapshot.forget(key)
            log.warning("binding %s to %s failed: %s", key, node, exc)
            self.metrics.attempt("error", time.perf_counter() - started)
            self.queue.requeue_backoff(key)
        else:
            self.queue.done(key)
            self.reporter.forget(key)
            self.metrics.attempt("scheduled", time.perf_counter() - started)
            if self.scheduled_events:
                suffix = f" with GPUs {','.join(uuids)}" if uuids else ""
                self.events.record(
                    pi.pod, "Normal", "Scheduled", f"Successfully assigned {key} to {node}{suffix}"
                )
            if REASONS_ANNOTATION in ((pi.pod.get("metadata") or {}).get("annotations") or {}):
                if self.reporter.hold is None:
                    self._spawn(self.reporter.clear_reasons(pi.pod))
                else:
                    self.reporter.clear_later(key, pi.pod)
        finally:
            self._binding.discard(key)
            self._bind_slots.release()

    def _unschedulable(self, pi: PodInfo, diag: Diagnosis, started: float) -> None:
        """Park the pod, try preemption, and report why (in the background)."""
        self.metrics.attempt("unschedulable", time.perf_counter() - started)
        post = ""
        if pi.key in self._preempting:
            pass  # its victims are being deleted; wait for them
        elif may_preempt(pi):
            choice = (
                find_preemption(self.framework, pi, self.snapshot, diag)
                if diag.resolvable
                else None
            )
            if choice is not None and not choice.victims:
                self.snapshot.nominate(pi, choice.node)
                post = f"preemption: waiting for terminating pod(s) on node {choice.node}"
            elif choice is not None:
                self.snapshot.nominate(pi, choice.node)
                self._preempting.add(pi.key)
                self._spawn(self._preempt(pi, choice))
            else:
                post = preemption_summary(pi, diag, tried=True)
        summary = diag.summary(post)
        doc = reasons_document(pi, diag, self.snapshot, summary)
        self.queue.requeue_unschedulable(pi.key, pi, frozenset(diag.rejectors))
        write = self.reporter.report(pi.key, pi.pod, summary, doc)
        if write is not None:
            self._spawn(write)

    async def _preempt(self, pi: PodInfo, choice: Any) -> None:
        try:
            n = await self.reporter.preempt(pi, choice)
            self.metrics.preemption_victims += n
            log.info("%s preempted %d pod(s) on %s", pi.key, n, choice.node)
        finally:
            self._preempting.discard(pi.key)
