"""NodeResourcesFit and the pod request arithmetic it relies on."""

from __future__ import annotations

from scheduler.plugins.resources_fit import NodeResourcesFit
from scheduler.podinfo import pod_requests
from tests.unit.sched_world import info, node, node_info, pod


def test_requests_sum_containers_take_max_with_init_and_add_overhead() -> None:
    p = pod("p", cpu="500m", memory="1Gi")
    p["spec"]["containers"].append(
        {"name": "side", "resources": {"limits": {"cpu": "250m", "memory": "256Mi"}}}
    )
    p["spec"]["initContainers"] = [{"name": "init", "resources": {"requests": {"cpu": "2"}}}]
    p["spec"]["overhead"] = {"cpu": "10m"}
    req = pod_requests(p)
    assert req.cpu == 2010  # max(500+250, 2000) + 10
    assert req.memory == (1 << 30) + (256 << 20)


def test_fits_within_allocatable_minus_bound_requests() -> None:
    plugin = NodeResourcesFit()
    n = node_info(
        node("n", cpu="1", memory="2Gi"), pod("a", cpu="600m", memory="1Gi", node_name="n")
    )
    assert plugin.filter(info(pod("fits", cpu="400m", memory="1Gi")), n) is None
    rej = plugin.filter(info(pod("big", cpu="500m", memory="1500Mi")), n)
    assert rej is not None
    assert rej.reasons == ("Insufficient cpu", "Insufficient memory")
    assert "400m of 1000m free" in rej.detail


def test_pod_count_limit() -> None:
    n = node_info(node("n", pods=1), pod("a", node_name="n"))
    rej = NodeResourcesFit().filter(info(pod("b")), n)
    assert rej is not None and rej.reasons == ("Too many pods",)


def test_pods_without_requests_fit_anywhere_with_room_for_pods() -> None:
    full = node_info(node("n", cpu="100m"), pod("a", cpu="100m", node_name="n"))
    assert NodeResourcesFit().filter(info(pod("empty", cpu=None, memory=None)), full) is None


def test_extended_resources_must_be_allocatable() -> None:
    plugin = NodeResourcesFit()
    p = info(pod("p", extra={"example.com/fpga": "1"}))
    rej = plugin.filter(p, node_info(node("plain")))
    assert rej is not None and rej.reasons == ("Insufficient example.com/fpga",)
    assert plugin.filter(p, node_info(node("fpga", extra={"example.com/fpga": "2"}))) is None


def test_least_allocated_prefers_the_emptier_node() -> None:
    plugin = NodeResourcesFit()
    busy = node_info(node("busy"), pod("a", cpu="3", memory="16Gi", node_name="busy"))
    idle = node_info(node("idle"))
    p = info(pod("p"))
    assert plugin.score(p, idle) > plugin.score(p, busy)
    assert 0 <= plugin.score(p, busy) <= 100
