"""Metrics text, the /metrics server, events aggregation and rate limit, reason documents."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from api.errors import ApiError
from client.events import EventRecorder
from scheduler.framework import Diagnosis
from scheduler.metrics import SchedulerMetrics, serve_metrics
from scheduler.reporting import (
    event_recorder,
    preemption_summary,
    reasons_document,
    scheduled_condition,
)
from tests.unit.sched_world import info, node, pod, snapshot


def test_metrics_text_has_attempts_histogram_and_queue() -> None:
    m = SchedulerMetrics()
    m.pending = lambda: {"active": 3, "backoff": 1, "unschedulable": 2}
    m.attempt("scheduled", 0.003)
    m.attempt("scheduled", 0.5)
    m.attempt("unschedulable", 0.002)
    text = m.render()
    assert 'scheduler_schedule_attempts_total{result="scheduled"} 2' in text
    assert 'scheduler_schedule_attempts_total{result="unschedulable"} 1' in text
    assert 'scheduler_scheduling_duration_seconds_bucket{le="0.004"} 2' in text
    assert 'scheduler_scheduling_duration_seconds_bucket{le="+Inf"} 3' in text
    assert "scheduler_scheduling_duration_seconds_count 3" in text
    assert 'scheduler_pending_pods{queue="active"} 3' in text


def test_metrics_server_answers_over_http() -> None:
    async def go() -> str:
        m = SchedulerMetrics()
        m.attempt("scheduled", 0.01)
        server = await serve_metrics(m, 0)
        port = server.sockets[0].getsockname()[1]

        def fetch() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()

        try:
            return await asyncio.to_thread(fetch)
        finally:
            server.close()

    assert 'scheduler_schedule_attempts_total{result="scheduled"} 1' in asyncio.run(go())


class FakeEvents:
    """Records event writes; PATCH of an unknown name is a 404 like the API's."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def create(
        self, resource: str, body: dict[str, Any], namespace: str | None = None
    ) -> Any:
        self.calls.append("create")
        self.store[body["metadata"]["name"]] = body
        return body

    async def patch(
        self, resource: str, name: str, patch: dict[str, Any], namespace: str | None = None
    ) -> Any:
        self.calls.append("patch")
        if name not in self.store:
            raise ApiError(404, "gone")
        self.store[name].update(patch)
        return self.store[name]


def test_repeated_events_bump_count_and_routine_ones_are_rate_limited() -> None:
    async def go() -> tuple[FakeEvents, EventRecorder]:
        fake = FakeEvents()
        rec = event_recorder(fake, qps=0.001, burst=2)
        rec.start()
        p = pod("p")
        for _ in range(3):
            rec.record(p, "Warning", "FailedScheduling", "0/1 nodes are available.")
        for i in range(5):
            rec.record(pod(f"s{i}"), "Normal", "Scheduled", "Successfully assigned")
        await rec.stop()
        return fake, rec

    fake, rec = asyncio.run(go())
    failed = [e for e in fake.store.values() if e["reason"] == "FailedScheduling"]
    assert len(failed) == 1 and failed[0]["count"] == 3
    assert failed[0]["source"] == {"component": "default-scheduler"}
    assert failed[0]["involvedObject"]["name"] == "p" and failed[0]["type"] == "Warning"
    assert sum(1 for e in fake.store.values() if e["reason"] == "Scheduled") == 2
    assert rec.dropped == 3


def test_reasons_document_lists_gpus_and_caps_nodes() -> None:
    snap = snapshot([node(f"n{i:03d}", gpus=2) for i in range(250)])
    pi = info(pod("p", gpus=4))
    diag = Diagnosis(250)
    for ni in snap.node_list:
        diag.first[ni.name] = ("Insufficient nvidia.com/gpu",)
        diag.details[ni.name] = ["Insufficient nvidia.com/gpu: 2 of 2 GPUs free, pod needs 4"]
    doc = reasons_document(pi, diag, snap, diag.summary())
    assert doc["summary"] == "0/250 nodes are available: 250 Insufficient nvidia.com/gpu."
    assert len(doc["nodes"]) == 200 and doc["truncated"] == 50
    assert doc["gpus"]["n000"] == [
        "GPU-n000-0 (#0 H100-80GB): free",
        "GPU-n000-1 (#1 H100-80GB): free",
    ]


def test_preemption_note_and_condition() -> None:
    diag = Diagnosis(3, resolvable=["a", "b"])
    note = preemption_summary(info(pod("p")), diag, tried=True)
    assert note == (
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod"
    )
    p = pod("p")
    p["status"]["conditions"] = [{"type": "Initialized", "status": "True"}]
    conds = scheduled_condition(p, "msg")
    assert conds[0]["type"] == "Initialized"
    assert conds[1]["type"] == "PodScheduled" and conds[1]["reason"] == "Unschedulable"
