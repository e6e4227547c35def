"""Pods reach the API of ``kubelab up`` through the node's pod bridge.

``kubelab up`` listens on 127.0.0.1 so as not to offer the API to the LAN unasked; but a
pod's packet for the ``kubernetes`` Service (10.43.0.1:443) is DNATed to the Service's
Endpoints, and the host's loopback is no address a pod can be DNATed to. With
``--pod-bridge-node NODE`` the apiserver also listens on NODE's pod-bridge address (the
first of its podCIDR: reachable from the node's pods, and over host-gw routes from peer
nodes' pods, not routed from the LAN), the same address cluster DNS serves on
(api/pod_gateway.py), and points the kubernetes Endpoints at it. The socket is bound with
IP_FREEBIND since the kubelet makes the bridge after the apiserver starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from api.pod_gateway import gateway_of, node_pod_cidr

log = logging.getLogger("kubelab.apiserver")

POLL_SECONDS = 1.0
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)


async def wait_gateway(store: Any, node: str, poll: float = POLL_SECONDS) -> str:
    """NODE's pod-bridge address, once the stored Node has a podCIDR (read from the store:
    this is the apiserver itself)."""
    said = False
    while True:
        obj = store.get("/nodes", "", node)
        cidr = node_pod_cidr(obj) if obj is not None else ""
        if cidr:
            return gateway_of(cidr)
        if not said:
            log.info("waiting for Node %s's podCIDR: pods reach the API there", node)
            said = True
        await asyncio.sleep(poll)


def freebind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, bindable before the address exists."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    s.bind((host, port))
    s.listen(4096)
    s.setblocking(False)
    return s


class _ExtraServer(uvicorn.Server):
    """A second listener of the same app: the main server owns signals and lifespan."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PodBridgeListener:
    """Serves the app on a node's pod-bridge address once it is known."""

    def __init__(self, make_config: Callable[[str], uvicorn.Config], node: str, port: int):
        self.make_config = make_config
        self.node = node
        self.port = port
        self.server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, store: Any) -> str:
        """Wait for the address, start serving there; returns the address."""
        gateway = await wait_gateway(store, self.node)
        sock = freebind_socket(gateway, self.port)
        self.server = _ExtraServer(self.make_config(gateway))
        self._task = asyncio.create_task(self.server.serve(sockets=[sock]))
        log.info(
            "pods reach the API at %s:%d (Node %s's pod bridge)", gateway, self.port, self.node
        )
        return gateway

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
