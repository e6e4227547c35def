"""The autoscaler's marks on a Node (autoscaler/marks.py): what it reads (asleep, waking,
draining, unschedulable pods) and the patches it writes, as table tests."""

from __future__ import annotations

from typing import Any

import pytest

from api.power import ASLEEP, ASLEEP_CONDITION, ASLEEP_TAINT, GROUP_ANNOTATION, WAKING, power_state
from autoscaler.marks import (
    asleep_status_patch,
    is_draining,
    is_unschedulable,
    pods_by_node,
    powered_on,
    taint_patch,
)

Obj = dict[str, Any]


def node(name: str, group: str = "gpu", asleep: str | None = None, **spec: Any) -> Obj:
    conds = [{"type": "Ready", "status": "True"}]
    if asleep is not None:
        conds.append({"type": ASLEEP_CONDITION, "status": "True", "reason": asleep})
    return {
        "metadata": {"name": name, "annotations": {GROUP_ANNOTATION: group}},
        "spec": spec,
        "status": {"conditions": conds},
    }


def pod(name: str, node_name: str = "", phase: str = "Pending", reason: str = "") -> Obj:
    conds = [{"type": "PodScheduled", "status": "False", "reason": reason}] if reason else []
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node_name} if node_name else {},
        "status": {"phase": phase, "conditions": conds},
    }


def test_powered_on_counts_every_box_not_asleep_by_group() -> None:
    boxes = [
        node("a", asleep=ASLEEP),
        node("b", asleep=WAKING),
        node("c"),
        node("d", group="cpu"),
        node("e", group="cpu", asleep=ASLEEP),
    ]
    assert powered_on(boxes) == {"gpu": 2, "cpu": 1}


@pytest.mark.parametrize(
    ("p", "unschedulable"),
    [
        (pod("tried", reason="Unschedulable"), True),
        (pod("untried"), False),  # the scheduler has not said anything yet
        (pod("gated", reason="SchedulingGated"), False),
        (pod("bound", node_name="a", reason="Unschedulable"), False),
        (pod("done", phase="Failed", reason="Unschedulable"), False),
    ],
)
def test_only_pods_the_scheduler_could_not_place_count(p: Obj, unschedulable: bool) -> None:
    assert is_unschedulable(p) is unschedulable


def test_pods_by_node_leaves_out_finished_and_unbound_pods() -> None:
    got = pods_by_node(
        [pod("run", "a", "Running"), pod("ok", "a", "Succeeded"), pod("wait"), pod("x", "b")]
    )
    assert {n: [p["metadata"]["name"] for p in ps] for n, ps in got.items()} == {
        "a": ["run"],
        "b": ["x"],
    }


def test_asleep_patch_sets_the_condition_and_ready_false_keeping_the_others() -> None:
    n = node("a")
    n["status"]["conditions"].append({"type": "MemoryPressure", "status": "False"})
    patch = asleep_status_patch(n, "True", ASLEEP, "powered off: idle 600 s", now=0.0)
    conds = {c["type"]: c for c in patch["status"]["conditions"]}
    assert conds[ASLEEP_CONDITION]["status"] == "True"
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == ASLEEP
    assert conds["MemoryPressure"] == {"type": "MemoryPressure", "status": "False"}
    assert conds[ASLEEP_CONDITION]["lastTransitionTime"] == "1970-01-01T00:00:00Z"
    # Waking keeps the node's Ready as it is (its kubelet replaces it once it boots).
    waking = asleep_status_patch(n, "True", WAKING, "waking", now=0.0)
    assert {c["type"]: c["status"] for c in waking["status"]["conditions"]}["Ready"] == "True"
    applied = {**n, "status": patch["status"]}
    assert power_state(applied) == ASLEEP


def test_taint_patch_adds_or_lifts_only_its_own_taint_and_an_admins_cordon_stays() -> None:
    other = {"key": "gpu", "value": "broken", "effect": "NoSchedule"}
    n = node("a", taints=[other], unschedulable=True)
    on = taint_patch(n, asleep=True)
    assert on == {"spec": {"taints": [other, ASLEEP_TAINT]}}  # cordon untouched (None)
    drained = {**n, "spec": {**n["spec"], **taint_patch(n, asleep=True, cordon=True)["spec"]}}
    assert is_draining(drained)
    off = taint_patch(drained, asleep=False, cordon=False)
    assert off == {"spec": {"taints": [other], "unschedulable": None}}
    assert taint_patch(node("b"), asleep=False) == {"spec": {"taints": None}}
