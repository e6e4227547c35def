"""Pod routes (kubelet/routes.py): the pure choice of routes from the nodes, and the host-gw
backend programming them, checked inside a network namespace this test makes (a veth pair
and nothing else: no route there can send a packet off this machine), removed after."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kubelet.podnet_routes import forward_rules
from kubelet.routes import UNREACHABLE, HostGwBackend, Route, desired_routes

SAFETY = ["10.42.0.0/16", "10.43.0.0/16"]


def node(name: str, cidr: str | None, ip: str | None) -> dict[str, Any]:
    n: dict[str, Any] = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if cidr:
        n["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    if ip:
        n["status"]["addresses"] = [
            {"type": "Hostname", "address": name},
            {"type": "InternalIP", "address": ip},
        ]
    return n


def routes(
    nodes: list[dict[str, Any]], local: frozenset[str] = frozenset(), me_ip: str = "192.0.2.10"
) -> list[Route]:  # type: ignore[assignment]
    return desired_routes(
        node="me",
        nodes=nodes,
        safety_cidrs=SAFETY,
        local_subnets=local,
        local_addresses={me_ip, "127.0.0.1"},
    )


def test_safety_routes_alone_without_peers() -> None:
    assert routes([node("me", "10.42.0.0/24", "192.0.2.10")]) == [
        Route("10.42.0.0/16", kind=UNREACHABLE),
        Route("10.43.0.0/16", kind=UNREACHABLE),
    ]


def test_each_peer_subnet_via_its_internal_ip() -> None:
    got = routes(
        [
            node("me", "10.42.0.0/24", "192.0.2.10"),
            node("b", "10.42.1.0/24", "192.0.2.11"),
            node("c", "10.42.2.0/24", "192.0.2.12"),
        ]
    )
    peers = [r for r in got if r.kind != UNREACHABLE]
    assert peers == [Route("10.42.1.0/24", "192.0.2.11"), Route("10.42.2.0/24", "192.0.2.12")]


def test_peers_that_need_no_route_get_none() -> None:
    got = routes(
        [
            node("me", "10.42.0.0/24", "192.0.2.10"),
            # A second kubelet on this box: its bridge's own route reaches it.
            node("twin", "10.42.1.0/24", "192.0.2.10"),
            node("bridged", "10.42.2.0/24", "192.0.2.20"),
            node("loop", "10.42.3.0/24", "127.0.0.1"),
            node("nocidr", None, "192.0.2.13"),
            node("noaddr", "10.42.4.0/24", None),
            node("bad", "garbage", "192.0.2.14"),
        ],
        local=frozenset({"10.42.2.0/24"}),
    )
    assert [r for r in got if r.kind != UNREACHABLE] == []


def test_forward_rules_accept_the_nodes_subnet_and_masquerade_only_leaving_the_range() -> None:
    rules = forward_rules("10.42.1.0/24", "10.42.0.0/16", "kubelab c1 n")
    accept, back, masq = rules
    assert accept[:6] == ["filter", "DOCKER-USER", "-s", "10.42.0.0/16", "-d", "10.42.1.0/24"]
    assert back[:6] == ["filter", "DOCKER-USER", "-s", "10.42.1.0/24", "-d", "10.42.0.0/16"]
    assert accept[-2:] == back[-2:] == ["-j", "ACCEPT"]
    # Pod to pod keeps the pod's address; pod to anything else goes out as the node.
    assert masq[:7] == ["nat", "POSTROUTING", "-s", "10.42.1.0/24", "!", "-d", "10.42.0.0/16"]
    assert masq[-2:] == ["-j", "MASQUERADE"]
    assert all("kubelab c1 n" in r for r in rules)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    from pyroute2 import NetNS, netns

    name = f"kltest-{uuid.uuid4().hex[:8]}"
    netns.create(name)
    try:
        with NetNS(name) as ns:
            ns.link("add", ifname="v0", kind="veth", peer="v1")
            for ifname in ("v0", "v1"):
                ns.link("set", index=ns.link_lookup(ifname=ifname)[0], state="up")
            ns.addr("add", index=ns.link_lookup(ifname="v0")[0], address="10.99.0.1", prefixlen=24)
        yield name
    finally:
        netns.remove(name)


def test_host_gw_backend_programs_exactly_the_desired_routes(netns: str) -> None:
    backend = HostGwBackend(SAFETY, netns=netns)
    peer = Route("10.42.1.0/24", "10.99.0.2")
    other = Route("10.42.2.0/24", "10.99.0.3")
    safety = [Route(c, kind=UNREACHABLE) for c in SAFETY]
    asyncio.run(backend.apply([*safety, peer, other]))
    assert backend.current() == {*safety, peer, other}
    # Idempotent, and a peer that left loses its route.
    asyncio.run(backend.apply([*safety, peer]))
    asyncio.run(backend.apply([*safety, peer]))
    assert backend.current() == {*safety, peer}
    # Routes outside the cluster's ranges are another's: never listed or touched.
    from pyroute2 import NetNS

    from kubelet.routes import ROUTE_PROTO

    with NetNS(netns) as ns:
        ns.route("replace", dst="10.50.0.0/16", type="unreachable", proto=ROUTE_PROTO)
    asyncio.run(backend.apply(safety))
    assert backend.current() == set(safety)
    asyncio.run(backend.cleanup(keep=safety[:1]))
    assert backend.current() == {safety[0]}
    asyncio.run(backend.cleanup())
    assert backend.current() == set()
    assert HostGwBackend(["10.50.0.0/16"], netns=netns).current() == {
        Route("10.50.0.0/16", kind=UNREACHABLE)
    }


def test_without_root_the_pod_routes_say_so_once_and_stay_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import kubelet.podnet_routes as pr

    applied: list[list[Route]] = []

    class Backend:
        name = "record"

        async def apply(self, routes: list[Route]) -> None:
            applied.append(routes)

        async def cleanup(self, keep: object = ()) -> None:
            applied.append([])

    monkeypatch.setattr(pr.os, "geteuid", lambda: 1000)
    routes = pr.PodRoutes(
        client=None,  # type: ignore[arg-type]
        node="n",
        cluster_uid="c1",
        cluster_cidr=SAFETY[0],
        service_cidr=SAFETY[1],
        backend=Backend(),
    )
    with caplog.at_level("WARNING"):
        asyncio.run(routes.start())
        asyncio.run(routes.stop())
    assert routes.disabled == "the kubelet is not root"
    assert applied == []  # nothing programmed, nothing removed
    lines = [r.getMessage() for r in caplog.records if "pod routes are off" in r.getMessage()]
    assert len(lines) == 1 and "not root" in lines[0]
