"""The ``kubernetes`` Service in ``default``: how pods find the API (as Kubernetes'
bootstrap controller keeps it). ClusterIP ``.1`` of the service CIDR, port 443 named
https, and its Endpoints and EndpointSlice pointing at the apiserver's own address and
port. Written at every start through the object service (so the write path allocates and
checks the address like any other), changed only where it differs."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any

import orjson

from api.endpointslices import SERVICE_NAME_LABEL, SKIP_MIRROR_LABEL
from api.errors import ApiError
from api.registry import by_plural
from apiserver.objects import WriteOptions, store_key
from apiserver.service_ips_spec import wanted_cluster_ip

log = logging.getLogger("kubelab.apiserver")

Obj = dict[str, Any]
NAME = "kubernetes"
NAMESPACE = "default"
PORT_NAME = "https"
SERVICE_PORT = 443


def endpoint_address(listen: str, advertise: str = "") -> str:
    """The IPv4 address the ``kubernetes`` Endpoints carry: ``advertise``, else ``listen``,
    else (a wildcard listen) the address this box's default route leaves by, as
    kube-apiserver picks its advertise address (kubelab/netaddr.route_address does the
    same for the launcher, which this layer may not import). A UDP connect sends nothing."""
    host = advertise or ("" if listen in ("", "0.0.0.0", "::") else listen)
    if host:
        try:
            ipaddress.IPv4Address(host)
            return host
        except ValueError:
            try:
                return socket.gethostbyname(host)
            except OSError:
                return "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def kubernetes_service(cluster_ip: str, port: int) -> Obj:
    """The Service as Kubernetes' bootstrap controller writes it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "sessionAffinity": "None",
            "ports": [
                {"name": PORT_NAME, "port": SERVICE_PORT, "protocol": "TCP", "targetPort": port}
            ],
        },
    }


def kubernetes_endpoints(address: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SKIP_MIRROR_LABEL: "true"}},
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
            }
        ],
    }


def kubernetes_endpoint_slice(address: str, port: int) -> Obj:
    # No managed-by label: the endpoints controller leaves the apiserver's own slice alone.
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SERVICE_NAME_LABEL: NAME}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
    }


def _differs(current: Obj, want: Obj, fields: tuple[str, ...]) -> bool:
    return any(current.get(f) != want.get(f) for f in fields)


async def _ensure(
    objects: Any, plural: str, group: str, want: Obj, fields: tuple[str, ...]
) -> None:
    info = by_plural(group, plural)
    assert info is not None
    current = objects.store.get(store_key(info), NAMESPACE, NAME)
    try:
        if current is None:
            await objects.create(info, want, NAMESPACE, WriteOptions())
            return
        merged = {**current, **{f: want[f] for f in fields}}
        labels = {**(current["metadata"].get("labels") or {}), **want["metadata"]["labels"]}
        merged["metadata"] = {**current["metadata"], "labels": labels}
        if _differs(current, merged, (*fields, "metadata")):
            await objects.update(info, NAME, merged, NAMESPACE, WriteOptions())
    except ApiError as exc:
        if exc.code == 409:  # written meanwhile (another apiserver on the same store)
            return
        raise


async def ensure_kubernetes_service(objects: Any, cluster_ip: str, address: str, port: int) -> None:
    """Create or correct the ``kubernetes`` Service, Endpoints and EndpointSlice;
    ``objects`` is the server's ObjectService."""
    svc = kubernetes_service(cluster_ip, port)
    info = by_plural("", "services")
    assert info is not None
    current = objects.store.get(store_key(info), NAMESPACE, NAME)
    if current is not None:
        spec = dict(current.get("spec") or {})
        held = spec.get("clusterIP")
        if held and held != cluster_ip:
            log.warning(
                "the kubernetes Service holds %s, not %s (the first address of the service "
                "CIDR): the CIDR changed since it was made; delete it to have it recreated",
                held,
                cluster_ip,
            )
        spec["ports"] = svc["spec"]["ports"]
        spec["type"] = "ClusterIP"
        if held:
            spec["clusterIP"] = held
            spec["clusterIPs"] = spec.get("clusterIPs") or [held]
        svc = {**svc, "spec": spec}
    await _ensure(objects, "services", "", svc, ("spec",))
    await _ensure(objects, "endpoints", "", kubernetes_endpoints(address, port), ("subsets",))
    await _ensure(
        objects,
        "endpointslices",
        "discovery.k8s.io",
        kubernetes_endpoint_slice(address, port),
        ("addressType", "endpoints", "ports"),
    )


async def keep_kubernetes_service(
    objects: Any, cluster_ip: str, address: str, port: int, period: float = 10.0
) -> None:
    """Put the kubernetes Service, Endpoints and EndpointSlice back every ``period``
    seconds (Kubernetes' bootstrap controller does every 10 s): a ``kubectl delete svc
    --all`` in ``default`` must not leave pods without the API. Runs until cancelled."""
    while True:
        await asyncio.sleep(period)
        try:
            await ensure_kubernetes_service(objects, cluster_ip, address, port)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is stopping, a write raced: next round
            log.warning("keeping the kubernetes Service: %s", exc)


async def assign_missing_cluster_ips(objects: Any) -> int:
    """Give a ClusterIP to every stored Service that needs one and has none (a store from
    before ClusterIPs were allocated): each is rewritten as it is, which allocates in the
    write path like any update. Returns how many were given one."""
    info = by_plural("", "services")
    assert info is not None
    _, raws = objects.store.list_raw(store_key(info))
    done = 0
    for raw in raws:
        svc = orjson.loads(raw)
        spec = svc.get("spec") or {}
        if not isinstance(spec, dict) or wanted_cluster_ip(spec) != "":
            continue
        meta = svc["metadata"]
        try:
            await objects.update(info, meta["name"], svc, meta["namespace"], WriteOptions())
            done += 1
        except ApiError as exc:
            log.warning(
                "Service %s/%s has no ClusterIP and cannot get one: %s",
                meta["namespace"],
                meta["name"],
                exc,
            )
    if done:
        log.info("gave %d Services from before the service CIDR their ClusterIP", done)
    return done


def unreachable_from_pods(address: str) -> str | None:
    """Why pods cannot reach the API at ``address`` through the kubernetes Service, or
    None: a loopback address is the pod's own (the node's DNAT cannot send a pod's packet
    to the host's loopback)."""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        return None
    if not loopback:
        return None
    return (
        f"the kubernetes Service points at {address}, this box's loopback: pods cannot reach "
        "the API through it (in-cluster clients fail); listen on an address pods can reach "
        "(--listen 0.0.0.0 on kubelab up or kubelab apiserver, or the apiserver's "
        "--advertise-address with this box's address)"
    )
