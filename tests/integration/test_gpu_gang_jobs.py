"""A gang as a Job (docs/queues.md): the gang labels on a Job's pod template, parallelism =
gang size. On 4 hollow nodes x 4 fake GPUs with the Job controller: a Job of 4 x 2 GPUs
starts whole on 2 boxes; a second of 5 x 2 waits whole, holding nothing, while only 8
GPUs are free, and starts whole (on 3 boxes) once the first Job is deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Cluster, start_cluster
from tests.wait import wait_for

NS = "default"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home: Path = tmp_path_factory.mktemp("gang-jobs") / "home"
    cl = start_cluster(home, nodes=4, fake_gpus="4")
    try:
        cl.wait_nodes_ready(timeout=60)
        yield cl
    finally:
        cl.stop()


def gang_job(name: str, members: int, gpus: int) -> Obj:
    labels = {
        "kubelab.io/queue": "lab",
        "kubelab.io/gang": name,
        "kubelab.io/gang-size": str(members),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "parallelism": members,
            "completions": members,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "train",
                            "image": "busybox",
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ],
                },
            },
        },
    }


def live(c: Any, job: str) -> list[Obj]:
    items = c.list("pods", NS, label_selector=f"job-name={job}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def bound(c: Any, job: str) -> list[Obj]:
    return [p for p in live(c, job) if p["spec"].get("nodeName")]


def placed(c: Any, job: str, size: int) -> list[Obj] | None:
    """The Job's bound pods once all ``size`` are. (The members' Bindings are separate
    writes, so a look may land between two of them: the reservation is what is whole.)"""
    pods = bound(c, job)
    return pods if len(pods) == size else None


def test_a_gang_job_starts_whole_on_the_fewest_boxes_and_a_second_waits_whole(
    cluster: Cluster,
) -> None:
    c = cluster.client
    c.create(
        "queues",
        {
            "apiVersion": "scheduling.kubelab.io/v1",
            "kind": "Queue",
            "metadata": {"name": "lab"},
            "spec": {"nominal": {"nvidia.com/gpu": 16}},
        },
    )
    c.create("jobs", gang_job("ddp-a", 4, 2), NS)
    first = wait_for(lambda: placed(c, "ddp-a", 4), "ddp-a's 4 pods placed", 60)
    assert len({p["spec"]["nodeName"] for p in first}) == 2  # 8 GPUs: two 4-GPU boxes

    c.create("jobs", gang_job("ddp-b", 5, 2), NS)
    wait_for(lambda: len(live(c, "ddp-b")) == 5, "ddp-b's 5 pods made", 30)

    def told() -> bool:
        # Every look: no member of the waiting gang holds anything.
        assert bound(c, "ddp-b") == [], [p["metadata"]["name"] for p in bound(c, "ddp-b")]
        msgs = [
            str(cond.get("message") or "")
            for p in live(c, "ddp-b")
            for cond in (p.get("status") or {}).get("conditions") or []
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False"
        ]
        return len(msgs) == 5 and all("gang ddp-b:" in m for m in msgs)

    wait_for(told, "ddp-b waits whole, saying why", 30, diagnostics=cluster.logs)

    # Holding nothing while it waits: the queue is charged ddp-a's 8 GPUs only.
    def charged() -> bool:
        status = c.get("queues", "lab").get("status") or {}
        assert bound(c, "ddp-b") == []
        return status.get("used", {}).get("nvidia.com/gpu") == 8 and status["pendingPods"] == 5

    wait_for(charged, "the queue's status: 8 GPUs used, 5 pods waiting", 30)

    c.delete("jobs", "ddp-a", NS, propagation_policy="Background")
    second = wait_for(
        lambda: placed(c, "ddp-b", 5), "ddp-b starts whole", 60, diagnostics=cluster.logs
    )
    assert len({p["spec"]["nodeName"] for p in second}) == 3  # 10 GPUs: 4 + 4 + 2
