"""The ``kube-dns`` Service in ``kube-system``: how pods (and ``resolv.conf``'s
nameserver) find the DNS server, at the service CIDR's ``.10`` as on Kubernetes.

The server runs as a host process, not a pod, so the Service has no selector and its
Endpoints are written here: the address and port this server listens on. One server
per cluster publishes itself (``kubelab up``'s); the Endpoints are replaced, not merged,
so an address that changed leaves no dead endpoint behind.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from api.errors import ApiError
from client.aio import AsyncClient

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "kube-system"
NAME = "kube-dns"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"}
DEFAULT_SERVICE_CIDR = "10.43.0.0/16"


def kube_dns_ip(service_cidr: str = DEFAULT_SERVICE_CIDR) -> str:
    """The ClusterIP kept for cluster DNS: the range's tenth address (10.43.0.10)."""
    return str(ipaddress.ip_network(service_cidr, strict=False).network_address + 10)


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
        elif have_ep.get("subsets") != want["subsets"]:
            want["metadata"]["resourceVersion"] = have_ep["metadata"].get("resourceVersion")
            await client.replace("endpoints", NAME, want, NAMESPACE)
        log.info("Endpoints %s/%s -> %s:%d", NAMESPACE, NAME, address, port)
    except ApiError as e:
        log.error("cannot write Endpoints %s/%s: %s", NAMESPACE, NAME, e)
