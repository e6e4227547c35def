"""GPU queues on a real cluster: an apiserver, the scheduler and four hollow kubelets
(fake runtime) with 4 simulated GPUs each, 16 in all.

- two users over their quota: each gets its nominal share, the rest wait with the
  queue's words in their PodScheduled condition (what ``kl why`` prints);
- reclaim: bob borrowed alice's idle share; alice's pods run within her grace period
  + 5 s, only bob's borrowed pods are preempted, never his nominal share;
- two gangs that each need 10 of the 16 GPUs: never both half-started; one starts whole,
  the other starts whole once the first is gone.
"""

from __future__ import annotations

import time
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
    home: Path = tmp_path_factory.mktemp("queues") / "home"
    cl = start_cluster(home, nodes=4, controller_flags=None, fake_gpus="4")
    try:
        cl.wait_nodes_ready(timeout=60)
        yield cl
    finally:
        cl.stop()


def queue(name: str, gpus: int, **spec: Any) -> Obj:
    return {
        "apiVersion": "scheduling.kubelab.io/v1",
        "kind": "Queue",
        "metadata": {"name": name},
        "spec": {"nominal": {"nvidia.com/gpu": gpus}, **spec},
    }


def gpu_pod(name: str, gpus: int = 1, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"test": "queues", **(labels or {})}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "train",
                    "image": "busybox",
                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                }
            ],
        },
    }


def pods(c: Any, selector: str) -> list[Obj]:
    items = c.list("pods", NS, label_selector=selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def bound(c: Any, selector: str) -> list[Obj]:
    return [p for p in pods(c, selector) if p["spec"].get("nodeName")]


def unschedulable_message(p: Obj) -> str:
    for cond in (p.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or "")
    return ""


def clean(c: Any, *queues: str) -> None:
    for p in c.list("pods", NS, label_selector="test=queues")["items"]:
        c.delete("pods", p["metadata"]["name"], NS, grace_period_seconds=0)
    for q in queues:
        c.delete("queues", q)
    wait_for(lambda: not c.list("pods", NS, label_selector="test=queues")["items"], "clean", 30)


def test_two_users_over_quota_wait_with_the_queues_words(cluster: Cluster) -> None:
    c = cluster.client
    c.create("queues", queue("alice", 4, borrowingLimit={"nvidia.com/gpu": 0}))
    c.create("queues", queue("bob", 4, borrowingLimit={"nvidia.com/gpu": 0}))
    try:
        for user in ("alice", "bob"):
            for i in range(6):
                c.create("pods", gpu_pod(f"{user}-{i}", labels={"kubelab.io/queue": user}), NS)
        for user in ("alice", "bob"):
            sel = f"kubelab.io/queue={user}"

            def four(sel: str = sel) -> bool:
                return len(bound(c, sel)) == 4

            wait_for(four, f"{user}'s 4 GPUs", 30)

            def told(user: str = user, sel: str = sel) -> bool:
                waiting = [p for p in pods(c, sel) if not p["spec"].get("nodeName")]
                return len(waiting) == 2 and all(
                    f"queue {user}: 4/4 GPUs in use" in unschedulable_message(p)
                    and "borrowing limit of 0" in unschedulable_message(p)
                    for p in waiting
                )

            wait_for(told, f"{user}'s 2 waiting pods say why", 30, diagnostics=cluster.logs)
        # Room in alice's own share: one of her waiting pods starts, bob's do not.
        first = bound(c, "kubelab.io/queue=alice")[0]["metadata"]["name"]
        c.delete("pods", first, NS, grace_period_seconds=0)
        wait_for(
            lambda: (
                len(bound(c, "kubelab.io/queue=alice")) == 4
                and len(pods(c, "kubelab.io/queue=alice")) == 5
            ),
            "alice's next pod in her freed GPU",
            30,
        )
        assert len(bound(c, "kubelab.io/queue=bob")) == 4
        # The scheduler writes what each queue uses into its status (kl get/top queues).
        wait_for(
            lambda: (
                (c.get("queues", "alice").get("status") or {}).get("used", {}).get("nvidia.com/gpu")
                == 4
                and c.get("queues", "bob")["status"]["pendingPods"] == 2
            ),
            "queue status",
            30,
        )
    finally:
        clean(c, "alice", "bob")


def test_reclaim_within_grace_plus_5s_takes_only_borrowed_pods(cluster: Cluster) -> None:
    c = cluster.client
    grace = 3
    c.create("queues", queue("alice", 8, reclaimGracePeriodSeconds=grace))
    c.create("queues", queue("bob", 8))
    try:
        for i in range(16):
            c.create("pods", gpu_pod(f"bob-{i:02d}", labels={"kubelab.io/queue": "bob"}), NS)
        wait_for(lambda: len(bound(c, "kubelab.io/queue=bob")) == 16, "bob on all 16", 60)
        bob_before = {p["metadata"]["name"] for p in pods(c, "kubelab.io/queue=bob")}
        start = time.monotonic()
        for i in range(4):
            c.create("pods", gpu_pod(f"alice-{i}", labels={"kubelab.io/queue": "alice"}), NS)
        # The deadline is the promise: alice runs within her grace period + 5 s.
        wait_for(
            lambda: len(bound(c, "kubelab.io/queue=alice")) == 4,
            "alice's 4 pods placed by reclaim",
            grace + 5,
            diagnostics=cluster.logs,
        )
        assert time.monotonic() - start >= grace - 0.5  # the borrowers got their grace
        bob_after = {p["metadata"]["name"] for p in pods(c, "kubelab.io/queue=bob")}
        gone = bob_before - bob_after
        assert len(gone) == 4, gone
        # Bob keeps his nominal 8 and more: only borrowed pods went, never his share.
        assert len(bound(c, "kubelab.io/queue=bob")) == 12
    finally:
        clean(c, "alice", "bob")


def test_two_gangs_of_10_of_16_gpus_never_both_half_start(cluster: Cluster) -> None:
    c = cluster.client
    try:
        # Interleaved, as two users submitting at once would.
        for i in range(5):
            for g in ("red", "blue"):
                labels = {"kubelab.io/gang": g, "kubelab.io/gang-size": "5", "gang": g}
                c.create("pods", gpu_pod(f"{g}-{i}", gpus=2, labels=labels), NS)

        def counts() -> dict[str, int]:
            return {g: len(bound(c, f"gang={g}")) for g in ("red", "blue")}

        def one_whole() -> dict[str, int] | None:
            seen = counts()
            # Every look: never both gangs partly placed. (One alone may be seen partly
            # bound: its members' Bindings are separate writes, its reservation is whole.)
            assert not all(0 < n < 5 for n in seen.values()), seen
            return seen if sorted(seen.values()) == [0, 5] else None

        seen = wait_for(one_whole, "one gang whole, the other waiting whole", 60)
        started = next(g for g, n in seen.items() if n == 5)
        other = "blue" if started == "red" else "red"
        waiting = pods(c, f"gang={other}")

        def waits_whole() -> bool:
            # Every look while the other runs: the waiting gang holds nothing at all.
            assert counts()[other] == 0, counts()
            return all(
                f"gang {other}:" in unschedulable_message(p) for p in pods(c, f"gang={other}")
            )

        wait_for(waits_whole, "the waiting gang says why, holding nothing", 30)
        assert len(waiting) == 5
        for p in pods(c, f"gang={started}"):
            c.delete("pods", p["metadata"]["name"], NS, grace_period_seconds=0)

        def other_whole() -> bool:
            return counts()[other] == 5

        wait_for(other_whole, f"gang {other} starts whole", 60, diagnostics=cluster.logs)
    finally:
        clean(c)


def best_effort_pod(name: str, labels: dict[str, str] | None = None) -> Obj:
    pod = gpu_pod(name, labels={"best-effort": "yes", **(labels or {})})
    pod["spec"]["priorityClassName"] = "kubelab-best-effort"
    return pod


def test_best_effort_pods_are_preempted_first_then_borrowed_never_in_share(
    cluster: Cluster,
) -> None:
    """Bob holds his 8 and borrows 2, best-effort pods fill the other 6; alice wants her 8.
    The best-effort pods go at once (no grace: they are only using idle GPUs), bob's
    borrowed 2 only after alice's grace period, and bob's own 8 never."""
    c = cluster.client
    grace = 20
    c.create("queues", queue("alice", 8, reclaimGracePeriodSeconds=grace))
    c.create("queues", queue("bob", 8))
    try:
        for i in range(10):
            c.create("pods", gpu_pod(f"bob-{i:02d}", labels={"kubelab.io/queue": "bob"}), NS)
        wait_for(lambda: len(bound(c, "kubelab.io/queue=bob")) == 10, "bob's 10", 30)
        # Best effort is charged to no quota, whether or not it names a queue.
        for i in range(3):
            c.create("pods", best_effort_pod(f"idle-{i}"), NS)
            c.create("pods", best_effort_pod(f"idle-bob-{i}", {"kubelab.io/queue": "bob"}), NS)
        wait_for(lambda: len(bound(c, "best-effort=yes")) == 6, "6 best-effort pods", 30)
        start = time.monotonic()
        for i in range(8):
            c.create("pods", gpu_pod(f"alice-{i}", labels={"kubelab.io/queue": "alice"}), NS)
        best_effort_gone_at: list[float] = []

        def alice_whole() -> bool:
            bob_left = len(pods(c, "kubelab.io/queue=bob,!best-effort"))
            best_effort_left = len(pods(c, "best-effort=yes"))
            if best_effort_left == 0 and not best_effort_gone_at:
                best_effort_gone_at.append(time.monotonic() - start)
            # Every look: bob loses nothing while a best-effort pod is still there.
            assert bob_left == 10 or best_effort_left == 0, (bob_left, best_effort_left)
            return len(bound(c, "kubelab.io/queue=alice")) == 8

        wait_for(alice_whole, "alice's 8 pods", grace + 10, diagnostics=cluster.logs)
        assert best_effort_gone_at and best_effort_gone_at[0] < grace, best_effort_gone_at
        assert time.monotonic() - start >= grace - 0.5  # bob's borrowers got their grace
        bob_names = sorted(p["metadata"]["name"] for p in bound(c, "kubelab.io/queue=bob"))
        # The two borrowed (newest) went, his nominal 8 stayed.
        assert bob_names == [f"bob-{i:02d}" for i in range(8)], bob_names
    finally:
        clean(c, "alice", "bob")


def week_seconds(c: Any, name: str) -> tuple[float, str]:
    usage = (c.get("queues", name).get("status") or {}).get("usage") or {}
    return float(usage.get("weekGpuSeconds") or 0.0), str(usage.get("lastUpdateTime") or "")


def test_kl_top_queues_shows_use_borrowing_waiting_jobs_and_week_gpu_hours(
    cluster: Cluster,
) -> None:
    """The figures of ``kl top queues`` on a live cluster: carol runs 10 GPUs on a share of
    8 (2 borrowed from dave's idle share, her limit), two jobs wait (a gang of two counts
    once); her week's GPU-seconds grow by 10 a second, and survive a scheduler restart."""
    from api.queues import iso_week
    from tests.integration.kl_helpers import kl

    c = cluster.client
    c.create("queues", queue("carol", 8, borrowingLimit={"nvidia.com/gpu": 2}))
    c.create("queues", queue("dave", 8))
    try:
        for i in range(10):
            c.create("pods", gpu_pod(f"carol-{i:02d}", labels={"kubelab.io/queue": "carol"}), NS)
        wait_for(lambda: len(bound(c, "kubelab.io/queue=carol")) == 10, "carol's 10", 30)
        gang = {"kubelab.io/queue": "carol", "kubelab.io/gang": "ddp", "kubelab.io/gang-size": "2"}
        for i in range(2):
            c.create("pods", gpu_pod(f"carol-ddp-{i}", labels=gang), NS)
        c.create("pods", gpu_pod("carol-solo", labels={"kubelab.io/queue": "carol"}), NS)

        def carol_status() -> bool:
            st = c.get("queues", "carol").get("status") or {}
            return st.get("used", {}).get("nvidia.com/gpu") == 10 and st.get("pendingPods") == 3

        wait_for(carol_status, "carol's status: 10 in use, 3 pods waiting", 30)
        # GPU-seconds accrue from the bound pods' time: 10 GPUs, 10 a second.
        s1, t1 = week_seconds(c, "carol")
        wait_for(lambda: week_seconds(c, "carol")[0] >= s1 + 100, "100 more GPU-seconds", 30)
        s2, t2 = week_seconds(c, "carol")
        from scheduler.queue_ledger import parse_time

        elapsed = parse_time(t2) - parse_time(t1)  # whole seconds: each stamp cut down by < 1
        assert abs((s2 - s1) - 10 * elapsed) <= 10 * 1.0 + 1, (s1, s2, elapsed)

        # A restart forgets nothing: the scheduler reads the week's figure back from the
        # status. Ten hours already this week, written while it was down.
        cluster.kill("scheduler")
        live = c.get("queues", "carol")
        usage = dict(live["status"]["usage"])
        usage.update(weekGpuSeconds=36_000.0, week=iso_week(time.time()))
        c.patch("queues", "carol", {"status": {"usage": usage}}, subresource="status")
        cluster.start("scheduler")
        wait_for(
            lambda: (
                week_seconds(c, "carol")[1] != usage["lastUpdateTime"]
                and week_seconds(c, "carol")[0] >= 36_000
            ),
            "the restarted scheduler's status, from 10 h on",
            60,
            diagnostics=cluster.logs,
        )
        out = kl(cluster.api.kubeconfig, "top", "queues").ok().out.splitlines()
        assert out[0].split() == [
            "NAME",
            "GPUS(used/share)",
            "BORROWED",
            "WAITING",
            "FAIR-SHARE",
            "GPU-HOURS(week)",
        ]
        rows = {line.split()[0]: line.split() for line in out[1:]}
        carol, dave = rows["carol"], rows["dave"]
        assert carol[1:4] == ["10/8", "2", "2"], carol
        assert 10.0 <= float(carol[5]) <= 10.2, carol
        assert float(carol[4]) < float(dave[4]) == 1.0  # dave used nothing: factor 1
        assert dave[1:4] == ["0/8", "0", "0"] and dave[5] == "0.0", dave
        only = kl(cluster.api.kubeconfig, "top", "queues", "dave").ok().out.splitlines()
        assert [line.split()[0] for line in only[1:]] == ["dave"]
        missing = kl(cluster.api.kubeconfig, "top", "queues", "nobody").one_error_line()
        assert "nobody" in missing and "not found" in missing
    finally:
        clean(c, "carol", "dave")


def test_reclaim_takes_a_borrowing_gang_whole_never_one_member(cluster: Cluster) -> None:
    """Bob holds his 8 GPUs with four 2-GPU pods, then borrows alice's 8 with a gang of
    4 x 2. Alice wants 2: one gang member is enough room, but the whole gang goes (a gang
    short of a member only holds GPUs for nothing); bob's own four stay."""
    c = cluster.client
    grace = 2
    c.create("queues", queue("alice", 8, reclaimGracePeriodSeconds=grace))
    c.create("queues", queue("bob", 8))
    try:
        for i in range(4):
            c.create("pods", gpu_pod(f"bob-{i}", 2, {"kubelab.io/queue": "bob"}), NS)
        wait_for(lambda: len(bound(c, "kubelab.io/queue=bob")) == 4, "bob's share", 30)
        time.sleep(1.1)  # the gang is newer to the second: the borrowed part, by age
        gang = {"kubelab.io/queue": "bob", "kubelab.io/gang": "ddp", "kubelab.io/gang-size": "4"}
        for i in range(4):
            c.create("pods", gpu_pod(f"bob-ddp-{i}", 2, {**gang, "gang": "ddp"}), NS)
        wait_for(lambda: len(bound(c, "gang=ddp")) == 4, "bob's gang on the other 8", 30)
        c.create("pods", gpu_pod("alice-0", 2, {"kubelab.io/queue": "alice"}), NS)
        wait_for(
            lambda: len(bound(c, "kubelab.io/queue=alice")) == 1,
            "alice's pod placed by reclaim",
            grace + 10,
            diagnostics=cluster.logs,
        )
        wait_for(lambda: pods(c, "gang=ddp") == [], "the whole gang preempted", 15)
        assert sorted(p["metadata"]["name"] for p in bound(c, "kubelab.io/queue=bob")) == [
            f"bob-{i}" for i in range(4)
        ]
    finally:
        clean(c, "alice", "bob")
