"""What the scheduler writes about a pod it could not place: the ``PodScheduled=False``
condition, the ``kubelab.io/scheduling-reasons`` annotation read by ``kl why``, and the
``FailedScheduling`` event; and the deletes and events of a preemption."""

from __future__ import annotations

import logging
import time
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


class Reporter:
    """Writes unschedulable status, reasons and events; runs preemptions."""

    def __init__(self, client: AsyncClient, events: EventRecorder) -> None:
        self.client = client
        self.events = events

    async def unschedulable(self, pod: Obj, summary: str, doc: Obj) -> None:
        """Annotate, set the condition, and record FailedScheduling (each best effort).

        The annotation and condition are only written when they changed, so a pod that
        keeps failing for the same reason costs one event patch per attempt, not three
        writes."""
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name", "")
        encoded = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
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
