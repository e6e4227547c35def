"""Where pods reach the DNS server: its node's address on the pod bridge.

The server runs on the host, and a pod's packet for the kube-dns ClusterIP is DNATed to
the Endpoints address: that must be an address of the host a pod can reach, which the
host's loopback (``kubelab up``'s default node address) is not. The node's pod-bridge
gateway is: the first address of ``Node.spec.podCIDR`` (kubelet/podnet.py gives the
bridge that address), reachable from every pod of the node and, over the host-gw routes,
from the pods of the other nodes, yet not from the LAN, so the server is no open
resolver there. The socket is bound with IP_FREEBIND, since the kubelet may make the
bridge after this server starts.
"""

from __future__ import annotations

import asyncio
import logging

from api.errors import ApiError
from api.pod_gateway import gateway_of, node_pod_cidr
from client.aio import AsyncClient

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


async def wait_pod_gateway(client: AsyncClient, node: str, timeout: float) -> str | None:
    """The pod gateway of ``node`` once its Node has a podCIDR; None after ``timeout``
    seconds without one (no node IPAM controller, or the node never registered)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    said = False
    while True:
        try:
            cidr = node_pod_cidr(await client.get("nodes", node))
            if cidr:
                return gateway_of(cidr)
        except ApiError as e:
            if e.code != 404:
                log.warning("cannot read Node %s: %s", node, e)
        except Exception as e:  # the apiserver restarting: ask again
            log.info("cannot read Node %s yet: %s", node, e)
        if loop.time() >= deadline:
            return None
        if not said:
            log.info("waiting for Node %s and its podCIDR (the pod bridge's address)", node)
            said = True
        await asyncio.sleep(POLL_SECONDS)
