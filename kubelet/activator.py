"""The activator of the kubelet's Service proxy (issue 20 item 3): a connection to a Service
marked ``kubelab.io/activator`` (``api/scaletozero.py``) that finds no ready endpoint is
held, not refused, until one is Ready (then forwarded, with what the client already
sent) or the Service's activation timeout passes (then an HTTP request gets a 503 that
says why, any other protocol a closed connection: nothing else can be said in a
protocol the proxy does not know).

While a Service has connections waiting, this node's report says so
(``kubelab.io/service-activity`` on its Node): the scale-to-zero controller scales the
Deployment to 1 at once. The same report carries the last time a new connection came
through each such Service, from which the controller counts the idle window: the
userspace listeners see every connection they accept; what the kernel DNATs is counted
by a rule counter in the Service's chain (``kubelet/proxy_rules.py``), read here.

Pure decisions (``timeout_reply``, ``report_due``, ``counted_connections``) and the small
stateful ``Activator`` the proxy drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from api.scaletozero import ServiceActivity

Backends = list[tuple[str, int]]
# How often new-connection times are written to the Node: the resolution of the idle
# window. A change in which Services have connections waiting is written at once.
REPORT_SECONDS = 5.0
_HTTP_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE")


def looks_like_http(early: bytes) -> bool:
    """Whether the first bytes a client sent are an HTTP/1 request line."""
    method, _, rest = early.partition(b" ")
    return method in _HTTP_METHODS and b"HTTP/1." in rest.split(b"\r\n", 1)[0]


def timeout_reply(early: bytes, service: str, waited: float) -> bytes | None:
    """What a held connection gets when its timeout passes: a 503 for HTTP (with
    ``Retry-After``), None (close) for anything else (pure)."""
    if not looks_like_http(early):
        return None
    body = (
        f"service {service} has no ready endpoint after {waited:.0f}s: it was scaled to zero "
        f"and its replica is not Ready yet (kubelab.io/activation-timeout sets how long a "
        f"request waits)\n"
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 10\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


def report_due(
    published: Mapping[str, ServiceActivity] | None,
    current: Mapping[str, ServiceActivity],
    published_at: float,
    now: float,
) -> bool:
    """Whether this node's activity report must be written now (pure): at once when the
    Services with connections waiting changed (a wake-up must not wait), otherwise when
    something changed and ``REPORT_SECONDS`` passed since the last write."""
    if published is None:
        return bool(current)
    if published == current:
        return False

    def waiting(r: Mapping[str, ServiceActivity]) -> set[str]:
        return {k for k, a in r.items() if a.waiting}

    return waiting(published) != waiting(current) or now - published_at >= REPORT_SECONDS


def counted_connections(
    nft_json: str, chains: Mapping[str, str], base: Mapping[str, int]
) -> tuple[set[str], dict[str, int]]:
    """From ``nft -j list table`` output: the Services (``chains``: chain name -> "ns/name")
    whose rule counter grew since ``base`` (counts by chain), and the new counts (pure).
    A table replaced since starts its counters at 0: the caller clears ``base`` then."""
    counts: dict[str, int] = {}
    for item in json.loads(nft_json or "{}").get("nftables") or []:
        rule = item.get("rule") if isinstance(item, dict) else None
        if not rule or rule.get("chain") not in chains:
            continue
        for expr in rule.get("expr") or []:
            if isinstance(expr, dict) and "counter" in expr:
                counts[rule["chain"]] = int(expr["counter"].get("packets") or 0)
    grew = {chains[c] for c, n in counts.items() if n > base.get(c, 0)}
    return grew, counts


@dataclass
class _State:
    waiting: int = 0
    last_request: float | None = None


@dataclass
class Activator:
    """Held connections and request times, by Service ("ns/name"). ``on_demand`` is called
    when the set of Services with connections waiting changes."""

    on_demand: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.time
    _services: dict[str, _State] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def saw_request(self, service: str) -> None:
        """A new connection came through ``service`` now."""
        self._services.setdefault(service, _State()).last_request = self.clock()

    def endpoints_changed(self) -> None:
        """Wake every held connection to look at its Service's endpoints again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def report(self, services: set[str]) -> dict[str, ServiceActivity]:
        """This node's activity for the marked ``services`` (others are forgotten)."""
        for gone in set(self._services) - services:
            if not self._services[gone].waiting:
                del self._services[gone]
        return {
            k: ServiceActivity(s.last_request, s.waiting)
            for k, s in self._services.items()
            if k in services and (s.waiting or s.last_request is not None)
        }

    async def hold(
        self,
        service: str,
        backends: Callable[[], Backends],
        timeout: float,
        reader: asyncio.StreamReader,
    ) -> tuple[Backends, bytes]:
        """Wait until ``backends()`` has one (returned with the bytes the client sent
        meanwhile), the timeout passes or the client goes (then the list is empty)."""
        state = self._services.setdefault(service, _State())
        state.waiting += 1
        if state.waiting == 1:
            self.on_demand()
        early = b""
        read: asyncio.Task[bytes] | None = asyncio.create_task(reader.read(65536))
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                found = backends()
                if found:
                    return found, early
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return [], early
                changed = asyncio.create_task(self._changed.wait())
                waits: set[asyncio.Future[object]] = {changed}  # type: ignore[arg-type]
                if read is not None:
                    waits.add(read)  # type: ignore[arg-type]
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                if read is not None and read.done():
                    try:
                        chunk = read.result()
                    except (OSError, asyncio.CancelledError):
                        chunk = b""  # reset by the client
                    read = None
                    if not chunk:
                        return [], early  # the client went: nothing to forward
                    early += chunk
        finally:
            if read is not None:
                read.cancel()
                with contextlib.suppress(BaseException):
                    await read
            state.waiting -= 1
            if state.waiting == 0:
                self.on_demand()
