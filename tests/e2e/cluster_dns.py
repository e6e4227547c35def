"""Cluster DNS for a Docker e2e cluster: `kubelab dns` on a node's pod-bridge address,
published as kube-dns (10.43.0.10), with its upstream a dnslib server on 127.0.0.1 that
this helper starts (so no test query ever leaves the machine). The node's kubelet needs
``KUBELET_DNS_ARGS`` so its pods' resolv.conf names 10.43.0.10.

    cl.add_kubelet(node, *KUBELET_DNS_ARGS, runtime="docker", ...)
    with cluster_dns(cl, node) as dns:
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import RCODE
from dnslib.server import BaseResolver, DNSServer

from tests.cluster import Cluster
from tests.harness import Component, free_port
from tests.wait import wait_for

KUBE_DNS_IP = "10.43.0.10"
KUBELET_DNS_ARGS = ("--cluster-dns", KUBE_DNS_IP)


class NoUpstream(BaseResolver):  # type: ignore[misc]
    """The default upstream: every name outside the cluster is NXDOMAIN."""

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def cluster_dns(
    cl: Cluster, node: str, upstream: BaseResolver | None = None
) -> Iterator[Component]:
    """`kubelab dns --node NODE` serving until the block ends (it is also one of ``cl``'s
    components, so ``cl.logs()`` shows its log)."""
    forwarder = DNSServer(upstream or NoUpstream(), port=free_port(), address="127.0.0.1")
    forwarder.start_thread()
    dns: Component | None = None
    try:
        # A free port behind the Service's 53: the kernel DNAT goes to the Endpoints' port.
        dns = cl.api.component_proc(
            "dns",
            "--node",
            node,
            "--port",
            str(free_port()),
            "--upstream",
            f"127.0.0.1:{forwarder.server.server_address[1]}",
        ).start()
        cl.components[f"dns/{node}"] = dns

        def serving() -> bool:
            assert dns is not None
            dns.check_alive()
            return "serving" in dns.log()

        wait_for(serving, "the DNS server serving", 60, diagnostics=cl.logs)
        yield dns
    finally:
        if dns is not None:
            dns.stop()
        forwarder.stop()
