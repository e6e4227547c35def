"""The node lifecycle controller leaves a box the autoscaler powered off alone."""

from __future__ import annotations

from controllers import nodelifecycle as nl

T0 = 1_700_000_000.0


def node(asleep_reason: str | None) -> dict:
    conds = [{"type": "Ready", "status": "False", "reason": "Asleep"}]
    if asleep_reason:
        conds.append({"type": "Asleep", "status": "True", "reason": asleep_reason})
    return {"metadata": {"name": "gpu-0"}, "spec": {}, "status": {"conditions": conds}}


def test_asleep_and_waking_boxes_are_not_failures() -> None:
    for reason in ("Asleep", "Waking"):
        res = nl.reconcile(node(reason), T0 - 3600, [], T0, nl.Timing())
        assert res.actions == []


def test_a_silent_box_that_is_not_asleep_still_is() -> None:
    res = nl.reconcile(node(None), T0 - 3600, [], T0, nl.Timing())
    assert res.actions  # marked Unknown and tainted unreachable, as before
