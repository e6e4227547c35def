"""A node's STATUS cell: kubectl's Ready/NotReady/Unknown and SchedulingDisabled, plus the
lab autoscaler's Asleep, Waking and Draining (one function for kl and the server's Table)."""

from __future__ import annotations

from typing import Any

import pytest

from api.nodestatus import node_status
from apiserver.tables.pods import node_status as table_status
from kubectl.printers.columns import node_status as kl_status

Obj = dict[str, Any]
TAINT = {"key": "kubelab.io/asleep", "effect": "NoSchedule"}


def node(ready: str | None, asleep: tuple[str, str] | None = None, **spec: Any) -> Obj:
    conds: list[Obj] = []
    if ready is not None:
        conds.append({"type": "Ready", "status": ready})
    if asleep is not None:
        conds.append({"type": "Asleep", "status": asleep[0], "reason": asleep[1]})
    return {"metadata": {"name": "n"}, "spec": spec, "status": {"conditions": conds}}


@pytest.mark.parametrize(
    ("n", "cell"),
    [
        (node("True"), "Ready"),
        (node("False"), "NotReady"),
        (node("Unknown"), "NotReady"),
        (node(None), "Unknown"),
        (node("True", unschedulable=True), "Ready,SchedulingDisabled"),
        (node("False", ("True", "Asleep"), taints=[TAINT]), "NotReady,Asleep"),
        (node("False", ("True", "Waking"), taints=[TAINT]), "NotReady,Waking"),
        (node("True", ("False", "Awake"), taints=[TAINT]), "Ready"),  # up, taint not yet lifted
        (
            node("True", ("False", "Awake"), taints=[TAINT], unschedulable=True),
            "Ready,SchedulingDisabled,Draining",
        ),
        (node("True", ("False", "Draining")), "Ready,Draining"),
        (
            node("True", unschedulable=True, taints=[{"key": "other", "effect": "NoSchedule"}]),
            "Ready,SchedulingDisabled",
        ),
    ],
)
def test_the_cell_shows_readiness_cordon_and_power_state(n: Obj, cell: str) -> None:
    assert node_status(n) == cell
    assert table_status(n) == kl_status(n) == cell
