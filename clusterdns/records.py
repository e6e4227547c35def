"""The resource records of one Service, as the Kubernetes DNS specification lists them.

Pure: a Service object and its Endpoints object (both as the API sends them) in, dnslib
records out. Schema 1.1.0 (kubernetes/dns docs/specification.md):

- ClusterIP Service: ``svc.ns.svc.ZONE A clusterIP``, ``_port._proto.svc.ns.svc.ZONE SRV``
  per named port (target the Service name), ``PTR`` of the ClusterIP.
- Headless Service (``clusterIP: None``): ``svc.ns.svc.ZONE A`` per ready endpoint,
  ``host.svc.ns.svc.ZONE A`` per ready endpoint (its ``hostname``, else the dashed IP as
  CoreDNS names it), one SRV per ready endpoint and named port (target that host name),
  ``PTR`` of each ready endpoint IP to its host name.
- ExternalName Service: ``svc.ns.svc.ZONE CNAME externalName``.

Only ready endpoints count (``addresses``; ``publishNotReadyAddresses`` puts the others
there too, in the endpoints controller). IPv4 only: an IPv6 address is left out (AAAA
answers are then empty), as the cluster has no IPv6 ranges.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from dnslib import CNAME, PTR, QTYPE, RR, SRV, A

Obj = dict[str, Any]


@dataclass(frozen=True)
class EndpointPort:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class Endpoint:
    """One ready address of a Service and the ports it serves."""

    ip: str
    hostname: str
    ports: tuple[EndpointPort, ...]


def ipv4(text: Any) -> str | None:
    """``text`` when it is an IPv4 address, else None."""
    try:
        return str(ipaddress.IPv4Address(str(text)))
    except ValueError:
        return None


def reverse_name(ip: str) -> str:
    """``d.c.b.a.in-addr.arpa.`` of an IPv4 address."""
    return ipaddress.IPv4Address(ip).reverse_pointer + "."


def dashed(ip: str) -> str:
    """The label CoreDNS gives an endpoint without a hostname: ``10-42-0-5``."""
    return ip.replace(".", "-")


def ready_endpoints(endpoints: Obj | None) -> list[Endpoint]:
    """The ready IPv4 addresses of an Endpoints object, each with its subset's ports."""
    out: list[Endpoint] = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = tuple(
            EndpointPort(str(p.get("name") or ""), int(p["port"]), str(p.get("protocol") or "TCP"))
            for p in subset.get("ports") or []
            if isinstance(p.get("port"), int)
        )
        for addr in subset.get("addresses") or []:
            ip = ipv4(addr.get("ip"))
            if ip is not None:
                out.append(Endpoint(ip, str(addr.get("hostname") or ""), ports))
    return out


def service_name(svc: Obj, zone: str) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('name')}.{meta.get('namespace') or 'default'}.svc.{zone.strip('.')}."


def srv_name(port_name: str, protocol: str, name: str) -> str:
    return f"_{port_name}._{protocol.lower()}.{name}"


def is_headless(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def service_records(svc: Obj, endpoints: Obj | None, zone: str, ttl: int) -> list[RR]:
    """Every record of ``svc`` (with its Endpoints, for a headless Service); names end
    with a dot and are lower case, as the zone indexes them."""
    spec = svc.get("spec") or {}
    name = service_name(svc, zone).lower()
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").rstrip(".")
        return [RR(name, QTYPE.CNAME, rdata=CNAME(target + "."), ttl=ttl)] if target else []
    if is_headless(svc):
        return _headless_records(name, ready_endpoints(endpoints), ttl)
    ip = ipv4(spec.get("clusterIP"))
    if ip is None:
        return []  # not yet allocated (or IPv6): no records until it has one
    out = [
        RR(name, QTYPE.A, rdata=A(ip), ttl=ttl),
        RR(reverse_name(ip), QTYPE.PTR, rdata=PTR(name), ttl=ttl),
    ]
    for p in spec.get("ports") or []:
        if p.get("name") and isinstance(p.get("port"), int):
            proto = str(p.get("protocol") or "TCP")
            out.append(
                RR(
                    srv_name(str(p["name"]).lower(), proto, name),
                    QTYPE.SRV,
                    rdata=SRV(priority=0, weight=100, port=int(p["port"]), target=name),
                    ttl=ttl,
                )
            )
    return out


def _headless_records(name: str, endpoints: list[Endpoint], ttl: int) -> list[RR]:
    out: list[RR] = []
    seen_ips: set[str] = set()
    # Each ready endpoint's share of the SRV weight, as CoreDNS splits 100 among them.
    weight = max(1, 100 // max(1, len(endpoints)))
    for ep in endpoints:
        host = f"{(ep.hostname or dashed(ep.ip)).lower()}.{name}"
        if ep.ip not in seen_ips:  # one address in two subsets (port sets) is one A record
            seen_ips.add(ep.ip)
            out.append(RR(name, QTYPE.A, rdata=A(ep.ip), ttl=ttl))
        out.append(RR(host, QTYPE.A, rdata=A(ep.ip), ttl=ttl))
        out.append(RR(reverse_name(ep.ip), QTYPE.PTR, rdata=PTR(host), ttl=ttl))
        for p in ep.ports:
            if p.name:
                out.append(
                    RR(
                        srv_name(p.name.lower(), p.protocol, name),
                        QTYPE.SRV,
                        rdata=SRV(priority=0, weight=weight, port=p.port, target=host),
                        ttl=ttl,
                    )
                )
    return _unique(out)


def _unique(rrs: list[RR]) -> list[RR]:
    """Drop exact duplicates (an address listed in two subsets with the same ports)."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for rr in rrs:
        key = (str(rr.rname), rr.rtype, str(rr.rdata))
        if key not in seen:
            seen.add(key)
            out.append(rr)
    return out
