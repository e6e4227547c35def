"""The DNS server's answers without sockets: the zone built from Service and Endpoints
objects, queries and replies as bytes (dnslib packs, dnspython reads)."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype

from clusterdns.forward import Forwarder, parse_nameservers
from clusterdns.records import service_name, service_records
from clusterdns.resolver import Resolver
from clusterdns.zone import Zone


def _zone(*pairs: tuple[dict[str, Any], dict[str, Any] | None]) -> Zone:
    zone = Zone("cluster.local", 30)
    for svc, ep in pairs:
        key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
        zone.set_records(
            key, service_records(svc, ep, zone.domain, 30), exists=[service_name(svc, zone.domain)]
        )
    return zone


def _svc(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def _ask(resolver: Resolver, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=False)
    raw = asyncio.run(resolver.handle(q.to_wire(), tcp))
    assert raw is not None
    return dns.message.from_wire(raw)


NO_UPSTREAM = Forwarder([], timeout=0.1)


def test_cluster_names_are_servfail_until_the_cache_is_loaded() -> None:
    r = Resolver(_zone((_svc("web", clusterIP="10.43.0.20"), None)), NO_UPSTREAM)
    r.synced = False
    assert _ask(r, "web.ns.svc.cluster.local.", "A").rcode() == dns.rcode.SERVFAIL
    assert _ask(r, "nope.ns.svc.cluster.local.", "A").rcode() == dns.rcode.SERVFAIL
    r.synced = True
    assert _ask(r, "web.ns.svc.cluster.local.", "A").rcode() == dns.rcode.NOERROR
    assert _ask(r, "nope.ns.svc.cluster.local.", "A").rcode() == dns.rcode.NXDOMAIN


def test_no_upstream_answering_is_servfail() -> None:
    r = Resolver(_zone(), NO_UPSTREAM)
    msg = _ask(r, "example.org.", "A")
    assert msg.rcode() == dns.rcode.SERVFAIL
    assert not msg.flags & dns.flags.AA


def test_a_big_headless_answer_is_truncated_over_udp_and_whole_over_tcp() -> None:
    ep = {
        "subsets": [
            {"addresses": [{"ip": f"10.42.1.{i}"} for i in range(1, 101)], "ports": [{"port": 80}]}
        ]
    }
    r = Resolver(_zone((_svc("big", clusterIP="None"), ep)), NO_UPSTREAM)
    udp = _ask(r, "big.ns.svc.cluster.local.", "A")
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = _ask(r, "big.ns.svc.cluster.local.", "A", tcp=True)
    assert len(tcp.answer[0]) == 100


def test_other_opcodes_are_not_implemented() -> None:
    r = Resolver(_zone(), NO_UPSTREAM)
    q = dns.message.make_query("web.ns.svc.cluster.local.", "A")
    q.set_opcode(dns.opcode.NOTIFY)
    raw = asyncio.run(r.handle(q.to_wire()))
    assert raw is not None and dns.message.from_wire(raw).rcode() == dns.rcode.NOTIMP


def test_records_go_when_the_service_goes() -> None:
    zone = _zone((_svc("web", clusterIP="10.43.0.20"), None))
    r = Resolver(zone, NO_UPSTREAM)
    assert _ask(r, "20.0.43.10.in-addr.arpa.", "PTR").answer
    zone.drop("ns/web")
    assert _ask(r, "web.ns.svc.cluster.local.", "A").rcode() == dns.rcode.NXDOMAIN
    # Nothing left above it either: the namespace name is gone too.
    assert _ask(r, "ns.svc.cluster.local.", "A").rcode() == dns.rcode.NXDOMAIN
    # The reverse name is no longer the cluster's: it goes upstream (none here).
    assert _ask(r, "20.0.43.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.SERVFAIL


def test_resolv_conf_nameservers() -> None:
    text = "# x\nnameserver 10.0.0.2\nsearch a\nnameserver 10.0.0.3 ; y\noptions ndots:1\n"
    assert parse_nameservers(text) == ["10.0.0.2", "10.0.0.3"]


def test_a_headless_service_without_ready_endpoints_exists_but_has_no_address() -> None:
    not_ready = {"subsets": [{"notReadyAddresses": [{"ip": "10.42.0.9"}], "ports": [{"port": 1}]}]}
    r = Resolver(_zone((_svc("db", clusterIP="None"), not_ready)), NO_UPSTREAM)
    msg = _ask(r, "db.ns.svc.cluster.local.", "A")
    assert (msg.rcode(), msg.answer) == (dns.rcode.NOERROR, [])
    assert msg.authority[0].rdtype == dns.rdatatype.SOA


def test_edns_is_answered_with_edns() -> None:
    r = Resolver(_zone((_svc("web", clusterIP="10.43.0.20"), None)), NO_UPSTREAM)
    q = dns.message.make_query("web.ns.svc.cluster.local.", "A", use_edns=0, payload=4096)
    raw = asyncio.run(r.handle(q.to_wire()))
    assert raw is not None
    reply = dns.message.from_wire(raw)
    assert reply.edns == 0 and reply.payload == 1232
    assert _ask(r, "web.ns.svc.cluster.local.", "A").edns == -1  # none asked, none sent
