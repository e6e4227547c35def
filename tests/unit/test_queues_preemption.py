"""Priority preemption by a queue's pod: its own queue's lower-priority pods, best effort
and pods no queue is charged for may go; another queue's pods never (only reclaim takes
those, borrowed ones, after the grace period), whatever their priority."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.framework import Diagnosis
from scheduler.plugins import default_framework
from scheduler.plugins.preemption import find_preemption
from scheduler.queue_admission import QueueAdmission
from scheduler.queue_ledger import QueueLedger
from tests.unit.sched_world import info, node, pod, snapshot

Obj = dict[str, Any]


def queue_obj(name: str, gpus: int) -> Obj:
    return {"metadata": {"name": name}, "spec": {"nominal": {"nvidia.com/gpu": gpus}}}


def gpu_pod(name: str, priority: int, queue: str = "", *, on: str = "", gpu: int = 0) -> Obj:
    p = pod(
        name,
        gpus=2,
        priority=priority,
        node_name=on,
        gpu_uuids=f"GPU-{on}-{gpu},GPU-{on}-{gpu + 1}" if on else "",
    )
    if queue:
        p["metadata"]["labels"] = {"kubelab.io/queue": queue}
    return p


def best_effort(p: Obj) -> Obj:
    p["spec"]["priorityClassName"] = "kubelab-best-effort"
    return p


def victims(running: list[Obj], preemptor: Obj) -> list[str] | None:
    """The victims a queue-aware priority preemption picks on one 4-GPU box (None: none)."""
    ledger = QueueLedger()
    for q in ("alice", "bob"):
        ledger.set_queue(queue_obj(q, 4))
    snap = snapshot([node("box", gpus=4)], running)
    admission = QueueAdmission(ledger, snap)
    fw = default_framework()
    pi = info(preemptor)
    diag = fw.schedule(pi, snap)
    assert isinstance(diag, Diagnosis)
    choice = find_preemption(fw, pi, snap, diag, eligible=admission.priority_victims(pi))
    return None if choice is None else sorted(v.name for v in choice.victims)


HIGH = 1000


@pytest.mark.parametrize(
    ("running", "want"),
    [
        # Bob's pods, in his share, are not alice's to take, even at a lower priority.
        ([gpu_pod("bob-1", 0, "bob", on="box"), gpu_pod("bob-2", 0, "bob", on="box", gpu=2)], None),
        # Beside bob's pod: a pod no queue is charged for goes, bob's stays.
        ([gpu_pod("bob-1", 0, "bob", on="box"), gpu_pod("free", 0, on="box", gpu=2)], ["free"]),
        # Best effort goes, even when it names bob's queue (it is charged to none).
        (
            [
                gpu_pod("bob-1", 0, "bob", on="box"),
                best_effort(gpu_pod("be", -1000, "bob", on="box", gpu=2)),
            ],
            ["be"],
        ),
        # Alice's own lower-priority pod goes: priority counts within her queue.
        (
            [gpu_pod("bob-1", 0, "bob", on="box"), gpu_pod("a-low", 0, "alice", on="box", gpu=2)],
            ["a-low"],
        ),
        # Never one of equal or higher priority, in her queue or not.
        ([gpu_pod("a-1", HIGH, "alice", on="box"), gpu_pod("f", HIGH, on="box", gpu=2)], None),
    ],
)
def test_a_queue_pod_preempts_by_priority_only_outside_other_queues(
    running: list[Obj], want: list[str] | None
) -> None:
    assert victims(running, gpu_pod("alice-hi", HIGH, "alice")) == want


def test_a_pod_without_a_queue_keeps_the_plain_priority_rule() -> None:
    running = [gpu_pod("bob-1", 0, "bob", on="box"), gpu_pod("bob-2", 0, "bob", on="box", gpu=2)]
    assert victims(running, gpu_pod("system", HIGH)) in (["bob-1"], ["bob-2"])
