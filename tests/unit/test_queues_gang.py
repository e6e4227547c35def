"""Table tests: gang admission (all members reserved in one step, or none; fewest nodes)."""

from __future__ import annotations

import pytest

from scheduler.gang import GangBlocked, pack_counts, plan_gang, release, whole_gangs
from scheduler.plugins import default_framework
from scheduler.podinfo import PodInfo
from tests.unit.sched_world import info, node, pod, snapshot


def members(prefix: str, n: int, gpus: int) -> list[PodInfo]:
    return [info(pod(f"{prefix}-{i}", gpus=gpus)) for i in range(n)]


@pytest.mark.parametrize(
    ("free", "gang", "want_nodes"),
    [
        # 4 x 2 GPUs fit on one 8-GPU box: all there, none on the 4-GPU boxes.
        ({"a": 4, "b": 8, "c": 4}, (4, 2), {"b"}),
        # The fullest box that still takes them all (keeps the empty one for bigger gangs).
        ({"a": 8, "b": 4}, (2, 2), {"b"}),
        # No box takes 8 GPUs: spread, on as few boxes as the room allows (which two of
        # the equal boxes is the scheduler's random tie-break).
        ({"a": 4, "b": 4, "c": 4}, (4, 2), 2),
    ],
)
def test_gang_lands_on_fewest_nodes(
    free: dict[str, int], gang: tuple[int, int], want_nodes: set[str] | int
) -> None:
    fw = default_framework()
    snap = snapshot([node(n, cpu="32", gpus=g) for n, g in free.items()])
    plan = plan_gang(fw, members("g", *gang), snap)
    assert not isinstance(plan, GangBlocked)
    used = {n for _, n, _ in plan}
    assert (len(used) if isinstance(want_nodes, int) else used) == want_nodes
    # Every member holds distinct GPUs, and the snapshot counts them all at once.
    uuids = [u for _, _, us in plan for u in us]
    assert len(uuids) == len(set(uuids)) == gang[0] * gang[1]
    assert sum(ni.req_gpus for ni in snap.node_list) == gang[0] * gang[1]


def test_gang_that_does_not_fit_holds_nothing_after_release() -> None:
    fw = default_framework()
    snap = snapshot([node(f"n{i}", cpu="32", gpus=4) for i in range(4)])
    # Gang A (5 x 2 = 10 of 16 GPUs) starts whole.
    a = plan_gang(fw, members("a", 5, 2), snap)
    assert not isinstance(a, GangBlocked) and len(a) == 5
    # Gang B needs 10 too: only 6 are left, so 3 members fit, the 4th does not ...
    b = plan_gang(fw, members("b", 5, 2), snap)
    assert isinstance(b, GangBlocked)
    assert len(b.placed) == 3 and b.blocker.name == "b-3"
    release(snap, b.placed)
    # ... and after the release, B holds nothing: only A's 10 GPUs are counted.
    assert sum(ni.req_gpus for ni in snap.node_list) == 10
    assert all(not k.startswith("default/b-") for k in snap.assumed)


@pytest.mark.parametrize(
    ("demands", "free", "want"),
    [
        ([2, 2, 2, 2], {"a": 4, "b": 8}, ["b", "b", "b", "b"]),
        ([2, 2], {"a": 8, "b": 4}, ["b", "b"]),
        ([4, 2, 2], {"a": 4, "b": 4}, ["a", "b", "b"]),
        ([2, 2, 2], {"a": 2, "b": 2}, None),  # all or nothing
        ([1], {"a": 0}, None),
    ],
)
def test_pack_counts(demands: list[int], free: dict[str, int], want: list[str] | None) -> None:
    assert pack_counts(demands, free) == want


def test_a_preempted_gang_member_takes_its_whole_gang_along() -> None:
    def member(name: str, gang: str, namespace: str = "default") -> dict:  # type: ignore[type-arg]
        p = pod(name, gpus=2, node_name="n0", namespace=namespace)
        p["metadata"]["labels"] = {"kubelab.io/gang": gang, "kubelab.io/gang-size": "3"}
        return p

    placed = {
        "default": [member("g-0", "g"), member("g-1", "g"), member("g-2", "g"), pod("solo")],
        "other": [member("g-0", "g", "other")],  # the same gang name in another namespace
    }
    victims = whole_gangs([info(placed["default"][1])], lambda ns: placed.get(ns, []))
    assert [v.key for v in victims] == ["default/g-1", "default/g-0", "default/g-2"]
    # A pod of no gang stays alone; nothing is listed twice.
    assert [v.key for v in whole_gangs([info(pod("x"))], lambda ns: placed[ns])] == ["default/x"]
    both = whole_gangs([info(placed["default"][0]), info(placed["default"][2])], placed.__getitem__)
    assert sorted(v.key for v in both) == ["default/g-0", "default/g-1", "default/g-2"]
