"""The scheduler cache: counting bound pods, assume / forget / confirm."""

from __future__ import annotations

from tests.unit.sched_world import info, node, pod, snapshot


def test_bound_pods_count_and_terminal_pods_free_their_resources() -> None:
    snap = snapshot([node("n", gpus=2)])
    snap.set_pod(pod("a", cpu="1", gpus=1, node_name="n", gpu_uuids="GPU-n-0"))
    ni = snap.nodes["n"]
    assert (ni.req_cpu, ni.req_gpus, ni.gpus_in_use) == (1000, 1, {"GPU-n-0": "default/a"})
    assert snap.set_pod(
        pod("a", cpu="1", gpus=1, node_name="n", gpu_uuids="GPU-n-0", phase="Succeeded")
    )
    assert (ni.req_cpu, ni.req_gpus, ni.gpus_in_use, ni.pod_count) == (0, 0, {}, 0)
    snap.set_pod(pod("b", cpu="1", node_name="n"))
    assert snap.set_pod(pod("b", cpu="1", node_name="n", deleting=True))
    assert ni.pod_count == 0


def test_pending_pods_are_not_counted() -> None:
    snap = snapshot([node("n")])
    assert not snap.set_pod(pod("a"))
    assert snap.nodes["n"].pod_count == 0


def test_assume_reserves_then_forget_releases() -> None:
    snap = snapshot([node("n", gpus=2)])
    p = info(pod("a", gpus=1))
    snap.assume(p, "n", ["GPU-n-1"])
    ni = snap.nodes["n"]
    assert ni.gpus_in_use == {"GPU-n-1": "default/a"} and ni.req_gpus == 1
    assert snap.forget("default/a")
    assert ni.gpus_in_use == {} and ni.req_gpus == 0 and ni.pod_count == 0


def test_watch_confirms_an_assumption_and_a_late_forget_is_a_no_op() -> None:
    snap = snapshot([node("n", gpus=2)])
    snap.assume(info(pod("a", gpus=1)), "n", ["GPU-n-1"])
    # An unbound update (e.g. our own status patch) does not drop the assumption.
    snap.set_pod(pod("a", gpus=1))
    assert snap.nodes["n"].req_gpus == 1
    snap.set_pod(pod("a", gpus=1, node_name="n", gpu_uuids="GPU-n-1"))
    assert "default/a" not in snap.assumed
    assert not snap.forget("default/a")
    assert snap.nodes["n"].gpus_in_use == {"GPU-n-1": "default/a"}
    assert snap.nodes["n"].pod_count == 1


def test_bound_elsewhere_replaces_the_assumption() -> None:
    snap = snapshot([node("n1", gpus=1), node("n2", gpus=1)])
    snap.assume(info(pod("a", gpus=1)), "n1", ["GPU-n1-0"])
    snap.set_pod(pod("a", gpus=1, node_name="n2", gpu_uuids="GPU-n2-0"))  # another scheduler won
    assert snap.nodes["n1"].pod_count == 0 and snap.nodes["n1"].gpus_in_use == {}
    assert snap.nodes["n2"].gpus_in_use == {"GPU-n2-0": "default/a"}


def test_pod_seen_before_its_node_is_counted_when_the_node_arrives() -> None:
    snap = snapshot([])
    snap.set_pod(pod("a", cpu="2", node_name="late"))
    snap.add_node(node("late"))
    assert snap.nodes["late"].req_cpu == 2000
    assert snap.delete_pod(pod("a", node_name="late"))
    assert snap.nodes["late"].req_cpu == 0


def test_static_generation_changes_only_for_relevant_node_changes() -> None:
    n = node("n")
    snap = snapshot([n])
    gen = snap.static_generation
    same = node("n")
    same["status"]["conditions"][0]["lastHeartbeatTime"] = "2024-01-01T00:00:10Z"
    assert not snap.update_node(same)
    assert snap.static_generation == gen
    assert snap.update_node(node("n", taints=[{"key": "k", "effect": "NoSchedule"}]))
    assert snap.static_generation > gen


def test_a_deleting_pod_keeps_its_gpus_until_gone_or_finished() -> None:
    snap = snapshot([node("n", gpus=2)])
    snap.set_pod(pod("a", cpu="1", gpus=1, node_name="n", gpu_uuids="GPU-n-0"))
    ni = snap.nodes["n"]
    assert snap.set_pod(
        pod("a", cpu="1", gpus=1, node_name="n", gpu_uuids="GPU-n-0", deleting=True)
    )
    # cpu and the pod slot are free at once; the device is not (the apiserver agrees).
    assert (ni.req_cpu, ni.pod_count, ni.req_gpus) == (0, 0, 1)
    assert ni.gpus_in_use == {"GPU-n-0": "default/a"}
    assert ni.free_gpu_count() == 1
    # Finishing releases it; so would the DELETED event.
    assert snap.set_pod(
        pod("a", gpus=1, node_name="n", gpu_uuids="GPU-n-0", deleting=True, phase="Failed")
    )
    assert ni.gpus_in_use == {} and ni.req_gpus == 0
