"""The UDP and TCP listeners of the DNS server (asyncio), on one address and port."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import cast

from clusterdns.resolver import Resolver

log = logging.getLogger(__name__)

TCP_IDLE = 10.0  # seconds a TCP client may keep a connection without a query


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # A task per query: a forwarded one waiting on an upstream holds up no other.
        task = asyncio.ensure_future(self._answer(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.handle(data, tcp=False)
        except Exception:
            log.exception("query from %s failed", addr[0])
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


IP_FREEBIND = 15  # linux/in.h; Python's socket module does not name it


def _socket(host: str, port: int, kind: int, freebind: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if freebind:  # IPPROTO_IP's flag holds for IPv6 sockets too (inet_sk)
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class DNSServer:
    """Serves ``resolver`` over UDP and TCP on ``host:port`` (port 0: a free one, the
    same for both)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self, host: str, port: int, freebind: bool = False) -> None:
        """Bind both sockets; OSError (port taken, no privilege for < 1024) if either fails.
        ``freebind``: the address need not be the host's yet (a bridge made later)."""
        loop = asyncio.get_running_loop()
        for attempt in range(20 if port == 0 else 1):
            udp = _socket(host, port, socket.SOCK_DGRAM, freebind)
            bound = udp.getsockname()[1]
            try:
                tcp = _socket(host, bound, socket.SOCK_STREAM, freebind)
            except OSError:
                udp.close()
                if port != 0 or attempt == 19:
                    raise
                continue  # the free UDP port is taken for TCP: pick another
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self.resolver), sock=udp
            )
            self._udp = cast(asyncio.DatagramTransport, transport)
            self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp)
            self.port = bound
            return

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                data = await asyncio.wait_for(
                    reader.readexactly(struct.unpack("!H", head)[0]), TCP_IDLE
                )
                reply = await self.resolver.handle(data, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # the client is done (or idle): close
        except Exception:
            log.exception("TCP query failed")
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
