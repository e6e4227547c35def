"""Node lifecycle with a fake clock: grace period, taints, eviction timing, recovery."""

from __future__ import annotations

from controllers import nodelifecycle as nl
from controllers.objutil import get_condition
from tests.unit.ctrl_world import World

T0 = 1_700_000_000.0
TIMING = nl.Timing(grace_period=40, eviction_timeout=300)


def setup() -> World:
    w = World(T0)
    w.add(
        "nodes",
        {
            "metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
            },
        },
    )
    w.add(
        "pods",
        {
            "metadata": {"name": "plain", "namespace": "default"},
            "spec": {"nodeName": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    )
    w.add(
        "pods",
        {
            "metadata": {"name": "patient", "namespace": "default"},
            "spec": {
                "nodeName": "n1",
                "tolerations": [
                    {
                        "key": nl.UNREACHABLE,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 600,
                    }
                ],
            },
        },
    )
    w.add(
        "pods",
        {
            "metadata": {"name": "forever", "namespace": "default"},
            "spec": {"nodeName": "n1", "tolerations": [{"operator": "Exists"}]},
        },
    )
    w.add(
        "pods",
        {"metadata": {"name": "elsewhere", "namespace": "default"}, "spec": {"nodeName": "n2"}},
    )
    return w


def sync(w: World, heartbeat: float) -> nl.A.Result:
    node = w.get("nodes", None, "n1")
    assert node is not None
    res = nl.reconcile(node, heartbeat, w.list("pods"), w.now, TIMING)
    w.apply(res.actions)
    return res


def node(w: World) -> dict:
    n = w.get("nodes", None, "n1")
    assert n is not None
    return n


def test_healthy_node_is_left_alone_and_rechecked_at_grace_end() -> None:
    w = setup()
    w.now = T0 + 10
    res = sync(w, heartbeat=T0)
    assert res.actions == []
    assert res.requeue_after is not None and 29.9 < res.requeue_after < 30.2


def test_silent_node_goes_unknown_tainted_then_pods_are_evicted_in_order() -> None:
    w = setup()
    w.now = T0 + 39
    assert sync(w, T0).actions == []
    w.now = T0 + 41
    res = sync(w, T0)
    ready = get_condition(node(w), "Ready")
    assert ready and ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
    taints = {(t["key"], t["effect"]) for t in node(w)["spec"]["taints"]}
    assert taints == {
        ("gpu", "NoSchedule"),
        (nl.UNREACHABLE, "NoSchedule"),
        (nl.UNREACHABLE, "NoExecute"),
    }
    assert [e.reason for e in res.of("event")] == ["NodeNotReady"]
    plain = w.get("pods", "default", "plain")
    assert plain is not None and get_condition(plain, "Ready")["status"] == "False"  # type: ignore[index]
    assert not res.of("delete")
    assert res.requeue_after is not None and 299 < res.requeue_after < 301
    # Second look before the toleration: nothing new (no duplicate taints or events).
    w.now = T0 + 200
    assert sync(w, T0).actions == []
    w.now = T0 + 41 + 300
    res = sync(w, T0)
    assert [a.name for a in res.of("delete")] == ["plain"]
    w.now = T0 + 41 + 600
    res = sync(w, T0)
    assert [a.name for a in res.of("delete")] == ["patient"]
    assert {p["metadata"]["name"] for p in w.list("pods")} == {"forever", "elsewhere"}


def test_node_back_removes_taint_and_unknown() -> None:
    w = setup()
    w.now = T0 + 50
    sync(w, T0)
    w.now = T0 + 60
    sync(w, heartbeat=T0 + 59)
    assert node(w)["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]
    ready = get_condition(node(w), "Ready")
    assert ready and ready["status"] == "True"
    assert {p["metadata"]["name"] for p in w.list("pods")} >= {"plain", "patient"}


def test_toleration_seconds() -> None:
    assert nl.toleration_seconds({"spec": {}}, 300) == 300
    assert (
        nl.toleration_seconds(
            {
                "spec": {
                    "tolerations": [
                        {
                            "key": nl.UNREACHABLE,
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": 5,
                        }
                    ]
                }
            },
            300,
        )
        == 5
    )
    assert nl.toleration_seconds({"spec": {"tolerations": [{"operator": "Exists"}]}}, 300) is None
    assert (
        nl.toleration_seconds(
            {
                "spec": {
                    "tolerations": [
                        {
                            "key": "other",
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": 5,
                        }
                    ]
                }
            },
            300,
        )
        == 300
    )
