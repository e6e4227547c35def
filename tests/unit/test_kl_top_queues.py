"""``kl top queues``' table: used/share and borrowed from the scheduler's status, waiting
jobs counted from the pods (a gang or a Job once), this week's GPU-hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.queues import iso_week
from kubectl.cmd.top_queues import HEADERS, queue_rows, waiting_jobs

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday of ISO week 49
Obj = dict[str, Any]


def queue(name: str, share: int, status: Obj | None = None) -> Obj:
    q: Obj = {"metadata": {"name": name}, "spec": {"nominal": {"nvidia.com/gpu": share}}}
    if status is not None:
        q["status"] = status
    return q


def status(used: int, borrowed: int, fair: float, week: str, secs: float) -> Obj:
    return {
        "used": {"nvidia.com/gpu": used, "cpu": "0m", "memory": "0"},
        "borrowed": {"nvidia.com/gpu": borrowed},
        "pendingPods": 0,
        "fairShare": fair,
        "usage": {"gpuSeconds": secs, "week": week, "weekGpuSeconds": secs},
    }


def pod(name: str, queue: str, *, node: str = "", phase: str = "Pending", **labels: str) -> Obj:
    meta: Obj = {"name": name, "namespace": "ml", "labels": {"kubelab.io/queue": queue, **labels}}
    return {"metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}


def test_rows_show_use_share_borrowing_waiting_jobs_and_week_hours() -> None:
    queues = [
        queue("bob", 8, status(10, 2, 0.3333, "2026-W49", 36_000)),
        queue("alice", 4, status(4, 0, 0.5, "2026-W49", 5_400)),
    ]
    job_pod = pod("sweep-1-x", "alice")
    job_pod["metadata"]["ownerReferences"] = [
        {"kind": "Job", "name": "sweep-1", "controller": True}
    ]
    job_pod2 = pod("sweep-1-y", "alice")
    job_pod2["metadata"]["ownerReferences"] = job_pod["metadata"]["ownerReferences"]
    pods = [
        job_pod,
        job_pod2,  # the same Job: one waiting job
        pod("g-0", "alice", **{"kubelab.io/gang": "ddp"}),
        pod("g-1", "alice", **{"kubelab.io/gang": "ddp"}),  # one gang: one job
        pod("solo", "alice"),
        pod("running", "alice", node="box-1", phase="Running"),  # placed: not waiting
        pod("done", "bob", phase="Failed"),  # finished: not waiting
    ]
    assert queue_rows(queues, pods, NOW) == [
        ["alice", "4/4", "0", "3", "0.50", "1.5"],
        ["bob", "10/8", "2", "0", "0.33", "10.0"],
    ]
    assert len(HEADERS) == 6


def test_last_weeks_figure_is_not_this_weeks_and_an_unwritten_status_is_unknown() -> None:
    queues = [
        queue("carol", 3, status(0, 0, 1.0, "2026-W48", 90_000)),
        queue("dave", 2),
    ]
    assert queue_rows(queues, [], NOW) == [
        ["carol", "0/3", "0", "0", "1.00", "0.0"],
        ["dave", "<unknown>/2", "<unknown>", "0", "<unknown>", "<unknown>"],
    ]


def test_week_is_the_iso_week_in_utc() -> None:
    assert iso_week(NOW.timestamp()) == "2026-W49"
    # Sunday 23:30 in New York is already Monday in UTC: the next ISO week.
    from datetime import timedelta, timezone

    ny = datetime(2026, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_week(ny.timestamp()) == "2026-W50"


def test_a_pod_being_deleted_or_without_a_queue_is_not_waiting() -> None:
    going = pod("going", "alice")
    going["metadata"]["deletionTimestamp"] = "2026-12-04T11:00:00Z"
    bare = pod("bare", "")
    assert waiting_jobs([going, bare]) == {}
