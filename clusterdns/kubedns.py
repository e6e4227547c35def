"""The ``kube-dns`` Service in ``kube-system``: how pods (and ``resolv.conf``'s
nameserver) find the DNS server, at the service CIDR's ``.10`` as on Kubernetes.

The server runs as a host process, not a pod, so the Service has no selector and its
Endpoints are written here: the address and port this server listens on. One server
per cluster publishes itself (``kubelab up``'s); the Endpoints are replaced, not merged,
so an address that changed leaves no dead endpoint behind.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.errors import ApiError
from client.aio import AsyncClient

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "kube-system"
NAME = "kube-dns"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"}


def desired_service(cluster_ip: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
        },
    }


def desired_endpoints(address: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [
                    {"name": "dns", "port": port, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": port, "protocol": "TCP"},
                ],
            }
        ],
    }


def endpoints_shape(ep: Obj | None) -> tuple[tuple[str, ...], tuple[tuple[str, int, str], ...]]:
    """The addresses and ports of an Endpoints object, to compare what is with what
    should be whatever defaults or order the server gave it."""
    ips: set[str] = set()
    ports: set[tuple[str, int, str]] = set()
    for sub in (ep or {}).get("subsets") or []:
        ips |= {str(a.get("ip")) for a in sub.get("addresses") or []}
        ports |= {
            (str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol") or "TCP"))
            for p in sub.get("ports") or []
        }
    return tuple(sorted(ips)), tuple(sorted(ports))


class Publisher:
    """Keeps the kube-dns Service and Endpoints in place, level-triggered: every change
    the informers see of either (a deletion, an edit) is checked against what should be,
    and a difference is written again (retried every few seconds while it fails)."""

    RETRY_SECONDS = 5.0

    def __init__(
        self,
        client: AsyncClient,
        cluster_ip: str,
        address: str,
        port: int,
        services: Any,
        endpoints: Any,
    ) -> None:
        self.client = client
        self.cluster_ip, self.address, self.port = cluster_ip, address, port
        self.services, self.endpoints = services, endpoints
        self._task: asyncio.Task[None] | None = None
        key = f"{NAMESPACE}/{NAME}"

        def changed(obj: Obj, *_: Obj) -> None:
            meta = (obj or {}).get("metadata") or {}
            if f"{meta.get('namespace')}/{meta.get('name')}" == key:
                self.kick()

        for inf in (services, endpoints):
            inf.add_handler(changed, lambda _old, new: changed(new), changed)

    def in_place(self) -> bool:
        key = f"{NAMESPACE}/{NAME}"
        want = endpoints_shape(desired_endpoints(self.address, self.port))
        return (
            self.services.get(key) is not None and endpoints_shape(self.endpoints.get(key)) == want
        )

    def kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._keep(), name="kube-dns-publisher")

    async def _keep(self) -> None:
        while True:
            await publish(self.client, self.cluster_ip, self.address, self.port)
            # The informers show our own write a moment later; until they do, or while
            # the API refuses, look again after a pause.
            await asyncio.sleep(self.RETRY_SECONDS)
            if self.in_place():
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def publish(client: AsyncClient, cluster_ip: str, address: str, port: int) -> None:
    """Create the kube-dns Service when missing and point its Endpoints at
    ``address:port``. A refusal is logged, never fatal: the server still answers."""
    try:
        svc = await client.get("services", NAME, NAMESPACE)
        have = (svc.get("spec") or {}).get("clusterIP")
        if have != cluster_ip:
            log.warning(
                "Service %s/%s has clusterIP %s, not %s; left as it is (delete it to have "
                "it made again)",
                NAMESPACE,
                NAME,
                have,
                cluster_ip,
            )
    except ApiError as e:
        if e.code != 404:
            log.error("cannot read Service %s/%s: %s", NAMESPACE, NAME, e)
            return
        try:
            await client.create("services", desired_service(cluster_ip), NAMESPACE)
            log.info("created Service %s/%s at %s", NAMESPACE, NAME, cluster_ip)
        except ApiError as e2:
            if e2.code != 409:
                log.error("cannot create Service %s/%s at %s: %s", NAMESPACE, NAME, cluster_ip, e2)
                return
    want = desired_endpoints(address, port)
    try:
        have_ep = await client.get("endpoints", NAME, NAMESPACE)
    except ApiError as e:
        if e.code != 404:
            log.error("cannot read Endpoints %s/%s: %s", NAMESPACE, NAME, e)
            return
        have_ep = None
    try:
        if have_ep is None:
            await client.create("endpoints", want, NAMESPACE)
        elif endpoints_shape(have_ep) != endpoints_shape(want):
            want["metadata"]["resourceVersion"] = have_ep["metadata"].get("resourceVersion")
            await client.replace("endpoints", NAME, want, NAMESPACE)
        else:
            return
        log.info("Endpoints %s/%s -> %s:%d", NAMESPACE, NAME, address, port)
    except ApiError as e:
        log.error("cannot write Endpoints %s/%s: %s", NAMESPACE, NAME, e)
