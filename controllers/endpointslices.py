"""The EndpointSlices of a Service with a selector (discovery.k8s.io/v1), from the same
``pod_endpoints`` the Endpoints come from, as Kubernetes' EndpointSlice controller writes
them: one slice per set of resolved ports (one in the common case; an empty placeholder
when no pod matches), terminating pods kept with their conditions, labelled with the
Service's name and this controller as manager, owned by the Service (the garbage
collector removes them with it). Pure."""

from __future__ import annotations

import hashlib

from api.endpointslices import (
    HEADLESS_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MIRROR_MANAGED_BY,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
)

from . import actions as A
from .objutil import Obj, is_deleting, labels_of, meta, name_of, namespace_of, uid_of
from .podendpoint import PodEndpoint

RESOURCE = "endpointslices"

Ports = tuple[tuple[str, int, str], ...]


def slice_name(service: str, ports: Ports) -> str:
    """A stable name per port set (Kubernetes uses generateName; a stable one lets a
    level-triggered reconcile find its slice again without listing by label)."""
    digest = hashlib.sha256(repr(ports).encode()).hexdigest()[:5]
    return f"{service}-{digest}"


def _endpoint(pe: PodEndpoint) -> Obj:
    ep: Obj = {
        "addresses": [pe.ip],
        "conditions": {"ready": pe.ready, "serving": pe.serving, "terminating": pe.terminating},
        "targetRef": pe.target_ref,
    }
    if pe.node_name:
        ep["nodeName"] = pe.node_name
    if pe.hostname:
        ep["hostname"] = pe.hostname
    return ep


def _labels(svc: Obj) -> dict[str, str]:
    labels = dict(labels_of(svc))
    labels[SERVICE_NAME_LABEL] = name_of(svc)
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def desired_endpoint_slices(svc: Obj, endpoints: list[PodEndpoint]) -> list[Obj]:
    """The slices ``svc`` should have, sorted by name; ``endpoints`` are its pods as
    ``pod_endpoints(..., include_terminating=True)`` finds them."""
    groups: dict[Ports, list[PodEndpoint]] = {}
    for pe in endpoints:
        if ":" in pe.ip:
            continue  # an IPv6 pod address has no place in this IPv4 cluster's slices
        groups.setdefault(pe.ports, []).append(pe)
    if not groups:
        groups[()] = []  # Kubernetes' placeholder: the Service exists, nothing serves it
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": name_of(svc),
        "uid": uid_of(svc),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    out = []
    for ports, members in groups.items():
        members.sort(key=lambda pe: (pe.ip, pe.target_ref["name"]))
        body: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name(name_of(svc), ports),
                "namespace": namespace_of(svc),
                "labels": _labels(svc),
                "ownerReferences": [owner],
            },
            "addressType": "IPv4",
            "endpoints": [_endpoint(pe) for pe in members],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
        }
        out.append(body)
    return sorted(out, key=lambda o: str(o["metadata"]["name"]))


def mirrored_slices(svc: Obj, endpoints: Obj) -> list[Obj]:
    """The slices mirrored from the hand-written Endpoints of a Service without a
    selector (Kubernetes' EndpointSliceMirroring controller): one per port set, ready
    for ``addresses``, not ready for ``notReadyAddresses``, owned by the Endpoints."""
    groups: dict[Ports, list[Obj]] = {}
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        ports: Ports = tuple(
            (str(p.get("name") or ""), int(p["port"]), str(p.get("protocol") or "TCP"))
            for p in subset.get("ports") or []
            if isinstance(p, dict) and isinstance(p.get("port"), int)
        )
        members = groups.setdefault(ports, [])
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for addr in subset.get(field) or []:
                ip = str((addr or {}).get("ip") or "")
                if not ip or ":" in ip:
                    continue  # this cluster's slices hold IPv4 addresses
                ep: Obj = {"addresses": [ip], "conditions": {"ready": ready}}
                for key in ("hostname", "nodeName", "targetRef"):
                    if addr.get(key):
                        ep[key] = addr[key]
                members.append(ep)
    labels = {**labels_of(endpoints), SERVICE_NAME_LABEL: name_of(svc)}
    labels[MANAGED_BY_LABEL] = MIRROR_MANAGED_BY
    owner = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "name": name_of(endpoints),
        "uid": uid_of(endpoints),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    out = []
    for ports, members in groups.items():
        if not members:
            continue
        members.sort(key=lambda e: e["addresses"][0])
        out.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": slice_name(name_of(svc), (("mirror", 0, ""), *ports)),
                    "namespace": namespace_of(svc),
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "addressType": "IPv4",
                "endpoints": members,
                "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
            }
        )
    return sorted(out, key=lambda o: str(o["metadata"]["name"]))


def managed_slices(slices: list[Obj], service: str) -> list[Obj]:
    """The slices this controller keeps for ``service``, made from its pods or mirrored
    from its Endpoints (others', such as the apiserver's own for ``kubernetes``, or a
    user's, are left alone)."""
    return [
        s
        for s in slices
        if labels_of(s).get(SERVICE_NAME_LABEL) == service
        and labels_of(s).get(MANAGED_BY_LABEL) in (MANAGED_BY, MIRROR_MANAGED_BY)
    ]


def reconcile_slices(
    svc: Obj | None,
    existing: list[Obj],
    endpoints: list[PodEndpoint],
    *,
    namespace: str,
    name: str,
    hand_written: Obj | None = None,
) -> A.Result:
    """Create, replace or delete the Service's managed slices (``existing``: those
    ``managed_slices`` picked): from its pods with a selector, mirrored from its
    ``hand_written`` Endpoints without one (unless they say skip-mirror); without a
    Service they go."""
    res = A.Result()
    wanted: list[Obj] = []
    if svc is not None and not is_deleting(svc):
        if (svc.get("spec") or {}).get("selector"):
            wanted = desired_endpoint_slices(svc, endpoints)
        elif hand_written is not None and not labels_of(hand_written).get(SKIP_MIRROR_LABEL):
            wanted = mirrored_slices(svc, hand_written)
    want = {name_of(s): s for s in wanted}
    have = {name_of(s): s for s in existing}
    for sname, body in want.items():
        cur = have.get(sname)
        if cur is None:
            res.actions.append(A.create(RESOURCE, namespace, body))
            continue
        cur_meta = meta(cur)
        if (
            cur.get("endpoints") or [],
            cur.get("ports") or [],
            labels_of(cur),
            cur_meta.get("ownerReferences"),
        ) == (
            body["endpoints"],
            body["ports"],
            body["metadata"]["labels"],
            body["metadata"]["ownerReferences"],
        ):
            continue
        new = dict(cur)
        new["metadata"] = {
            **cur_meta,
            "labels": body["metadata"]["labels"],
            "ownerReferences": body["metadata"]["ownerReferences"],
        }
        new["endpoints"] = body["endpoints"]
        new["ports"] = body["ports"]
        res.actions.append(A.Action("replace", RESOURCE, namespace, sname, body=new))
    for sname in sorted(set(have) - set(want)):
        res.actions.append(A.delete(RESOURCE, namespace, sname))
    return res
