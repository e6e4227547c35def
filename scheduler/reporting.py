"""What the scheduler writes about a pod it could not place: the ``PodScheduled=False``
condition, the ``kubelab.io/scheduling-reasons`` annotation read by ``kl why``, and the
``FailedScheduling`` event; and the deletes and events of a preemption."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from api.errors import ApiError
from client import AsyncClient
from client.eventcorrelation import EventLimits, format_time
from client.events import EventRecorder, EventSink
from scheduler.framework import Diagnosis
from scheduler.plugins.gpu import describe_gpus
from scheduler.plugins.preemption import Preemption
from scheduler.podinfo import REASONS_ANNOTATION, PodInfo
from scheduler.report_hold import Report, ReportHold
from scheduler.snapshot import Snapshot

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Annotations are limited to 256 KiB in all; a 5,000-node cluster must not blow that.
MAX_NODES_IN_REASONS = 200
MAX_GPU_NODES_IN_REASONS = 50

COMPONENT = "default-scheduler"
# One per bound pod: at a thousand bindings a second, an event for each would halve the
# API's capacity for the bindings themselves. They share one token bucket (client-go
# limits kube-scheduler's events by its client QPS); failures are never limited so.
ROUTINE_REASONS = frozenset({"Scheduled"})


def event_recorder(
    client: EventSink, identity: str = "", qps: float = 50.0, burst: int | None = None
) -> EventRecorder:
    """The scheduler's event recorder: routine events at ``qps`` (``burst``: 2 s worth)."""
    limits = EventLimits(
        routine_reasons=ROUTINE_REASONS,
        routine_qps=qps,
        routine_burst=max(1, int(2 * qps)) if burst is None else burst,
    )
    return EventRecorder(client, COMPONENT, identity, limits=limits)


def reasons_document(pod: PodInfo, diag: Diagnosis, snapshot: Snapshot, summary: str) -> Obj:
    """The JSON kept in ``kubelab.io/scheduling-reasons``: the summary, every node's
    reasons and, for GPU pods, every GPU of every GPU node with its state."""
    names = sorted(diag.details)
    nodes = {n: diag.details[n] for n in names[:MAX_NODES_IN_REASONS]}
    doc: Obj = {"summary": summary, "nodes": nodes}
    if len(names) > MAX_NODES_IN_REASONS:
        doc["truncated"] = len(names) - MAX_NODES_IN_REASONS
    if pod.gpus > 0:
        gpus: dict[str, list[str]] = {}
        for ni in snapshot.node_list:
            if ni.gpus and len(gpus) < MAX_GPU_NODES_IN_REASONS:
                gpus[ni.name] = describe_gpus(ni)
        doc["gpus"] = gpus
    return doc


def preemption_summary(pod: PodInfo, diag: Diagnosis, tried: bool) -> str:
    """kube-scheduler's PostFilter note, e.g. ``preemption: 0/3 nodes are available: 1 No
    preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling``."""
    if not tried or diag.num_nodes == 0:
        return ""
    helpful = len(diag.resolvable)
    parts = []
    if helpful:
        parts.append(f"{helpful} No preemption victims found for incoming pod")
    if diag.num_nodes - helpful:
        parts.append(f"{diag.num_nodes - helpful} Preemption is not helpful for scheduling")
    return f"preemption: 0/{diag.num_nodes} nodes are available: " + ", ".join(sorted(parts))


def scheduled_condition(pod: Obj, message: str) -> list[Obj]:
    """The pod's conditions with PodScheduled replaced by False/Unschedulable."""
    conditions = [
        c
        for c in (pod.get("status") or {}).get("conditions") or []
        if c.get("type") != "PodScheduled"
    ]
    old = next(
        (
            c
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") == "PodScheduled"
        ),
        None,
    )
    transition = (
        old.get("lastTransitionTime")
        if old and old.get("status") == "False" and old.get("lastTransitionTime")
        else format_time(time.time())
    )
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": transition,
        }
    )
    return conditions


def reported_before(pod: Obj) -> bool:
    """The cached pod already carries the scheduler's reasons or its PodScheduled=False."""
    if REASONS_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
        return True
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


class Reporter:
    """Writes unschedulable status, reasons and events; runs preemptions.

    ``hold`` > 0: reports go through :class:`~scheduler.report_hold.ReportHold` (a
    repeat is not written, a change to a pod already reported waits ``hold`` seconds for
    the latest); 0: every attempt is written as it comes (the behaviour before)."""

    def __init__(
        self,
        client: AsyncClient,
        events: EventRecorder,
        hold: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 16,
    ) -> None:
        self.client = client
        self.events = events
        self.hold = ReportHold(hold, clock) if hold > 0 else None
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        # Whether a pod is still parked: a held report is not written about a pod that
        # is being tried again or bound meanwhile (its next attempt reports afresh).
        self.still_parked: Callable[[str], bool] = lambda key: True
        self._to_clear: dict[str, Obj] = {}  # bound pods whose reasons are to go
        self._clear_wake = asyncio.Event()

    def report(
        self, key: str, pod: Obj, summary: str, doc: Obj
    ) -> Coroutine[Any, Any, None] | None:
        """An unschedulable attempt's report: the write to run now, or None (a repeat,
        or held for ``run_held``)."""
        encoded = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
        if self.hold is None:
            return self.write(pod, summary, encoded)
        if self.hold.offer(Report(key, pod, summary, encoded), reported_before(pod)):
            return self.write(pod, summary, encoded)
        self._wake.set()
        return None

    def forget(self, key: str) -> None:
        """The pod is bound or gone: nothing held about it is written."""
        if self.hold is not None:
            self.hold.forget(key)

    async def run_held(self) -> None:
        """Write held reports when they are due, ``concurrency`` at a time (forever)."""
        hold = self.hold
        if hold is None:
            return
        while True:
            self._wake.clear()
            ready = []
            for r in hold.due():
                if self.still_parked(r.key):
                    ready.append(r)
                else:
                    hold.forget(r.key)
            for i in range(0, len(ready), self.concurrency):
                chunk = ready[i : i + self.concurrency]
                await asyncio.gather(*(self.write(r.pod, r.summary, r.encoded) for r in chunk))
            if ready:
                continue  # more may have come due while writing
            try:
                await asyncio.wait_for(self._wake.wait(), hold.next_due_in())
            except TimeoutError:
                pass

    async def unschedulable(self, pod: Obj, summary: str, doc: Obj) -> None:
        """Write one report now (see ``write``)."""
        await self.write(pod, summary, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode())

    async def write(self, pod: Obj, summary: str, encoded: str) -> None:
        """Annotate, set the condition, and record FailedScheduling (each best effort).

        The annotation and condition are only written when they differ from the cached
        pod's, so a pod that keeps failing for the same reason costs one event patch,
        not three writes."""
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name", "")
        try:
            if (meta.get("annotations") or {}).get(REASONS_ANNOTATION) != encoded:
                await self.client.patch(
                    "pods", name, {"metadata": {"annotations": {REASONS_ANNOTATION: encoded}}}, ns
                )
            current = next(
                (
                    c
                    for c in (pod.get("status") or {}).get("conditions") or []
                    if c.get("type") == "PodScheduled"
                ),
                None,
            )
            if not (
                current
                and current.get("status") == "False"
                and current.get("reason") == "Unschedulable"
                and current.get("message") == summary
            ):
                await self.client.patch(
                    "pods",
                    name,
                    {"status": {"conditions": scheduled_condition(pod, summary)}},
                    ns,
                    subresource="status",
                )
        except ApiError as exc:
            if exc.code != 404:  # a pod deleted meanwhile needs no report
                log.warning("cannot report %s/%s unschedulable: %s", ns, name, exc)
        except ConnectionError as exc:
            log.warning("cannot report %s/%s unschedulable: %s", ns, name, exc)
        self.events.record(pod, "Warning", "FailedScheduling", summary)

    def clear_later(self, key: str, pod: Obj) -> None:
        """A bound pod's stale reasons go once the scheduler is idle (``run_clears``):
        while a backlog drains, the API's writes are the Bindings'."""
        self._to_clear[key] = pod
        self._clear_wake.set()

    def clears_pending(self) -> int:
        return len(self._to_clear)

    async def run_clears(
        self, busy: Callable[[], bool], poll: float = 0.05, quiet: float = 0.5
    ) -> None:
        """Clear what ``clear_later`` queued, ``concurrency`` at a time, once ``busy()``
        has been false for ``quiet`` seconds (forever). The quiet spell keeps the clears
        out of the short lulls while capacity arrives, when every write still counts."""
        while True:
            await self._clear_wake.wait()
            self._clear_wake.clear()
            idle_since: float | None = None
            while self._to_clear:
                if busy():
                    idle_since = None
                    await asyncio.sleep(poll)
                    continue
                now = time.monotonic()
                if idle_since is None:
                    idle_since = now
                if now - idle_since < quiet:
                    await asyncio.sleep(poll)
                    continue
                batch = [self._to_clear.pop(k) for k in list(self._to_clear)[: self.concurrency]]
                await asyncio.gather(*(self.clear_reasons(p) for p in batch))

    async def clear_reasons(self, pod: Obj) -> None:
        """Drop the stale reasons annotation once the pod is bound."""
        meta = pod.get("metadata") or {}
        try:
            await self.client.patch(
                "pods",
                meta.get("name", ""),
                {"metadata": {"annotations": {REASONS_ANNOTATION: None}}},
                meta.get("namespace") or "default",
            )
        except (ApiError, ConnectionError) as exc:
            log.debug("cannot clear reasons of %s: %s", meta.get("name"), exc)

    async def preempt(self, preemptor: PodInfo, choice: Preemption) -> int:
        """Gracefully delete the victims, record an event on each and on the preemptor,
        and set the preemptor's ``status.nominatedNodeName``. Returns victims deleted."""
        deleted = 0
        pmeta = preemptor.pod.get("metadata") or {}
        for v in choice.victims:
            vmeta = v.pod.get("metadata") or {}
            try:
                await self.client.delete(
                    "pods", vmeta.get("name", ""), vmeta.get("namespace") or "default"
                )
                deleted += 1
            except ApiError as exc:
                if exc.code != 404:
                    log.warning("cannot preempt %s: %s", v.key, exc)
                continue
            except ConnectionError as exc:
                log.warning("cannot preempt %s: %s", v.key, exc)
                continue
            self.events.record(
                v.pod,
                "Normal",
                "Preempted",
                f"Preempted by pod {pmeta.get('uid', '')} ({preemptor.key}, priority "
                f"{preemptor.priority}) on node {choice.node}",
            )
        victims = ", ".join(f"{v.key} (priority {v.priority})" for v in choice.victims)
        self.events.record(
            preemptor.pod,
            "Normal",
            "Preempting",
            f"Preempting {len(choice.victims)} pod(s) on node {choice.node}: {victims}",
        )
        try:
            await self.client.patch(
                "pods",
                pmeta.get("name", ""),
                {"status": {"nominatedNodeName": choice.node}},
                pmeta.get("namespace") or "default",
                subresource="status",
            )
        except (ApiError, ConnectionError) as exc:
            log.debug("cannot nominate %s: %s", preemptor.key, exc)
        return deleted
