"""The fake runtime on the pod network: pods get addresses from their node's podCIDR (so
Endpoints and `kl get pods -o wide` say what Docker would), and since those addresses
exist nowhere, the kubelet's unreachable routes keep a connection to one on this box
(checked with a route lookup: no packet is sent), removed when the kubelet stops."""

from __future__ import annotations

import errno
import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest

from kubelet.routes import ROUTE_PROTO
from tests.cluster import FAST_KUBELET_FLAGS, Cluster, pod_cidr_of
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)


def _lookup_error(ip: str) -> int:
    """The errno of the kernel's route lookup for ``ip`` (0: it has a route); a lookup
    only, no packet is sent."""
    from pyroute2 import IPRoute, NetlinkError

    with IPRoute() as ipr:
        try:
            ipr.route("get", dst=ip)
        except NetlinkError as e:
            return int(e.code)
    return 0


def _our_routes(cidr: str) -> set[str]:
    from pyroute2 import IPRoute

    net = ipaddress.ip_network(cidr)
    with IPRoute() as ipr:
        return {
            f"{r.get('dst')}/{r['dst_len']}"
            for r in ipr.get_routes(family=2, proto=ROUTE_PROTO)
            if ipaddress.ip_network(f"{r.get('dst')}/{r['dst_len']}").subnet_of(net)  # type: ignore[arg-type]
        }


def test_fake_pod_ips_from_the_node_subnet_and_unreachable(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers("--controllers", "nodeipam", "--no-leader-elect")
        cl.add_kubelet("fk-0", *FAST_KUBELET_FLAGS)
        cl.wait_nodes_ready("fk-0")
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"nodeName": "fk-0", "containers": [{"name": "c", "image": "img"}]},
        }
        cl.client.create("pods", body, "default")

        def ip() -> str | None:
            st = cl.client.get("pods", "p", "default").get("status") or {}
            return st.get("podIP") if st.get("phase") == "Running" else None

        pod_ip = str(wait_for(ip, "p Running with an IP", 30, diagnostics=cl.logs))
        cidr = cl.client.get("nodes", "fk-0")["spec"]["podCIDR"]
        assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(cidr)
        cluster = pod_cidr_of(cl.api)
        if os.geteuid() != 0:
            return  # no routes without root (the kubelet says so in its log)
        assert _our_routes(cluster) == {cluster}
        assert _lookup_error(pod_ip) == errno.EHOSTUNREACH
        cl.client.delete("pods", "p", "default", grace_period_seconds=0)
        cl.components["kubelet/fk-0"].stop()
        assert _our_routes(cluster) == set()
