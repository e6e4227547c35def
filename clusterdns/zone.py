"""The cluster zone: every Service's records indexed by name, and the answer to one
question. Pure (no I/O); ``cache`` feeds it from the informers, ``server`` asks it.

A name in the cluster domain that has records answers them (NOERROR; an empty answer
with the SOA when it has none of the type asked, e.g. AAAA of an IPv4-only Service);
a name that only lies above others (``ns.svc.ZONE``, ``_tcp.web.ns.svc.ZONE``) is an
empty non-terminal (NOERROR, no data); any other name in the domain is NXDOMAIN with
the SOA as authority (RFC 2308), so resolvers cache the negative answer for the TTL.
Reverse names (``in-addr.arpa``) are answered only when a ClusterIP or endpoint has
them; the rest go to the node's resolvers, as CoreDNS' ``fallthrough in-addr.arpa``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from dnslib import NS, QTYPE, RCODE, RR, SOA, TXT, A

from clusterdns.records import ipv4

SCHEMA_VERSION = "1.1.0"  # kubernetes/dns docs/specification.md
REVERSE_SUFFIX = ".in-addr.arpa."


@dataclass
class Answer:
    """What the zone says about one question (``server`` packs it into a reply)."""

    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)


def canonical(name: str) -> str:
    """Lower case with the trailing dot: DNS names compare case-insensitively."""
    return name.lower().rstrip(".") + "."


class Zone:
    """The records of every Service in the cluster domain, by owner name."""

    def __init__(self, domain: str = "cluster.local", ttl: int = 30) -> None:
        self.domain = canonical(domain)
        self.ttl = ttl
        # name -> owner ("ns/svc") -> records at that name from that owner
        self._names: dict[str, dict[str, list[RR]]] = {}
        self._owned: dict[str, set[str]] = {}  # owner -> the names it has records at
        # names above records (empty non-terminals) -> how many owner names lie below
        self._above: Counter[str] = Counter()
        self.serial = int(time.time()) & 0xFFFFFFFF

    # -- keeping it current ------------------------------------------------------------

    def set_records(self, owner: str, rrs: list[RR], exists: Iterable[str] = ()) -> None:
        """Replace every record of ``owner`` (a Service key) with ``rrs``; the names in
        ``exists`` exist even without records (a headless Service with no ready endpoint
        answers empty, not NXDOMAIN, as the specification says)."""
        self.drop(owner)
        names: set[str] = set()
        for name in map(canonical, exists):
            self._names.setdefault(name, {}).setdefault(owner, [])
            names.add(name)
        for rr in rrs:
            name = canonical(str(rr.rname))
            self._names.setdefault(name, {}).setdefault(owner, []).append(rr)
            names.add(name)
        for name in names:
            for above in self._ancestors(name):
                self._above[above] += 1
        if names:
            self._owned[owner] = names
        self.serial = (self.serial + 1) & 0xFFFFFFFF

    def drop(self, owner: str) -> None:
        """Forget every record of ``owner``."""
        for name in self._owned.pop(owner, set()):
            by_owner = self._names.get(name)
            if by_owner is not None:
                by_owner.pop(owner, None)
                if not by_owner:
                    del self._names[name]
            for above in self._ancestors(name):
                self._above[above] -= 1
                if self._above[above] <= 0:
                    del self._above[above]

    def _ancestors(self, name: str) -> list[str]:
        """The names strictly between ``name`` and the zone apex (none outside it)."""
        if not self.in_domain(name):
            return []
        out = []
        labels = name[: -len(self.domain)].rstrip(".").split(".")
        for i in range(1, len(labels)):
            out.append(".".join(labels[i:]) + "." + self.domain)
        return out

    # -- answering ---------------------------------------------------------------------

    def in_domain(self, name: str) -> bool:
        name = canonical(name)
        return name == self.domain or name.endswith("." + self.domain)

    def soa(self) -> RR:
        return RR(
            self.domain,
            QTYPE.SOA,
            rdata=SOA(
                f"ns.dns.{self.domain}",
                f"hostmaster.{self.domain}",
                (self.serial, 7200, 1800, 86400, self.ttl),
            ),
            ttl=self.ttl,
        )

    def records(self, name: str) -> list[RR]:
        """Every record at ``name`` (any type)."""
        return [rr for rrs in self._names.get(canonical(name), {}).values() for rr in rrs]

    def lookup(self, qname: str, qtype: int) -> Answer | None:
        """The answer to ``qname qtype``, or None when the name is not this zone's to
        answer (outside the cluster domain, or a reverse name we hold nothing for)."""
        name = canonical(qname)
        if not self.in_domain(name):
            if name.endswith(REVERSE_SUFFIX) and name in self._names:
                return self._from_records(name, qtype)
            return None
        if name == self.domain:
            return self._apex(qtype)
        if name == f"dns-version.{self.domain}":
            return self._fixed(qtype, QTYPE.TXT, TXT(SCHEMA_VERSION), name)
        if name in self._names:
            return self._from_records(name, qtype)
        pod_ip = self._pod_ip(name)
        if pod_ip is not None:
            return self._fixed(qtype, QTYPE.A, A(pod_ip), name)
        if name in self._above or name in (f"svc.{self.domain}", f"pod.{self.domain}"):
            return Answer(authority=[self.soa()])
        return Answer(rcode=RCODE.NXDOMAIN, authority=[self.soa()])

    def _from_records(self, name: str, qtype: int) -> Answer:
        rrs = self.records(name)
        cnames = [rr for rr in rrs if rr.rtype == QTYPE.CNAME]
        if cnames and qtype != QTYPE.CNAME:
            return Answer(answers=cnames)  # the resolver follows it (server.py)
        hits = [rr for rr in rrs if qtype == QTYPE.ANY or rr.rtype == qtype]
        if not hits:
            return Answer(authority=[self.soa()] if self.in_domain(name) else [])
        extra: list[RR] = []
        if qtype == QTYPE.SRV:
            for target in dict.fromkeys(canonical(str(rr.rdata.target)) for rr in hits):
                extra += [rr for rr in self.records(target) if rr.rtype == QTYPE.A]
        return Answer(answers=hits, additional=extra)

    def _apex(self, qtype: int) -> Answer:
        if qtype == QTYPE.SOA:
            return Answer(answers=[self.soa()])
        if qtype == QTYPE.NS:
            ns = RR(self.domain, QTYPE.NS, rdata=NS(f"ns.dns.{self.domain}"), ttl=self.ttl)
            return Answer(answers=[ns])
        return Answer(authority=[self.soa()])

    def _fixed(self, qtype: int, rtype: int, rdata: object, name: str) -> Answer:
        if qtype in (rtype, QTYPE.ANY):
            return Answer(answers=[RR(name, rtype, rdata=rdata, ttl=self.ttl)])
        return Answer(authority=[self.soa()])

    def _pod_ip(self, name: str) -> str | None:
        """``a-b-c-d.NS.pod.ZONE`` -> ``a.b.c.d`` (CoreDNS' ``pods insecure``, the mode
        kubeadm and k3s configure: any well-formed address answers)."""
        labels = name[: -len(self.domain) - 1].split(".")
        if len(labels) != 3 or labels[2] != "pod" or not labels[1]:
            return None
        return ipv4(labels[0].replace("-", "."))
