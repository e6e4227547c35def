"""Endpoints controller: one Endpoints object per Service with a selector.

An endpoint is ``node address : published port``: the kubelet publishes each container port
on its node and records the host port in the pod annotation ``kubelab.io/host-ports``
(``{"<container>/<containerPort>": hostPort}``). ``desired_endpoints`` is pure.
"""

from __future__ import annotations

import json
from typing import Any

from . import actions as A
from .objutil import (
    Obj,
    is_deleting,
    labels_of,
    map_selector_matches,
    meta,
    name_of,
    namespace_of,
    uid_of,
)
from .podendpoint import PodEndpoint
from .podutil import is_ready, node_name

HOST_PORTS = "kubelab.io/host-ports"


def _host_ports(pod: Obj) -> dict[str, int]:
    raw = (meta(pod).get("annotations") or {}).get(HOST_PORTS)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {
        str(k): int(v) for k, v in data.items() if isinstance(v, int | str) and str(v).isdigit()
    }


def resolve_port(pod: Obj, target: int | str) -> int | None:
    """The port reachable on the node for a Service targetPort (number or name)."""
    published = _host_ports(pod)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            cport = p.get("containerPort")
            if (isinstance(target, str) and p.get("name") == target) or cport == target:
                key = f"{c.get('name')}/{cport}"
                if key in published:
                    return published[key]
                # A pod with its own address listens there on the container port.
                return int(cport if has_own_address(pod) else (p.get("hostPort") or cport))
    if isinstance(target, str):
        if target.isdigit():
            return resolve_port(pod, int(target))
        return None  # a named port this pod does not declare
    return target


def pod_address(pod: Obj, node_addresses: dict[str, str]) -> str:
    """The pod's address, ``status.podIP``: its own on the pod network, which every box
    reaches (its bridge or a host-gw route). A pod on the node's network (hostNetwork, or
    a node without a podCIDR) reports the node's address there, with its ports published
    on it (``resolve_port``). A pod whose kubelet has not reported yet has none.
    ``node_addresses`` is no longer needed; kept for the callers."""
    del node_addresses
    return str((pod.get("status") or {}).get("podIP") or "")


def has_own_address(pod: Obj) -> bool:
    """Whether the pod's address is its own (the pod network), not its node's."""
    st = pod.get("status") or {}
    return bool(st.get("podIP")) and st.get("podIP") != st.get("hostIP")


def node_address(node: Obj) -> str:
    """A node's InternalIP (else ExternalIP, else Hostname)."""
    addrs = {
        a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []
    }
    return str(addrs.get("InternalIP") or addrs.get("ExternalIP") or addrs.get("Hostname") or "")


def pod_endpoints(
    svc: Obj, pods: list[Obj], node_addresses: dict[str, str], include_terminating: bool
) -> list[PodEndpoint]:
    """The endpoints of ``svc`` among ``pods`` (pure). As Kubernetes' ShouldPodBeInEndpoints:
    a finished pod or one without an address is none; a terminating one only with
    ``include_terminating`` (the EndpointSlice always, the Endpoints with
    publishNotReadyAddresses)."""
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    out: list[PodEndpoint] = []
    for pod in pods:
        if not map_selector_matches(selector, labels_of(pod)):
            continue
        terminating = is_deleting(pod)
        if terminating and not include_terminating:
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        ip = pod_address(pod, node_addresses)
        if not ip:
            continue
        ports: list[tuple[str, int, str]] = []
        for sp in spec.get("ports") or []:
            target = sp.get("targetPort", sp.get("port"))
            port = resolve_port(pod, target)
            if port is not None:
                ports.append((str(sp.get("name") or ""), port, str(sp.get("protocol") or "TCP")))
        if not ports and spec.get("ports"):
            continue
        pspec = pod.get("spec") or {}
        hostname = ""
        if pspec.get("hostname") and pspec.get("subdomain") == name_of(svc):
            hostname = str(pspec["hostname"])
        serving = is_ready(pod)
        out.append(
            PodEndpoint(
                ip=ip,
                ports=tuple(ports),
                ready=publish_not_ready or (serving and not terminating),
                serving=serving,
                terminating=terminating,
                target_ref={
                    "kind": "Pod",
                    "namespace": namespace_of(pod),
                    "name": name_of(pod),
                    "uid": uid_of(pod),
                },
                node_name=node_name(pod),
                hostname=hostname,
            )
        )
    return out


def desired_endpoints(svc: Obj, pods: list[Obj], node_addresses: dict[str, str]) -> Obj:
    """The Endpoints object for ``svc``: ready and not-ready addresses grouped by port set."""
    publish_not_ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    subsets: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pe in pod_endpoints(svc, pods, node_addresses, include_terminating=publish_not_ready):
        addr: Obj = {"ip": pe.ip}
        if pe.hostname:
            addr["hostname"] = pe.hostname
        if pe.node_name:
            addr["nodeName"] = pe.node_name
        addr["targetRef"] = pe.target_ref
        bucket = subsets.setdefault(pe.ports, {"addresses": [], "notReadyAddresses": []})
        bucket["addresses" if pe.ready else "notReadyAddresses"].append(addr)

    out_subsets: list[Obj] = []
    for ports_key in sorted(subsets):
        b = subsets[ports_key]
        sub: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if b[field]:
                sub[field] = sorted(b[field], key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if not sub:
            continue
        sub["ports"] = [
            {**({"name": n} if n else {}), "port": p, "protocol": proto}
            for n, p, proto in ports_key
        ]
        out_subsets.append(sub)
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": name_of(svc),
            "namespace": namespace_of(svc),
            "labels": dict(labels_of(svc)),
        },
        "subsets": out_subsets,
    }


def reconcile(
    svc: Obj | None,
    existing: Obj | None,
    pods: list[Obj],
    node_addresses: dict[str, str],
    *,
    namespace: str,
    name: str,
) -> A.Result:
    """Create, update or delete the Endpoints named like the Service."""
    res = A.Result()
    if svc is None or is_deleting(svc) or not (svc.get("spec") or {}).get("selector"):
        # No selector: the user manages the Endpoints; no Service: ours go with it.
        if existing is not None and svc is None:
            res.actions.append(A.delete("endpoints", namespace, name))
        return res
    want = desired_endpoints(svc, pods, node_addresses)
    if existing is None:
        res.actions.append(A.create("endpoints", namespace, want))
    elif (existing.get("subsets") or []) != want["subsets"] or labels_of(existing) != labels_of(
        want
    ):
        body = dict(existing)
        body["metadata"] = {**meta(existing), "labels": want["metadata"]["labels"]}
        body["subsets"] = want["subsets"]
        res.actions.append(A.Action("replace", "endpoints", namespace, name, body=body))
    return res


# --- the shell ---------------------------------------------------------------------------

from api.endpointslices import SERVICE_NAME_LABEL  # noqa: E402

from .base import Controller, apply_all  # noqa: E402
from .endpointslices import managed_slices, reconcile_slices  # noqa: E402
from .objutil import key_of  # noqa: E402


class EndpointsController(Controller):
    """Keeps the Endpoints and EndpointSlices of every Service with a selector in step
    with its pods."""

    name = "endpoints"

    def setup(self) -> None:
        self.services = self.ctx.index("services")
        self.pods = self.ctx.index("pods")
        self.endpoints = self.ctx.index("endpoints")
        self.slices = self.ctx.index("endpointslices")
        self.nodes = self.ctx.index("nodes")
        self.services.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
            on_delete=lambda o: self.enqueue(key_of(o)),
        )
        # Endpoints changed by someone else: put ours back (only where a Service exists, so
        # hand-made Endpoints of selector-less or absent Services are left alone, and
        # mirrored into slices).
        self.endpoints.informer.add_handler(
            on_add=self._endpoints_changed,
            on_update=lambda o, n: self._endpoints_changed(n),
            on_delete=self._endpoints_changed,
        )
        # A managed slice changed or removed by someone else: put it back.
        self.slices.informer.add_handler(
            on_update=lambda o, n: self._slice_changed(n),
            on_delete=self._slice_changed,
        )
        self.pods.informer.add_handler(
            on_add=lambda p: self._pod_changed(p, None),
            on_update=lambda o, n: self._pod_changed(n, o),
            on_delete=lambda p: self._pod_changed(p, None),
        )

    def _endpoints_changed(self, ep: Obj) -> None:
        if self.services.get(key_of(ep)) is not None:
            self.enqueue(key_of(ep))

    def _slice_changed(self, es: Obj) -> None:
        service = labels_of(es).get(SERVICE_NAME_LABEL)
        if service and managed_slices([es], service):
            self.enqueue(f"{namespace_of(es)}/{service}")

    def _pod_changed(self, pod: Obj, old: Obj | None) -> None:
        label_sets = [labels_of(pod)] + ([labels_of(old)] if old is not None else [])
        for svc in self.services.in_namespace(namespace_of(pod)):
            sel = (svc.get("spec") or {}).get("selector")
            if any(map_selector_matches(sel, ls) for ls in label_sets):
                self.enqueue(key_of(svc))

    async def sync(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        svc = self.services.get(key)
        existing = self.endpoints.get(key)
        if existing is not None:
            existing = self.ctx.overlay.latest("endpoints", existing)
        nodes = {name_of(n): node_address(n) for n in self.nodes.informer.list()}
        pods = self.pods.in_namespace(ns)
        res = reconcile(svc, existing, pods, nodes, namespace=ns, name=name)
        slices = managed_slices(self.slices.in_namespace(ns), name)
        members = pod_endpoints(svc, pods, nodes, include_terminating=True) if svc else []
        res.actions += reconcile_slices(
            svc, slices, members, namespace=ns, name=name, hand_written=existing
        ).actions
        await apply_all(self.ctx, res.actions)
        return res.requeue_after
