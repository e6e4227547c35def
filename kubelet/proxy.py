"""The node's Service proxy: the kernel path's driver, and the userspace fallback.

With the kernel path (``kubelet/kernelproxy.py``: root, ``nft``, a real runtime) each
sync turns the informers' Services and Endpoints into this kubelet's nftables table
(``kubelet/proxy_rules.py``): ClusterIPs and NodePorts are DNATed in the kernel, at most
one sync a ``MIN_SYNC_SECONDS``. The userspace listeners below then serve only what the
kernel does not (``userspace_serves``): the LoadBalancer port, a NodePort on a loopback
node address, and Services without a ClusterIP. Where the kernel path is unavailable
(``kubelet/main.py`` logs why) the listeners serve everything, as before the service CIDR:

- ``type: NodePort`` (and ``LoadBalancer``): the node address, on ``ports[].nodePort``
  (allocated by the apiserver from 30000-32767 when not given);
- ``type: LoadBalancer``, besides: the node address on the Service's own ``ports[].port``,
  as k3s' ServiceLB does, so the ``status.loadBalancer.ingress`` addresses that the
  load-balancer controller publishes (every Ready node's) really answer on that port. A
  node that cannot bind it says so (a ``LoadBalancerPortUnavailable`` Warning event) and
  lists the Service in its Node annotation ``kubelab.io/lb-ports-unavailable``, which
  leaves the node out of the Service's ingress until the port is free;
- ``type: ClusterIP`` (``clusterIP`` not ``None``): loopback ``127.0.0.1``, on the
  Service's own ``ports[].port`` (a ClusterIP address needs the kernel path).
  (A port below 1024 needs root; a port already taken on the host, by another program or
  another cluster on the same box, is reported once in the log and as a Warning event on
  the Service, ``NodePortUnavailable``, and retried.)

A node on the fake runtime runs no containers, so there is nothing to forward to: its
proxy binds no host port at all (two fake clusters on one box cannot collide) and says
so once per Service, in the log and as a Normal event, ``NotServed``.

Each new connection to a listener goes to the next *ready* endpoint of the Service's
Endpoints object (round robin); the endpoints controller keeps that object current from
the pods' readiness, so a pod that turns not-ready stops getting new connections as soon
as its Endpoints update arrives. Open connections are left to finish.

Scale to zero (``kubelet/activator.py``): a connection to a Service with the activator
mark (``kubelab.io/activator``, set by the scale-to-zero controller) that finds no ready
endpoint is held until one is Ready or the mark's timeout passes, in both modes: the
userspace listeners hold it themselves; with the kernel path the Service's rules
redirect it to a holding listener of its own (``role`` "activator", every address, a
port the kernel picks). This node's Node annotation ``kubelab.io/service-activity`` says
which marked Services have connections waiting and when each last saw a new one.

Containers find Services through the Kubernetes variables ``<NAME>_SERVICE_HOST`` and
``<NAME>_SERVICE_PORT`` (plus the Docker-link style ``<NAME>_PORT_...``): the ClusterIP
where the kernel serves it (``kubelet/envvars.py``), else the listen addresses above.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from api.loadbalancer import LB_UNAVAILABLE_ANNOTATION
from api.scaletozero import activator_mark
from client import AsyncClient
from client.events import NORMAL, WARNING, EventRecorder
from client.informer import Informer
from kubelet.activator import timeout_reply
from kubelet.activity_report import ActivityReport
from kubelet.envvars import service_env_vars as cluster_service_env_vars
from kubelet.kernelproxy import KernelProxy
from kubelet.proxy_rules import kernel_served, plan, ready_backends

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LOOPBACK = "127.0.0.1"
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
RETRY_BIND_SECONDS = 10.0
CONNECT_TIMEOUT = 3.0
# kube-proxy's --min-sync-period: changes in a burst (a rollout) become one kernel sync.
MIN_SYNC_SECONDS = 1.0
HELD_RETRY_SECONDS = 0.05  # a held connection whose new endpoint refuses tries again


@dataclass(frozen=True)
class ListenSpec:
    """Where one Service port is served on this node, and which Endpoints port it feeds."""

    service: str  # "ns/name"
    port_name: str
    address: str
    port: int
    protocol: str = "TCP"
    # "nodePort", "port" (a ClusterIP Service on loopback), "loadBalancer", or
    # "activator" (the kernel path's holding listener, ``kubelet/activator.py``).
    role: str = "port"


def listen_specs(svc: Obj, node_address: str) -> list[ListenSpec]:
    """The listeners a Service asks for on a node with ``node_address`` (pure)."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    key = f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"
    stype = spec.get("type") or "ClusterIP"
    if stype == "ExternalName" or spec.get("clusterIP") == "None":
        return []  # nothing to proxy: a DNS alias, or a headless Service
    out, balanced = [], []
    for p in spec.get("ports") or []:
        proto = str(p.get("protocol") or "TCP").upper()
        if proto != "TCP":
            continue  # the proxy speaks TCP only
        name = str(p.get("name") or "")
        if stype in NODE_PORT_TYPES:
            if p.get("nodePort"):
                out.append(
                    ListenSpec(key, name, node_address, int(p["nodePort"]), proto, "nodePort")
                )
            if stype == "LoadBalancer" and p.get("port"):
                balanced.append(
                    ListenSpec(key, name, node_address, int(p["port"]), proto, "loadBalancer")
                )
        elif p.get("port"):
            out.append(ListenSpec(key, name, LOOPBACK, int(p["port"]), proto))
    return out + balanced


def userspace_serves(svc: Obj, spec: ListenSpec, kernel: bool) -> bool:
    """Whether the userspace listener ``spec`` is still needed (pure). With the kernel
    path on, it serves only what the kernel does not: the LoadBalancer port on the node
    address (its bind failures feed ``LB_UNAVAILABLE_ANNOTATION``), a NodePort on a
    loopback node address (no ``route_localnet``: see ``kubelet/proxy_rules.py``), and
    Services without a ClusterIP (127.0.0.1 plays its part, as before the service CIDR)."""
    if not kernel or not kernel_served(svc) or spec.role == "loadBalancer":
        return True
    return spec.role == "nodePort" and spec.address.startswith("127.")


def _env_name(text: str) -> str:
    return text.upper().replace("-", "_").replace(".", "_")


def service_env_vars(services: list[Obj], node_address: str) -> dict[str, str]:
    """The Kubernetes Service variables for ``services`` (one namespace), pointing at the
    addresses this node's proxy listens on (pure)."""
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: (s.get("metadata") or {}).get("name", "")):
        # Kubernetes' variables name the cluster-internal address, not the load balancer.
        specs = [s for s in listen_specs(svc, node_address) if s.role != "loadBalancer"]
        if not specs:
            continue
        name = _env_name((svc.get("metadata") or {}).get("name", ""))
        first = specs[0]
        env[f"{name}_SERVICE_HOST"] = first.address
        env[f"{name}_SERVICE_PORT"] = str(first.port)
        env[f"{name}_PORT"] = f"{first.protocol.lower()}://{first.address}:{first.port}"
        for s in specs:
            if s.port_name:
                env[f"{name}_SERVICE_PORT_{_env_name(s.port_name)}"] = str(s.port)
            prefix = f"{name}_PORT_{s.port}_{s.protocol}"
            env[prefix] = f"{s.protocol.lower()}://{s.address}:{s.port}"
            env[f"{prefix}_PROTO"] = s.protocol.lower()
            env[f"{prefix}_PORT"] = str(s.port)
            env[f"{prefix}_ADDR"] = s.address
    return env


@dataclass
class _Listener:
    spec: ListenSpec
    server: asyncio.base_events.Server | None = None
    next_index: int = 0
    bind_error: str = ""
    failed: bool = False
    retry_at: float = 0.0
    connections: set[asyncio.Task[Any]] = field(default_factory=set)


_BIND_HINTS = {
    errno.EADDRINUSE: " (another program, or another cluster on this host, holds it)",
    errno.EACCES: " (a port below 1024 needs root)",
}


def bind_failure_event(svc: Obj, spec: ListenSpec, node: str, err: OSError) -> tuple[str, str]:
    """The reason and message of the Warning event for a port that cannot be bound (pure)."""
    why = os.strerror(err.errno).lower() if err.errno else str(err)
    hint = _BIND_HINTS.get(err.errno or 0, "")
    if spec.role == "loadBalancer":
        return "LoadBalancerPortUnavailable", (
            f"cannot listen on load balancer port {spec.port} ({spec.address}:{spec.port}) on "
            f"node {node}: {why}{hint}; node {node} is left out of "
            f"status.loadBalancer.ingress until it can; retrying every {RETRY_BIND_SECONDS:.0f}s"
        )
    stype = (svc.get("spec") or {}).get("type") or "ClusterIP"
    what = "nodePort" if stype in NODE_PORT_TYPES else "port"
    reason = "NodePortUnavailable" if stype in NODE_PORT_TYPES else "PortUnavailable"
    return reason, (
        f"cannot listen on {what} {spec.port} ({spec.address}:{spec.port}) on node {node}: "
        f"{why}{hint}; retrying every {RETRY_BIND_SECONDS:.0f}s"
    )


def unavailable_balancers(listeners: Iterable[tuple[ListenSpec, bool]]) -> str:
    """The value of ``LB_UNAVAILABLE_ANNOTATION``: the Services with a load balancer port
    that failed to bind (``(spec, failed)`` pairs; pure)."""
    return ",".join(
        sorted({s.service for s, failed in listeners if failed and s.role == "loadBalancer"})
    )


def not_served_message(specs: list[ListenSpec], node: str) -> str:
    """The Normal event of a Service on a fake-runtime node (pure)."""
    ports = ", ".join(f"{s.address}:{s.port}" for s in specs)
    return (
        f"node {node} runs the fake runtime (no containers): it serves no traffic, so "
        f"nothing listens on {ports} there"
    )


def _event_target(svc: Obj) -> Obj:
    # Informer items carry no kind: the event must name a Service, not the recorder's Pod.
    return {**svc, "apiVersion": "v1", "kind": "Service"}


class ServiceProxy:
    """Keeps one TCP listener per Service port and forwards each connection round robin
    to a ready endpoint. With ``serves_traffic`` False (the fake runtime) it listens
    nowhere and records that on each Service instead. With ``kernel`` it programs the
    kernel (nftables DNAT, ``kubelet/kernelproxy.py``) for ClusterIPs and NodePorts and
    listens only for what ``userspace_serves`` leaves to it."""

    def __init__(
        self,
        client: AsyncClient,
        node_address: str,
        node_name: str = "",
        serves_traffic: bool = True,
        kernel: KernelProxy | None = None,
    ) -> None:
        self.client = client
        self.node_address = node_address
        self.node_name = node_name or node_address
        self._published_unavailable: str | None = None  # last LB_UNAVAILABLE_ANNOTATION
        self.serves_traffic = serves_traffic
        self.kernel = kernel
        self._reported: set[str] = set()  # notes and errors already logged (once each)
        self.recorder = EventRecorder(client, "kubelet", self.node_name, host=self.node_name)
        self._not_served: dict[str, list[ListenSpec]] = {}  # reported, by "ns/name"
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints")
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False
        self.connections_served = 0
        self._holders: dict[tuple[str, str], _Listener] = {}  # by ("ns/name", port name)
        self.activity = ActivityReport(client, self.node_name, self.services, kernel)
        self.activator = self.activity.activator
        for inf in (self.services, self.endpoints):
            inf.add_handler(
                on_add=lambda _o: self._changed.set(),
                on_update=lambda _o, _n: self._changed.set(),
                on_delete=lambda _o: self._changed.set(),
            )
        # Held connections look again at once, not at the next (rate-limited) sync.
        self.endpoints.add_handler(
            on_add=lambda _o: self.activator.endpoints_changed(),
            on_update=lambda _o, _n: self.activator.endpoints_changed(),
        )

    # -- what containers see -------------------------------------------------------------

    def service_env(self, namespace: str) -> dict[str, str]:
        """``<NAME>_SERVICE_HOST``/``_PORT`` for the Services of ``namespace``: Kubernetes'
        (the ClusterIP and the Service port, kubelet/envvars.py) where ClusterIPs are
        served (the kernel path) or nothing runs (the fake runtime, kept truthful); the
        userspace fallback's own listen addresses otherwise."""
        if self.kernel is not None or not self.serves_traffic:
            return cluster_service_env_vars(self.services.list(), namespace)
        svcs = [
            s
            for s in self.services.list()
            if (s.get("metadata") or {}).get("namespace") == namespace
        ]
        return service_env_vars(svcs, self.node_address)

    def listening(self) -> dict[tuple[str, int], str]:
        """``(address, port) -> "ns/service"`` for every listener bound right now."""
        return {k: v.spec.service for k, v in self._listeners.items() if v.server is not None}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the informers and the reconcile loop (returns at once)."""
        self.recorder.start()
        self._tasks = [
            asyncio.create_task(self.services.run(), name="proxy-services"),
            asyncio.create_task(self.endpoints.run(), name="proxy-endpoints"),
            asyncio.create_task(self._loop(), name="proxy-reconcile"),
        ]
        if self.serves_traffic:  # the fake runtime holds nothing: nothing to report
            self._tasks.append(asyncio.create_task(self.activity.run(), name="proxy-activity"))

    async def stop(self) -> None:
        """Close every listener and open connection, stop the informers."""
        self._stopping = True
        self.activity.stop()
        self._changed.set()
        self.services.stop()
        self.endpoints.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for key in list(self._listeners):
            await self._close(key)
        for hkey in list(self._holders):
            for t in list(self._holders[hkey].connections):
                t.cancel()  # held or forwarded through a holder: the proxy is going
            await self._close_holder(hkey)
        if self.kernel is not None:
            try:
                await self.kernel.cleanup()
                log.info("service proxy: removed kernel rules (table %s)", self.kernel.table)
            except Exception as e:  # shutting down: say so, do not fail the stop
                log.warning("service proxy: cannot remove kernel rules: %s", e)
        await self.recorder.stop(flush_timeout=2.0)

    async def _loop(self) -> None:
        await self.services.wait_synced()
        await self.endpoints.wait_synced()
        while not self._stopping:
            self._changed.clear()
            try:
                await self.reconcile()
            except Exception:  # keep proxying whatever happens to one Service
                log.exception("service proxy: reconcile failed")
            if self.kernel is not None:
                await asyncio.sleep(MIN_SYNC_SECONDS)  # the min-sync-period, see above
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
            # cancellation that lands as the event fires, and stop() would wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RETRY_BIND_SECONDS):
                    await self._changed.wait()

    async def reconcile(self) -> None:
        """Open listeners for new Service ports, close those no Service asks for."""
        wanted: dict[tuple[str, int], ListenSpec] = {}
        services: dict[str, Obj] = {}
        for svc in self.services.list():
            if (svc.get("metadata") or {}).get("deletionTimestamp"):
                continue
            specs = listen_specs(svc, self.node_address)
            if specs:
                services[specs[0].service] = svc
            if not self.serves_traffic:
                self._report_not_served(svc, specs)
                continue
            for spec in specs:
                if not userspace_serves(svc, spec, self.kernel is not None):
                    continue
                if (svc.get("spec") or {}).get("sessionAffinity") == "ClientIP":
                    self._report_once(
                        logging.WARNING,
                        f"{spec.service}: sessionAffinity ClientIP is not honoured on "
                        f"{spec.address}:{spec.port} (a userspace listener: round robin)",
                    )
                # Two Services on one port: the first (by name) keeps it, the other is
                # reported by the bind error of its own listener below.
                wanted.setdefault((spec.address, spec.port), spec)
        if not self.serves_traffic:
            for gone in set(self._not_served) - set(services):
                del self._not_served[gone]  # report it again should it come back
        for key in list(self._listeners):
            if key not in wanted or self._listeners[key].spec != wanted[key]:
                await self._close(key)
        loop = asyncio.get_running_loop()
        for key, spec in wanted.items():
            lst = self._listeners.setdefault(key, _Listener(spec))
            if lst.server is not None or loop.time() < lst.retry_at:
                continue
            try:
                lst.server = await asyncio.start_server(
                    functools.partial(self._accept, lst),
                    spec.address,
                    spec.port,
                    reuse_address=True,
                )
                lst.bind_error = ""
                lst.failed = False
                log.info(
                    "service proxy: %s port %s on %s:%d",
                    spec.service,
                    spec.port_name or "-",
                    spec.address,
                    spec.port,
                )
            except OSError as e:
                lst.retry_at = loop.time() + RETRY_BIND_SECONDS
                lst.failed = True
                if str(e) != lst.bind_error:
                    lst.bind_error = str(e)
                    log.warning(
                        "service proxy: cannot listen on %s:%d for %s (%s); retrying every %.0fs",
                        spec.address,
                        spec.port,
                        spec.service,
                        e,
                        RETRY_BIND_SECONDS,
                    )
                    owner = services.get(spec.service)
                    if owner is not None:
                        reason, message = bind_failure_event(owner, spec, self.node_name, e)
                        self.recorder.record(_event_target(owner), WARNING, reason, message)
        if self.kernel is not None:
            await self._reconcile_holders(services)
            await self.sync_kernel()
        if self.serves_traffic:
            await self._publish_unavailable(
                unavailable_balancers((lst.spec, lst.failed) for lst in self._listeners.values())
            )

    async def sync_kernel(self) -> None:
        """Program the kernel from the informers' Services and Endpoints (a no-op when the
        plan is what the kernel already holds); notes and failures are logged once each."""
        assert self.kernel is not None
        endpoints: dict[str, Obj] = {}
        for ep in self.endpoints.list():
            meta = ep.get("metadata") or {}
            endpoints[f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"] = ep
        wanted = plan(
            self.kernel.cluster_uid,
            self.kernel.node,
            self.services.list(),
            endpoints,
            self.kernel.cluster_cidr,
            self.kernel.pod_interfaces,
            {k: h.spec.port for k, h in self._holders.items() if h.server is not None},
        )
        for note in wanted.notes:
            self._report_once(logging.INFO, note)
        try:
            if await self.kernel.apply(wanted):
                log.debug("service proxy: kernel table %s synced", wanted.table)
        except Exception as e:  # the next change or retry period tries again
            self._report_once(logging.ERROR, f"cannot program the kernel: {e}")

    async def _reconcile_holders(self, services: dict[str, Obj]) -> None:
        """One holding listener per TCP port of each kernel-served Service with the
        activator mark (opened before the Service needs it, so the kernel can redirect to
        it the moment its last endpoint goes); the others closed."""
        wanted: set[tuple[str, str]] = set()
        for key, svc in services.items():
            if activator_mark(svc) is None or not kernel_served(svc):
                continue
            for p in (svc.get("spec") or {}).get("ports") or []:
                if str(p.get("protocol") or "TCP").upper() == "TCP":
                    wanted.add((key, str(p.get("name") or "")))
        for hkey in set(self._holders) - wanted:
            await self._close_holder(hkey)
        for hkey in sorted(wanted - set(self._holders)):
            lst = _Listener(ListenSpec(hkey[0], hkey[1], "0.0.0.0", 0, "TCP", "activator"))
            try:
                lst.server = await asyncio.start_server(
                    functools.partial(self._accept, lst), "0.0.0.0", 0
                )
            except OSError as e:  # next reconcile; meanwhile the port is rejected
                self._report_once(logging.WARNING, f"{hkey[0]}: no holding listener: {e}")
                continue
            port = int(lst.server.sockets[0].getsockname()[1])
            lst.spec = ListenSpec(hkey[0], hkey[1], "0.0.0.0", port, "TCP", "activator")
            self._holders[hkey] = lst
            log.info("service proxy: %s port %s held on :%d", hkey[0], hkey[1] or "-", port)

    async def _close_holder(self, hkey: tuple[str, str]) -> None:
        # Its connections are left to finish (a Service that lost its mark still answers
        # them once an endpoint is Ready).
        lst = self._holders.pop(hkey, None)
        if lst is not None and lst.server is not None:
            lst.server.close()

    def _report_once(self, level: int, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            log.log(level, "service proxy: %s", message)

    async def _publish_unavailable(self, value: str) -> None:
        """Tell the load-balancer controller which Services this node cannot serve on their
        port (this node's own Node annotation; written only when it changes)."""
        if value == self._published_unavailable:
            return
        patch = {"metadata": {"annotations": {LB_UNAVAILABLE_ANNOTATION: value or None}}}
        try:
            await self.client.patch("nodes", self.node_name, patch)
        except Exception as exc:  # the Node may not be registered yet: next reconcile
            log.debug("service proxy: cannot annotate node %s: %s", self.node_name, exc)
            return
        self._published_unavailable = value

    def _report_not_served(self, svc: Obj, specs: list[ListenSpec]) -> None:
        """Once per Service (and again when its ports change): no listener on this node."""
        if not specs or self._not_served.get(specs[0].service) == specs:
            return
        self._not_served[specs[0].service] = specs
        message = not_served_message(specs, self.node_name)
        log.info("service proxy: %s: %s", specs[0].service, message)
        self.recorder.record(_event_target(svc), NORMAL, "NotServed", message)

    async def _close(self, key: tuple[str, int]) -> None:
        lst = self._listeners.pop(key, None)
        if lst is None:
            return
        if lst.server is not None:
            lst.server.close()
        for t in list(lst.connections):
            t.cancel()
        if lst.server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await lst.server.wait_closed()

    # -- forwarding ----------------------------------------------------------------------

    def backends_for(self, spec: ListenSpec) -> list[tuple[str, int]]:
        """The ready endpoints a new connection to ``spec`` may go to, right now."""
        return ready_backends(self.endpoints.get(spec.service), spec.port_name)

    async def _accept(
        self, lst: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            lst.connections.add(task)
        try:
            await self._forward(lst, reader, writer)
        finally:
            if task is not None:
                lst.connections.discard(task)

    async def _forward(
        self, lst: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        early = b""
        mark = activator_mark(self.services.get(lst.spec.service))
        if mark is not None:
            self.activator.saw_request(lst.spec.service)
        upstream = await self._connect(lst, self.backends_for(lst.spec))
        if upstream is None and mark is not None:
            loop = asyncio.get_running_loop()
            started = loop.time()
            deadline = started + mark.timeout_seconds
            while upstream is None and loop.time() < deadline:
                backends, more = await self.activator.hold(
                    lst.spec.service,
                    lambda: self.backends_for(lst.spec),
                    deadline - loop.time(),
                    reader,
                )
                early += more
                if not backends:
                    break  # the timeout passed, or the client went
                upstream = await self._connect(lst, backends)
                if upstream is None:
                    # Ready before it listens (no readiness probe): try again shortly.
                    await asyncio.sleep(HELD_RETRY_SECONDS)
            if upstream is None:
                reply = timeout_reply(early, lst.spec.service, loop.time() - started)
                with contextlib.suppress(ConnectionError, OSError):
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
                writer.close()
                return
        if upstream is None:
            writer.close()
            return
        self.connections_served += 1
        up_reader, up_writer = upstream
        if early:
            up_writer.write(early)  # what the client sent while it was held
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()

    async def _connect(
        self, lst: _Listener, backends: list[tuple[str, int]]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the next backend that accepts (round robin), or None."""
        for _ in range(len(backends)):
            host, port = backends[lst.next_index % len(backends)]
            lst.next_index += 1
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    return await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                log.debug("service proxy: %s: %s:%d refused", lst.spec.service, host, port)
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the other side (so request/response protocols end)."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
