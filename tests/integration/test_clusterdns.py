"""`kubelab dns` against a real apiserver, queried with dnspython (a second, independent
DNS implementation), record by record against the Kubernetes DNS specification's table:
A, headless A and host names, SRV, PTR, pod names, NXDOMAIN with the SOA, empty NOERROR
(AAAA of IPv4 names, empty non-terminals, a headless Service without ready endpoints),
ExternalName CNAME, the schema TXT, UDP and TCP. Names outside the cluster go to a tiny
dnslib upstream this test runs on 127.0.0.1, which must never be asked a cluster name.
The server runs with its own identity (system:kube-dns), so RBAC is exercised too, and
publishes the kube-dns Service."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSServer

from tests.harness import ApiServer, Component, free_port
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)

ZONE = "cluster.local."
UPSTREAM_ADDRESS = "192.0.2.7"  # TEST-NET-1: only data in an answer, never contacted


class Upstream(BaseResolver):  # type: ignore[misc]
    """The node's resolver, as far as the DNS server knows: answers ``outside.example``
    and says NXDOMAIN to the rest, remembering every name it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).lower()
        with self.lock:
            self.asked.append(name)
        reply = request.reply()
        if name == "outside.example." and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(name, QTYPE.A, rdata=A(UPSTREAM_ADDRESS), ttl=60))
        elif name != "outside.example.":
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Upstream, int]]:
    resolver = Upstream()
    port = free_port()
    udp = DNSServer(resolver, port=port, address="127.0.0.1")
    tcp = DNSServer(resolver, port=port, address="127.0.0.1", tcp=True)
    udp.start_thread()
    tcp.start_thread()
    try:
        yield resolver, port
    finally:
        udp.stop()
        tcp.stop()


@pytest.fixture(scope="module")
def ns(shared_apiserver: ApiServer) -> str:
    name = "dns-" + uuid.uuid4().hex[:6]
    c = shared_apiserver.client()
    c.create("namespaces", {"metadata": {"name": name}})
    c.create(
        "services",
        {
            "metadata": {"name": "web"},
            "spec": {
                "clusterIP": "10.43.5.5",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                ],
            },
        },
        name,
    )
    c.create(
        "services",
        {
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]},
        },
        name,
    )
    # Selector-less: these Endpoints are the test's own (no controller runs here).
    c.create(
        "endpoints",
        {
            "metadata": {"name": "db"},
            "subsets": [
                {
                    "addresses": [{"ip": "10.42.0.5", "hostname": "db-0"}, {"ip": "10.42.0.6"}],
                    "notReadyAddresses": [{"ip": "10.42.0.7", "hostname": "db-2"}],
                    "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
                }
            ],
        },
        name,
    )
    c.create(
        "services",
        {"metadata": {"name": "empty"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
        name,
    )
    c.create(
        "services",
        {
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "outside.example"},
        },
        name,
    )
    return name


@pytest.fixture(scope="module")
def dns_port(shared_apiserver: ApiServer, ns: str, upstream: tuple[Upstream, int]) -> Iterator[int]:
    port = free_port()
    home = shared_apiserver.home
    comp = Component(
        [
            "dns",
            "--kubeconfig",
            str(home / "dns.kubeconfig"),
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--upstream",
            f"127.0.0.1:{upstream[1]}",
            "--forward-timeout",
            "1",
        ],
        home,
        home / "logs" / f"dns-{port}.log",
    ).start()
    try:
        wait_for(
            lambda: comp.check_alive() or "serving cluster.local" in comp.log(),
            "the DNS server serving",
            30,
            diagnostics=comp.tail,
        )
        yield port
    finally:
        comp.stop()


def ask(port: int, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=5)


def answers(msg: dns.message.Message) -> list[tuple[str, str, str]]:
    """(name, type, data) of every answer record, sorted."""
    return sorted(
        (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text().lower())
        for rrset in msg.answer
        for rd in rrset
    )


def soa_authority(msg: dns.message.Message) -> str:
    [rrset] = msg.authority
    assert rrset.rdtype == dns.rdatatype.SOA
    assert rrset.name.to_text() == ZONE
    return str(rrset[0].mname)


def test_clusterip_service_a_srv_ptr(dns_port: int, ns: str) -> None:
    fqdn = f"web.{ns}.svc.{ZONE}"
    for tcp in (False, True):
        msg = ask(dns_port, fqdn, "A", tcp)
        assert msg.rcode() == dns.rcode.NOERROR
        assert msg.flags & dns.flags.AA
        assert answers(msg) == [(fqdn, "A", "10.43.5.5")]
        assert msg.answer[0].ttl == 30
    # Case does not matter (the specification: comparisons are case-insensitive).
    assert answers(ask(dns_port, fqdn.upper(), "A"))[0][2] == "10.43.5.5"
    srv = ask(dns_port, f"_http._tcp.web.{ns}.svc.{ZONE}", "SRV")
    assert answers(srv) == [(f"_http._tcp.web.{ns}.svc.{ZONE}", "SRV", f"0 100 80 {fqdn}")]
    assert [(r.name.to_text(), r[0].to_text()) for r in srv.additional] == [(fqdn, "10.43.5.5")]
    udp = ask(dns_port, f"_dns._udp.web.{ns}.svc.{ZONE}", "SRV")
    assert answers(udp) == [(f"_dns._udp.web.{ns}.svc.{ZONE}", "SRV", f"0 100 53 {fqdn}")]
    # The port is UDP: no TCP record for it.
    assert ask(dns_port, f"_dns._tcp.web.{ns}.svc.{ZONE}", "SRV").rcode() == dns.rcode.NXDOMAIN
    ptr = ask(dns_port, "5.5.43.10.in-addr.arpa.", "PTR")
    assert answers(ptr) == [("5.5.43.10.in-addr.arpa.", "PTR", fqdn)]


def test_ipv4_only_name_has_empty_aaaa_with_soa(dns_port: int, ns: str) -> None:
    msg = ask(dns_port, f"web.{ns}.svc.{ZONE}", "AAAA")
    assert msg.rcode() == dns.rcode.NOERROR
    assert msg.answer == []
    assert soa_authority(msg) == f"ns.dns.{ZONE}"


def test_headless_service_answers_every_ready_endpoint(dns_port: int, ns: str) -> None:
    svc = f"db.{ns}.svc.{ZONE}"
    # 10.42.0.7 is not ready: in no record.
    assert answers(ask(dns_port, svc, "A")) == [(svc, "A", "10.42.0.5"), (svc, "A", "10.42.0.6")]
    assert answers(ask(dns_port, f"db-0.{svc}", "A")) == [(f"db-0.{svc}", "A", "10.42.0.5")]
    # Without a hostname the endpoint is named by its dashed address, as CoreDNS does.
    assert answers(ask(dns_port, f"10-42-0-6.{svc}", "A")) == [
        (f"10-42-0-6.{svc}", "A", "10.42.0.6")
    ]
    assert ask(dns_port, f"db-2.{svc}", "A").rcode() == dns.rcode.NXDOMAIN
    srv = ask(dns_port, f"_pg._tcp.{svc}", "SRV")
    assert answers(srv) == [
        (f"_pg._tcp.{svc}", "SRV", f"0 50 5432 10-42-0-6.{svc}"),
        (f"_pg._tcp.{svc}", "SRV", f"0 50 5432 db-0.{svc}"),
    ]
    assert sorted(r[0].to_text() for r in srv.additional) == ["10.42.0.5", "10.42.0.6"]
    assert answers(ask(dns_port, "5.0.42.10.in-addr.arpa.", "PTR")) == [
        ("5.0.42.10.in-addr.arpa.", "PTR", f"db-0.{svc}")
    ]


def test_headless_service_without_ready_endpoints_is_empty_not_nxdomain(
    dns_port: int, ns: str
) -> None:
    msg = ask(dns_port, f"empty.{ns}.svc.{ZONE}", "A")
    assert msg.rcode() == dns.rcode.NOERROR
    assert msg.answer == []
    soa_authority(msg)


def test_pod_names(dns_port: int, ns: str) -> None:
    name = f"10-42-3-9.{ns}.pod.{ZONE}"
    assert answers(ask(dns_port, name, "A")) == [(name, "A", "10.42.3.9")]
    assert ask(dns_port, f"10-42-3.{ns}.pod.{ZONE}", "A").rcode() == dns.rcode.NXDOMAIN


def test_unknown_cluster_names_are_nxdomain_with_soa(
    dns_port: int, ns: str, upstream: tuple[Upstream, int]
) -> None:
    for name in (f"nope.{ns}.svc.{ZONE}", f"web.nope.svc.{ZONE}", f"x.y.{ZONE}"):
        msg = ask(dns_port, name, "A")
        assert msg.rcode() == dns.rcode.NXDOMAIN, name
        assert msg.flags & dns.flags.AA
        assert soa_authority(msg) == f"ns.dns.{ZONE}"
    # Names above records exist (empty non-terminals): NOERROR without data.
    for name in (f"{ns}.svc.{ZONE}", f"svc.{ZONE}", f"_tcp.web.{ns}.svc.{ZONE}"):
        msg = ask(dns_port, name, "A")
        assert (msg.rcode(), msg.answer) == (dns.rcode.NOERROR, []), name
    apex = ask(dns_port, ZONE, "SOA")
    assert answers(apex)[0][:2] == (ZONE, "SOA")
    assert answers(ask(dns_port, f"dns-version.{ZONE}", "TXT")) == [
        (f"dns-version.{ZONE}", "TXT", '"1.1.0"')
    ]
    assert not [n for n in upstream[0].asked if n.endswith(ZONE)], "cluster names were forwarded"


def test_external_name_is_a_cname_followed_upstream(dns_port: int, ns: str) -> None:
    name = f"ext.{ns}.svc.{ZONE}"
    assert answers(ask(dns_port, name, "A")) == [
        (name, "CNAME", "outside.example."),
        ("outside.example.", "A", UPSTREAM_ADDRESS),
    ]
    assert answers(ask(dns_port, name, "CNAME")) == [(name, "CNAME", "outside.example.")]


def test_other_names_go_to_the_node_resolver(
    dns_port: int, ns: str, upstream: tuple[Upstream, int]
) -> None:
    for tcp in (False, True):
        msg = ask(dns_port, "outside.example.", "A", tcp)
        assert answers(msg) == [("outside.example.", "A", UPSTREAM_ADDRESS)]
    # A partial name is not in the cluster domain: search-path expansion is the client's
    # job, so the server forwards it as written (CoreDNS does the same), and it is NXDOMAIN.
    partial = f"web.{ns}.svc."
    assert ask(dns_port, partial, "A").rcode() == dns.rcode.NXDOMAIN
    assert partial in upstream[0].asked
    # A reverse name the cluster holds nothing for falls through to the node's resolver.
    assert ask(dns_port, "9.9.9.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.NXDOMAIN
    assert "9.9.9.10.in-addr.arpa." in upstream[0].asked


def test_answers_follow_changes(shared_apiserver: ApiServer, dns_port: int, ns: str) -> None:
    c = shared_apiserver.client()
    svc = f"db.{ns}.svc.{ZONE}"
    ep = c.get("endpoints", "db", ns)
    ep["subsets"][0]["addresses"].append({"ip": "10.42.0.8"})
    c.replace("endpoints", "db", ep, ns)
    wait_for(
        lambda: ("A", "10.42.0.8") in [r[1:] for r in answers(ask(dns_port, svc, "A"))],
        "the new endpoint in the headless answer",
    )
    c.create(
        "services",
        {"metadata": {"name": "late"}, "spec": {"clusterIP": "10.43.5.6", "ports": [{"port": 1}]}},
        ns,
    )
    late = f"late.{ns}.svc.{ZONE}"
    wait_for(lambda: answers(ask(dns_port, late, "A")) == [(late, "A", "10.43.5.6")], "late's A")
    c.delete("services", "late", ns)
    wait_for(lambda: ask(dns_port, late, "A").rcode() == dns.rcode.NXDOMAIN, "late gone")
    assert ask(dns_port, "6.5.43.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.NXDOMAIN


def test_publishes_the_kube_dns_service(shared_apiserver: ApiServer, dns_port: int) -> None:
    c = shared_apiserver.client()

    def published() -> Any:
        ep = c.get("endpoints", "kube-dns", "kube-system")
        return ep if ep["subsets"][0]["ports"][0]["port"] == dns_port else None

    ep = wait_for(published, "kube-dns Endpoints pointing at the server")
    assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
    assert {(p["name"], p["protocol"]) for p in ep["subsets"][0]["ports"]} == {
        ("dns", "UDP"),
        ("dns-tcp", "TCP"),
    }
    svc = c.get("services", "kube-dns", "kube-system")
    assert svc["spec"]["clusterIP"] == "10.43.0.10"
    assert {(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]} == {
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
    }
    assert not svc["spec"].get("selector")
    # Level-triggered: what is deleted (or changed) comes back.
    c.delete("endpoints", "kube-dns", "kube-system")
    wait_for(published, "kube-dns Endpoints made again")
    c.delete("services", "kube-dns", "kube-system")
    wait_for(
        lambda: c.get("services", "kube-dns", "kube-system")["spec"]["clusterIP"] == "10.43.0.10",
        "kube-dns Service made again",
    )


def _run_dns(srv: ApiServer, *args: str) -> Component:
    port = free_port()
    comp = Component(
        ["dns", "--kubeconfig", str(srv.home / "dns.kubeconfig"), "--port", str(port), *args],
        srv.home,
        srv.home / "logs" / f"dns-{port}.log",
    ).start()
    wait_for(
        lambda: comp.check_alive() or "serving cluster.local" in comp.log(),
        "the DNS server serving",
        30,
        diagnostics=comp.tail,
    )
    return comp


def test_listens_on_its_nodes_pod_bridge_address(tmp_path: Any) -> None:
    from tests.harness import start_apiserver

    srv = start_apiserver(tmp_path / "home")
    comp = None
    try:
        c = srv.client()
        c.create("nodes", {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.77.0/24"}})
        # Bound with IP_FREEBIND: the bridge need not exist. Nothing is sent there.
        comp = _run_dns(srv, "--node", "n1", "--no-publish")
        assert "serving cluster.local on 10.42.77.1:" in comp.log()
        comp.stop()
        comp = _run_dns(srv, "--node", "n1")
        ep = wait_for(
            lambda: c.get("endpoints", "kube-dns", "kube-system"), "the kube-dns Endpoints"
        )
        assert ep["subsets"][0]["addresses"] == [{"ip": "10.42.77.1"}]
        comp.stop()
        # A node without a podCIDR (no pod network): --listen, said in the log.
        comp = _run_dns(srv, "--node", "nowhere", "--node-wait", "1", "--no-publish")
        assert "has no podCIDR" in comp.log()
        assert "serving cluster.local on 127.0.0.1:" in comp.log()
    finally:
        if comp is not None:
            comp.stop()
        srv.stop()
