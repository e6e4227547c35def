"""Forwarding: every name outside the cluster goes to the node's own resolvers.

The upstreams are the ``nameserver`` lines of the host's /etc/resolv.conf (CoreDNS'
``forward . /etc/resolv.conf``), tried in order, each with a timeout. A query is passed
on as the client sent it (dnslib packs and parses; only the bytes travel here): over UDP,
and over TCP when the client asked over TCP or the UDP reply came back truncated.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from dnslib import DNSRecord

log = logging.getLogger(__name__)

DNS_PORT = 53


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_nameservers(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, in order."""
    out = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1])
    return out


def host_upstreams(path: str | Path = "/etc/resolv.conf") -> list[Upstream]:
    """The node's resolvers (none when the file is missing or lists none)."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        log.warning("cannot read %s (%s): names outside the cluster will fail", path, e)
        return []
    return [Upstream(ns) for ns in parse_nameservers(text)]


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, query_id: int) -> None:
        self.query_id = query_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        # Only the answer to our own question (same id); anything else is ignored.
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == self.query_id:
            if not self.reply.done():
                self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _ask_udp(query: bytes, up: Upstream, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    qid = struct.unpack("!H", query[:2])[0]
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _OneReply(qid), remote_addr=(up.host, up.port)
    )
    try:
        transport.sendto(query)
        return await asyncio.wait_for(proto.reply, timeout)
    finally:
        transport.close()


async def _ask_tcp(query: bytes, up: Upstream, timeout: float) -> bytes:
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(up.host, up.port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)  # RFC 1035 4.2.2 framing
            await writer.drain()
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            return await reader.readexactly(size)
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


class Forwarder:
    """Asks the upstreams in order; None when none answered in time."""

    def __init__(self, upstreams: list[Upstream], timeout: float = 2.0) -> None:
        self.upstreams = upstreams
        self.timeout = timeout

    async def forward(self, query: bytes, tcp: bool = False) -> bytes | None:
        for up in self.upstreams:
            try:
                if not tcp:
                    reply = await _ask_udp(query, up, self.timeout)
                    if not DNSRecord.parse(reply).header.tc:
                        return reply
                return await _ask_tcp(query, up, self.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                log.info("upstream %s did not answer (%s); trying the next", up, e or type(e))
            except Exception as e:  # a reply dnslib cannot parse
                log.info("upstream %s sent an unreadable reply (%s)", up, e)
        return None
