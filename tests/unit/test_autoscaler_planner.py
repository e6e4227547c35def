"""The autoscaler's pure decisions: which boxes to wake, idle, backoff."""

from __future__ import annotations

from typing import Any

from api.power import ASLEEP_TAINT, AWAKE, DRAINING, WAKING, power_state
from autoscaler.idle import busy_reason, idle_since, may_power_off
from autoscaler.planner import Candidate, plan_wakeups
from autoscaler.resume import WakeRecord, fail, may_try, succeed, timed_out
from client.backoff import Backoff
from scheduler.plugins import default_framework

FILTERS = default_framework().filters


def box(name: str, cpu: str = "4", gpus: int = 0, labels: dict[str, str] | None = None) -> Any:
    status: dict[str, Any] = {
        "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110", "nvidia.com/gpu": str(gpus)},
        "gpus": [
            {"uuid": f"GPU-{name}-{i}", "index": i, "model": "H100", "memoryMiB": 81920}
            for i in range(gpus)
        ],
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "Asleep"},
            {"type": "Asleep", "status": "True", "reason": "Asleep"},
        ],
    }
    node = {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": [dict(ASLEEP_TAINT)]},
        "status": status,
    }
    return node


def pod(name: str, cpu: str = "1", gpus: int = 0, selector: dict[str, str] | None = None) -> Any:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    spec: dict[str, Any] = {
        "containers": [
            {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}, "limits": limits}}
        ]
    }
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec}


def test_gpu_pod_wakes_one_gpu_box() -> None:
    plan = plan_wakeups(
        FILTERS,
        [pod("train", gpus=1)],
        [Candidate(box("cpu-0")), Candidate(box("gpu-0", gpus=2)), Candidate(box("gpu-1", gpus=2))],
    )
    assert plan.wake == ["gpu-0"]
    assert plan.placed == {"default/train": "gpu-0"}


def test_cpu_pod_wakes_cpu_box_not_gpu_box() -> None:
    # gpu-0 sorts first and is bigger, yet a CPU pod must not wake it while a CPU box fits.
    plan = plan_wakeups(
        FILTERS, [pod("web")], [Candidate(box("a-gpu", cpu="64", gpus=4)), Candidate(box("z-cpu"))]
    )
    assert plan.wake == ["z-cpu"]


def test_cpu_pod_wakes_gpu_box_when_only_it_fits() -> None:
    plan = plan_wakeups(
        FILTERS,
        [pod("big", cpu="32")],
        [Candidate(box("gpu-0", cpu="64", gpus=4)), Candidate(box("cpu-0"))],
    )
    assert plan.wake == ["gpu-0"]


def test_two_pods_that_fit_one_box_wake_one() -> None:
    plan = plan_wakeups(
        FILTERS, [pod("a"), pod("b")], [Candidate(box("cpu-0")), Candidate(box("cpu-1"))]
    )
    assert plan.wake == ["cpu-0"]
    assert set(plan.placed.values()) == {"cpu-0"}


def test_fewest_boxes_greedy_by_pods_taken() -> None:
    # small takes 2 of the 4-core pods, large takes all 4: one box, the large one.
    pods = [pod(f"p{i}", cpu="2") for i in range(4)]
    plan = plan_wakeups(
        FILTERS, pods, [Candidate(box("small", cpu="4")), Candidate(box("large", cpu="8"))]
    )
    assert plan.wake == ["large"]


def test_pod_that_can_never_fit_wakes_nothing_and_says_why() -> None:
    plan = plan_wakeups(FILTERS, [pod("huge", cpu="100")], [Candidate(box("cpu-0"))])
    assert plan.wake == []
    assert "cpu-0: Insufficient cpu" in plan.never_fit["default/huge"]


def test_selector_is_the_schedulers_rule() -> None:
    plan = plan_wakeups(
        FILTERS,
        [pod("p", selector={"zone": "b"})],
        [Candidate(box("a", labels={"zone": "a"})), Candidate(box("b", labels={"zone": "b"}))],
    )
    assert plan.wake == ["b"]


def test_waking_box_takes_pods_first() -> None:
    waking = box("cpu-0")
    plan = plan_wakeups(FILTERS, [pod("a")], [Candidate(box("cpu-1"))], waking=[waking])
    assert plan.wake == []
    assert plan.placed == {"default/a": "cpu-0"}


def test_group_max_limits_wakes() -> None:
    plan = plan_wakeups(
        FILTERS,
        [pod("a", cpu="3"), pod("b", cpu="3")],
        [Candidate(box("cpu-0"), "g"), Candidate(box("cpu-1"), "g")],
        room={"g": 1},
    )
    assert len(plan.wake) == 1
    assert len(plan.no_room) == 1


def test_power_state_of_condition() -> None:
    node = box("x")
    node["status"]["conditions"][1]["reason"] = "Waking"
    assert power_state(node) == WAKING
    node["status"]["conditions"][1].update(status="False", reason="Draining")
    assert power_state(node) == DRAINING
    assert power_state({"metadata": {"name": "plain"}}) == AWAKE


def ds_pod(name: str, annotations: dict[str, str] | None = None) -> Any:
    return {
        "metadata": {
            "name": name,
            "annotations": annotations or {},
            "ownerReferences": [{"kind": "DaemonSet", "name": "ds", "controller": True}],
        }
    }


def test_idle_only_with_daemonset_pods() -> None:
    assert busy_reason([ds_pod("log-agent")]) == ""
    assert "web" in busy_reason([ds_pod("log-agent"), {"metadata": {"name": "web"}}])
    marked = ds_pod("x", {"kubelab.io/do-not-disrupt": "true"})
    assert "do-not-disrupt" in busy_reason([marked])


def test_idle_window_and_group_min() -> None:
    since = idle_since(None, "", 100.0)
    assert idle_since(since, "", 150.0) == 100.0
    assert idle_since(since, "pod web runs here", 150.0) is None
    assert not may_power_off(since, 105.0, 10.0, 2, 0)
    assert may_power_off(since, 110.0, 10.0, 2, 0)
    assert not may_power_off(since, 110.0, 10.0, 1, 1)  # the group's minimum stays on


def test_failed_wakes_back_off_exponentially() -> None:
    policy = Backoff(2.0, cap=30.0)
    rec = WakeRecord(started=0.0)
    assert not timed_out(rec, 9.0, 10.0)
    assert timed_out(rec, 10.0, 10.0)
    assert fail(rec, 10.0, policy) == 2.0
    assert not may_try(rec, 11.0) and may_try(rec, 12.0)
    rec.started = 12.0
    assert fail(rec, 22.0, policy) == 4.0
    rec.started = 30.0
    assert fail(rec, 40.0, policy) == 8.0
    succeed(rec)
    assert rec.failures == 0 and may_try(rec, 0.0)


def test_cpu_pods_take_two_cpu_boxes_rather_than_one_gpu_box() -> None:
    # The GPU box alone would take all three pods; CPU boxes come first all the same.
    pods = [pod(f"p{i}", cpu="2") for i in range(3)]
    boxes = [
        Candidate(box("gpu-0", cpu="64", gpus=4)),
        Candidate(box("cpu-0")),
        Candidate(box("cpu-1")),
    ]
    assert sorted(plan_wakeups(FILTERS, pods, boxes).wake) == ["cpu-0", "cpu-1"]


def test_trying_one_box_per_shape_gives_the_plan_of_trying_every_box() -> None:
    import random

    rng = random.Random(7)
    for trial in range(30):
        shapes = [("4", 0, {}), ("8", 0, {"disk": "ssd"}), ("16", 2, {}), ("16", 8, {})]
        boxes = []
        for i in range(rng.randint(3, 14)):
            cpu, gpus, labels = rng.choice(shapes)
            name = f"b{trial}-{i:02d}"
            boxes.append(Candidate(box(name, cpu, gpus, {**labels, "kubernetes.io/hostname": name}),
                                   rng.choice(["a", "b"])))  # fmt: skip
        pods = []
        for j in range(rng.randint(1, 40)):
            selector = {"disk": "ssd"} if rng.random() < 0.2 else None
            pods.append(
                pod(f"p{j}", rng.choice(["1", "2", "3"]), rng.choice([0, 0, 1, 2]), selector)
            )
        room = {"a": rng.randint(0, 4)} if rng.random() < 0.5 else {}
        fast = plan_wakeups(FILTERS, pods, boxes, room=room)
        every = plan_wakeups(FILTERS, pods, boxes, room=room, by_shape=False)
        assert (fast.wake, fast.placed, fast.no_room) == (every.wake, every.placed, every.no_room)


def test_a_pod_that_names_a_box_is_planned_box_by_box() -> None:
    boxes = [Candidate(box(n, "4", 0, {"kubernetes.io/hostname": n})) for n in ("c0", "c1")]
    plan = plan_wakeups(FILTERS, [pod("pinned", selector={"kubernetes.io/hostname": "c1"})], boxes)
    assert plan.wake == ["c1"]
