"""One query in, one reply out: the zone answers the cluster's names, the forwarder the
rest. Bytes in and out (dnslib parses and packs), so UDP and TCP share it."""

from __future__ import annotations

import logging

from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSRecord

from clusterdns.forward import Forwarder
from clusterdns.zone import Answer, Zone

log = logging.getLogger(__name__)

UDP_SIZE = 512  # RFC 1035's limit for a UDP reply without EDNS(0)
EDNS_SIZE = 1232  # the DNS flag day 2020 payload size: no IP fragmentation
MAX_CNAME_CHAIN = 8
QCLASS_ANY = 255  # RFC 1035's QCLASS * (dnslib names it '*')


class Resolver:
    """Answers queries from ``zone``; forwards the names outside it."""

    def __init__(self, zone: Zone, forwarder: Forwarder) -> None:
        self.zone = zone
        self.forwarder = forwarder
        # False until the informers have listed: the zone is not yet the cluster's.
        self.synced = True

    async def handle(self, data: bytes, tcp: bool = False) -> bytes | None:
        """The reply to ``data`` (None: not a DNS query at all, dropped)."""
        try:
            request = DNSRecord.parse(data)
        except Exception:
            return None  # not a DNS message: nothing sensible to reply to
        if request.header.qr or not request.questions:
            return None
        if request.header.opcode != OPCODE.QUERY or len(request.questions) != 1:
            return self._error(request, RCODE.NOTIMP if request.header.opcode else RCODE.FORMERR)
        q = request.q
        if q.qclass not in (CLASS.IN, QCLASS_ANY):
            return self._error(request, RCODE.REFUSED)
        answer = self.zone.lookup(str(q.qname), q.qtype)
        if not self.synced and (answer is not None or self.zone.in_domain(str(q.qname))):
            return self._error(request, RCODE.SERVFAIL)
        if answer is None:
            reply = await self.forwarder.forward(data, tcp)
            return reply if reply is not None else self._error(request, RCODE.SERVFAIL)
        await self._follow_cname(answer, q.qtype, tcp)
        return self._pack(request, answer, tcp)

    async def _follow_cname(self, answer: Answer, qtype: int, tcp: bool) -> None:
        """An ExternalName's CNAME, with the target's records when they can be had (the
        zone's own, or the node's resolvers'), as CoreDNS answers it."""
        seen: set[str] = set()
        while (
            answer.answers
            and answer.answers[-1].rtype == QTYPE.CNAME
            and qtype != QTYPE.CNAME
            and len(seen) < MAX_CNAME_CHAIN
        ):
            target = str(answer.answers[-1].rdata.label)
            if target.lower() in seen:
                return
            seen.add(target.lower())
            inner = self.zone.lookup(target, qtype)
            if inner is not None:
                answer.answers += inner.answers
                if not inner.answers:
                    answer.rcode, answer.authority = inner.rcode, inner.authority
                continue
            question = DNSRecord.question(target, QTYPE.get(qtype))
            raw = await self.forwarder.forward(question.pack(), tcp)
            if raw is not None:
                try:
                    answer.answers += DNSRecord.parse(raw).rr
                except Exception:
                    log.info("unreadable upstream reply for %s", target)
            return

    def _pack(self, request: DNSRecord, answer: Answer, tcp: bool) -> bytes:
        reply = DNSRecord(
            DNSHeader(id=request.header.id, bitmap=request.header.bitmap, qr=1, aa=1, ra=1),
            q=request.q,
        )
        reply.header.rcode = answer.rcode
        for rr in answer.answers:
            reply.add_answer(rr)
        for rr in answer.authority:
            reply.add_auth(rr)
        for rr in answer.additional:
            reply.add_ar(rr)
        if any(rr.rtype == QTYPE.OPT for rr in request.ar):
            # EDNS(0) asked, EDNS(0) answered (RFC 6891), with the size we take back.
            reply.add_ar(EDNS0(udp_len=EDNS_SIZE))
        packed = bytes(reply.pack())
        if not tcp and len(packed) > udp_limit(request):
            # Too big for UDP: the question and the TC flag send the client to TCP.
            short = DNSRecord(
                DNSHeader(
                    id=request.header.id, bitmap=request.header.bitmap, qr=1, aa=1, ra=1, tc=1
                ),
                q=request.q,
            )
            packed = bytes(short.pack())
        return packed

    def _error(self, request: DNSRecord, rcode: int) -> bytes:
        reply = request.reply()
        reply.header.aa = 0
        reply.header.rcode = rcode
        out = bytes(reply.pack())
        return out


def udp_limit(request: DNSRecord) -> int:
    """The largest UDP reply the client takes: its EDNS(0) payload size, else 512."""
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(UDP_SIZE, min(int(rr.rclass), EDNS_SIZE))
    return UDP_SIZE
