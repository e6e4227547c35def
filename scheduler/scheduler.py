"""The scheduling loop: pop a pod, run the framework, assume, bind asynchronously.

Everything runs on one asyncio loop, so the cache needs no locks: informer handlers,
the loop and the binding tasks take turns. A cycle (filter, score, reserve, assume) is
synchronous and short; the Binding is a separate task, with at most ``bind_concurrency``
in flight, so the next pod is scheduled while earlier Bindings are on the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any

from api.errors import ApiError
from api.queues import DEFAULT_HALF_LIFE, gang_of, queue_of
from client import AsyncClient, Informer
from scheduler.binder import Binder, ClientBinder
from scheduler.cached_pod import cached_pod_transform
from scheduler.framework import Diagnosis, Framework, ScheduleResult
from scheduler.gang import GangBlocked, plan_gang, release, whole_gangs
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
from scheduler.queue_admission import QueueAdmission, capacity_of, same_gang
from scheduler.queue_ledger import QueueLedger
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
        half_life: float = DEFAULT_HALF_LIFE,
        queue_status_period: float = 5.0,
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
        # GPU queues (scheduling.kubelab.io Queue): quota, fair-share order, reclaim, gangs.
        self.ledger = QueueLedger(half_life)
        self.admission = QueueAdmission(self.ledger, self.snapshot)
        self.queue_status_period = queue_status_period
        self.queues = Informer(client, "queues")
        self.queues.add_handler(self._queue_changed, self._queue_updated, self._queue_deleted)
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
        key = pod_key(pod)
        rank = 0.0
        if queue_of(pod):
            self.ledger.wait(key, pod)
            rank = self.admission.rank(pod)
        self.queue.add(key, pod_priority(pod), meta.get("creationTimestamp") or "", rank)

    def _charge(self, pod: Obj) -> None:
        """Keep the queue ledger in step with a bound pod."""
        if not queue_of(pod):
            return
        if is_terminal(pod):
            self.ledger.discharge(pod_key(pod))
        else:
            self.ledger.charge(pod_info(pod))

    # -- queues ----------------------------------------------------------------------------

    def _queue_changed(self, obj: Obj) -> None:
        self.ledger.set_queue(obj)
        self.queue.move_all_to_active()  # a new or larger share may admit waiting pods

    def _queue_updated(self, old: Obj, new: Obj) -> None:
        self.ledger.set_queue(new)
        if old.get("spec") != new.get("spec"):
            self.queue.move_all_to_active()

    def _queue_deleted(self, obj: Obj) -> None:
        self.ledger.remove_queue((obj.get("metadata") or {}).get("name", ""))

    async def _write_queue_status(self) -> None:
        """Every ``queue_status_period``: each Queue's usage, share and counts."""
        while not self._stopping:
            await asyncio.sleep(self.queue_status_period)
            if not self.ledger.specs:
                continue
            factors = self.ledger.factors()
            capacity = capacity_of(self.snapshot)
            for name in list(self.ledger.specs):
                body = {"status": self.ledger.status(name, capacity, factors)}
                try:
                    await self.client.patch("queues", name, body, subresource="status")
                except (ApiError, ConnectionError) as exc:
                    log.debug("cannot write the status of queue %s: %s", name, exc)

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
            self._charge(pod)
            if self.snapshot.set_pod(pod):
                self._pod_gone_from(pod)
            self.queue.delete(pod_key(pod))
            self.reporter.forget(pod_key(pod))
        elif self.responsible_for(pod):
            self._enqueue(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = pod_key(new)
        if _bound(new):
            self._charge(new)
            if self.snapshot.set_pod(new):
                self._pod_gone_from(new)
            if key not in self._binding:
                self.queue.delete(key)
            self.reporter.forget(key)
            return
        if not self.responsible_for(new):
            self.queue.delete(key)
            self.reporter.forget(key)
            self.ledger.forget_pending(key)
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
        self.ledger.discharge(pod_key(pod))
        self.ledger.forget_pending(pod_key(pod))
        self.admission.forget(pod_key(pod))
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
        self._spawn(self.queues.run(), work=False)
        for inf in self.volumes.informers():
            self._spawn(inf.run(), work=False)
        self.events.start()
        self._spawn(self.reporter.run_held(), work=False)
        self._spawn(self.reporter.run_clears(self._busy), work=False)
        await self.nodes.wait_synced(sync_timeout)
        await self.pods.wait_synced(sync_timeout)
        await self.volumes.wait_synced(sync_timeout)
        await self.queues.wait_synced(sync_timeout)
        self._spawn(self._write_queue_status(), work=False)
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
        self.queues.stop()
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
        gang = gang_of(pod)
        if gang is not None:
            return self._schedule_gang(pi, gang[0], gang[1], started)
        verdict = self.admission.verdict([pi])
        if verdict is not None and not verdict.admitted:
            diag = Diagnosis(len(self.snapshot.node_list), pre_filter=verdict.message)
            self._unschedulable(pi, diag, started)
            return False
        result = self.framework.schedule(pi, self.snapshot)
        if isinstance(result, ScheduleResult):
            uuids = result.allocations.get("gpus", [])
            self.snapshot.assume(pi, result.node.name, uuids)
            self.ledger.charge(pi)
            self.admission.forget(key)
            self._binding.add(key)
            self._spawn(self._bind(pi, result.node.name, uuids, started))
            return True
        within = verdict is not None and verdict.within_nominal
        self._unschedulable(pi, result, started, within_nominal=within)
        return False

    # -- gangs: all members reserved in one cycle, or none ------------------------------

    def _schedule_gang(self, pi: PodInfo, name: str, size: int, started: float) -> bool:
        """Place every waiting member of ``pi``'s gang in this one cycle, each assumed in
        the snapshot before the next is tried, so no other pod (and no other gang) can
        take what an earlier member got; if any member fits nowhere, every assumption is
        dropped at once and the gang waits whole, holding nothing. Two gangs therefore
        never both half-start, and no gang ever holds GPUs while it waits."""
        members = [
            p
            for p in self.pods.in_namespace(pi.namespace)
            if same_gang(pi.pod, p) and not is_terminal(p)
        ]
        placed = [p for p in members if _bound(p) or pod_key(p) in self._binding]
        waiting = sorted(
            (pod_info(p) for p in members if p not in placed and self.responsible_for(p)),
            key=lambda m: m.key,
        )
        label = f"gang {name}"
        if len(placed) + len(waiting) < size:
            note = (
                f"{label}: {len(placed) + len(waiting)} of {size} members exist; "
                "none starts before all do"
            )
            diag = Diagnosis(len(self.snapshot.node_list), pre_filter=note)
            self._gang_unschedulable([pi], diag, started)
            return False
        if len(placed) >= size:  # the gang is complete: the rest start on their own
            waiting = [pi]
        verdict = self.admission.verdict(waiting)
        if verdict is not None and not verdict.admitted:
            diag = Diagnosis(len(self.snapshot.node_list), pre_filter=f"{label}: {verdict.message}")
            self._gang_unschedulable(waiting, diag, started)
            return False
        plan = plan_gang(self.framework, waiting, self.snapshot)
        if isinstance(plan, GangBlocked):
            note = (
                f"{label}: {len(plan.placed)} of {len(waiting)} waiting members fit at once "
                f"({plan.blocker.name} fits nowhere); none is started"
            )
            # A copy: the framework caches diagnoses per pod shape.
            diag = dataclasses.replace(plan.diagnosis, pre_filter=plan.diagnosis.pre_filter or note)
            # Preemption is judged for the blocker beside its assumed siblings, then the
            # gang lets go of everything before this cycle ends.
            self._unschedulable(plan.blocker, diag, started)
            release(self.snapshot, plan.placed)
            others = [m for m in waiting if m.key != plan.blocker.key]
            self._gang_unschedulable(others, diag, started, preempt=False)
            return False
        assumed = plan
        for m, _, _ in assumed:
            self.ledger.charge(m)
            self._binding.add(m.key)
            if m.key != pi.key:
                self.queue.delete(m.key)
        self._spawn(self._bind_gang(label, assumed, started))
        return True

    def _gang_unschedulable(
        self, members: list[PodInfo], diag: Diagnosis, started: float, preempt: bool = True
    ) -> None:
        for m in members:
            self._unschedulable(m, diag, started, preempt=preempt)

    async def _bind_gang(
        self, label: str, members: list[tuple[PodInfo, str, list[str]]], started: float
    ) -> None:
        """Bind every member; if one is refused, release the gang: delete the members
        already bound (their Job makes new ones), so it never runs partly."""
        try:
            ok = await asyncio.gather(
                *(self._write_binding(m, node, uuids, started) for m, node, uuids in members)
            )
            if not all(ok):
                for (m, _, _), bound in zip(members, ok, strict=True):
                    if bound:
                        self.events.record(
                            m.pod,
                            "Warning",
                            "GangReleased",
                            f"{label}: another member's Binding was refused; releasing it",
                        )
                        try:
                            await self.client.delete("pods", m.name, m.namespace)
                        except (ApiError, ConnectionError) as exc:
                            log.warning("cannot release %s of %s: %s", m.key, label, exc)
        finally:
            for m, _, _ in members:
                self._binding.discard(m.key)
            self._bind_slots.release()

    def _placed_pods(self, namespace: str) -> list[Obj]:
        """The live pods of ``namespace`` that are bound or whose Binding is in flight."""
        return [
            p
            for p in self.pods.in_namespace(namespace)
            if not is_terminal(p) and (_bound(p) or pod_key(p) in self._binding)
        ]

    async def _bind(self, pi: PodInfo, node: str, uuids: list[str], started: float) -> None:
        try:
            await self._write_binding(pi, node, uuids, started)
        finally:
            self._binding.discard(pi.key)
            self._bind_slots.release()

    async def _write_binding(
        self, pi: PodInfo, node: str, uuids: list[str], started: float
    ) -> bool:
        """Bind one assumed pod; True when it is bound (on failure the assumption and
        its queue charge are dropped and the pod retries after its backoff)."""
        key = pi.key
        try:
            if await self.volumes.select_node(pi, node):
                if not await self.volumes.wait_bound(pi):
                    log.info("%s: its claims are not bound yet; binding it anyway", key)
            await self.binder.bind(pi.namespace, pi.name, binding_body(pi, node, uuids))
        except ApiError as exc:
            self.snapshot.forget(key)
            self.ledger.discharge(key)
            if exc.code == 404:  # deleted meanwhile
                self.queue.done(key)
                return False
            if exc.code == 409:
                # Bound by another scheduler, or one of our GPUs is taken: the watch
                # brings the truth; retry after backoff if the pod is still pending.
                self.metrics.binding_conflicts += 1
                log.info("binding %s to %s refused: %s", key, node, exc.message)
            else:
                log.warning("binding %s to %s failed: %s", key, node, exc)
            self.metrics.attempt("error", time.perf_counter() - started)
            self.queue.requeue_backoff(key)
            return False
        except Exception as exc:  # unreachable apiserver, timeouts
            self.snapshot.forget(key)
            self.ledger.discharge(key)
            log.warning("binding %s to %s failed: %s", key, node, exc)
            self.metrics.attempt("error", time.perf_counter() - started)
            self.queue.requeue_backoff(key)
            return False
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
            return True

    def _unschedulable(
        self,
        pi: PodInfo,
        diag: Diagnosis,
        started: float,
        within_nominal: bool = False,
        preempt: bool = True,
    ) -> None:
        """Park the pod, try preemption (by priority, or a queue's reclaim of its share),
        and report why (in the background)."""
        self.metrics.attempt("unschedulable", time.perf_counter() - started)
        post = ""
        if pi.key in self._preempting or not preempt:
            pass  # its victims are being deleted (or it waits with its gang's blocker)
        else:
            choice = (
                find_preemption(
                    self.framework,
                    pi,
                    self.snapshot,
                    diag,
                    eligible=self.admission.priority_victims(pi),
                )
                if may_preempt(pi) and diag.resolvable
                else None
            )
            if choice is None and within_nominal and diag.resolvable:
                # Lower priorities first (best effort); else the queue takes its share back.
                reclaim = self.admission.reclaim(self.framework, pi, diag)
                choice = reclaim.choice
                if reclaim.wait > 0:
                    post = reclaim.note
                    self._retry_after(pi.key, reclaim.wait)
            if choice is not None and not choice.victims:
                self.snapshot.nominate(pi, choice.node)
                post = f"preemption: waiting for terminating pod(s) on node {choice.node}"
            elif choice is not None:
                choice.victims = whole_gangs(choice.victims, self._placed_pods)
                self.snapshot.nominate(pi, choice.node)
                self._preempting.add(pi.key)
                self._spawn(self._preempt(pi, choice))
            elif not post:
                post = preemption_summary(pi, diag, tried=may_preempt(pi))
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

    def _retry_after(self, key: str, delay: float) -> None:
        """Try ``key`` again in ``delay`` seconds (a reclaim grace period running out)."""

        def wake() -> None:
            pod = self.pods.get(key)
            if pod is not None and self.queue.where(key) in PARKED:
                self._enqueue(pod)

        asyncio.get_running_loop().call_later(delay + 0.05, wake)
