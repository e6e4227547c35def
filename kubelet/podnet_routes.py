"""Keeping this box's pod routes and forwarding rules in line with the cluster's nodes.

At start: the unreachable routes for the cluster and service ranges (``routes.py``), and
the rules that let the pod network cross Docker's bridges (Docker sets the FORWARD policy
to DROP and isolates its bridge networks from each other; ``DOCKER-USER`` is the chain it
leaves to its users, evaluated first). Then, on every change of a Node, the peer routes.
On stop the peer routes and this node's rules go; the unreachable routes stay while any
bridge of the cluster's range is still on the box (another kubelet, pods still running).

Without root or without iptables the kubelet says so in one line and runs on: pods on
this node still reach each other and the host reaches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import shutil

from client import AsyncClient, Informer
from kubelet.podnet import PodNetwork
from kubelet.routes import UNREACHABLE, HostGwBackend, Route, RouteBackend, desired_routes
from kubelet.routes import local_networks as _local_networks

log = logging.getLogger(__name__)

FORWARD_CHAIN = "DOCKER-USER"
RESYNC_SECONDS = 30.0


NAT_CHAIN = "POSTROUTING"


def forward_rules(pod_cidr: str, cluster_cidr: str, tag: str) -> list[list[str]]:
    """The iptables rules (table, chain, then the rule) of this node's subnet: accept pod
    traffic to and from it within the cluster's range (DOCKER-USER), and masquerade only
    what leaves that range (flannel's ip-masq). The bridge is made without Docker's own
    masquerade, which would hide a pod's address from the pods on other bridges and boxes
    (and so from the ACCEPT rules there)."""
    comment = ["-m", "comment", "--comment", tag]
    return [
        ["filter", FORWARD_CHAIN, "-s", cluster_cidr, "-d", pod_cidr, *comment, "-j", "ACCEPT"],
        ["filter", FORWARD_CHAIN, "-s", pod_cidr, "-d", cluster_cidr, *comment, "-j", "ACCEPT"],
        ["nat", NAT_CHAIN, "-s", pod_cidr, "!", "-d", cluster_cidr, *comment, "-j", "MASQUERADE"],
    ]


async def _iptables(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "iptables",
        "-w",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return proc.returncode or 0, err.decode(errors="replace").strip()


async def ensure_forward_rules(rules: list[list[str]]) -> None:
    """Insert each rule at the top of its chain unless it is there (idempotent)."""
    for table, chain, *r in rules:
        if (await _iptables("-t", table, "-C", chain, *r))[0] == 0:
            continue
        code, err = await _iptables("-t", table, "-I", chain, "1", *r)
        if code != 0:
            raise OSError(f"iptables -t {table} -I {chain}: {err}")


async def remove_forward_rules(rules: list[list[str]]) -> None:
    for table, chain, *r in rules:
        while (await _iptables("-t", table, "-C", chain, *r))[0] == 0:
            if (await _iptables("-t", table, "-D", chain, *r))[0] != 0:
                break


def kernel_problem() -> str | None:
    """None when routes and rules can be programmed here; else why not."""
    if os.geteuid() != 0:
        return "the kubelet is not root"
    if shutil.which("iptables") is None:
        return "iptables is not installed"
    return None


class PodRoutes:
    """The route and rule keeper of one node (never a hollow one). ``peers`` False (the
    fake runtime: its pod addresses exist nowhere) keeps only the safety routes, so a
    connection to a fake pod fails on this box instead of going to the LAN."""

    def __init__(
        self,
        client: AsyncClient,
        node: str,
        cluster_uid: str,
        cluster_cidr: str,
        service_cidr: str,
        backend: RouteBackend | None = None,
        peers: bool = True,
    ) -> None:
        self.node = node
        self.peers = peers
        self.cluster_cidr = cluster_cidr
        self.safety = [cluster_cidr, service_cidr]
        self.backend = backend or HostGwBackend(self.safety)
        self.tag = f"kubelab {cluster_uid[:8]} {node}"
        self.informer = Informer(client, "nodes")
        self.pod_cidr = ""
        self._rules: list[list[str]] = []
        self._changed = asyncio.Event()
        self.disabled = ""  # why the kernel path is off ("" while it works)

    async def _desired(self) -> list[Route]:
        # pyroute2's synchronous calls run their own event loop: never on ours.
        subnets, addresses = await asyncio.to_thread(_local_networks)
        return desired_routes(
            node=self.node,
            nodes=self.informer.list(),
            safety_cidrs=self.safety,
            local_subnets=subnets,
            local_addresses=addresses,
        )

    def _disable(self, why: str) -> None:
        if not self.disabled:
            self.disabled = why
            log.warning(
                "pod routes are off (%s): pods on this node reach each other and the host "
                "reaches them, but pods on other nodes cannot, and nothing stops the pod and "
                "service ranges from leaving by the default route",
                why,
            )

    async def start(self) -> None:
        """The safety routes, at once (before any pod runs)."""
        problem = kernel_problem()
        if problem:
            self._disable(problem)
            return
        try:
            await self.backend.apply([Route(c, kind=UNREACHABLE) for c in self.safety])
        except Exception as e:  # noqa: BLE001 - netlink refused: no privileges, no kernel support
            self._disable(f"cannot program routes: {e}")

    async def run(self, podnet: PodNetwork) -> None:
        """Forever: the peer routes follow the nodes (and this node's own podCIDR, which
        the forwarding rules need, is handed to ``podnet`` as soon as it is set)."""
        if self.disabled:
            return
        if not self.peers:
            await self._keep_safety()
            return
        self.informer.add_handler(
            on_add=lambda _n: self._changed.set(),
            on_update=lambda _o, _n: self._changed.set(),
            on_delete=lambda _n: self._changed.set(),
        )
        watch = asyncio.create_task(self.informer.run(), name=f"route-nodes-{self.node}")
        try:
            await self.informer.wait_synced()
            while True:
                self._changed.clear()
                own = next(
                    (n for n in self.informer.list() if n["metadata"]["name"] == self.node), None
                )
                if own is not None:
                    podnet.learn(own)
                await self._sync(podnet.cidr)
                # Level-triggered: a missed change is caught by the next slow pass.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), RESYNC_SECONDS)
        finally:
            watch.cancel()
            self.informer.stop()

    async def _keep_safety(self) -> None:
        """Forever: the safety routes, put back should anyone remove them."""
        safety = [Route(c, kind=UNREACHABLE) for c in self.safety]
        while True:
            await asyncio.sleep(RESYNC_SECONDS)
            try:
                await self.backend.apply(safety)
            except Exception as e:  # noqa: BLE001 - logged; the next pass retries
                log.warning("node %s: programming the safety routes failed: %s", self.node, e)

    async def _sync(self, pod_cidr: str) -> None:
        try:
            if pod_cidr and pod_cidr != self.pod_cidr:
                if ipaddress.ip_network(pod_cidr).subnet_of(  # type: ignore[arg-type]
                    ipaddress.ip_network(self.cluster_cidr)  # type: ignore[arg-type]
                ):
                    self._rules = forward_rules(pod_cidr, self.cluster_cidr, self.tag)
                    await ensure_forward_rules(self._rules)
                else:
                    log.warning(
                        "node %s: podCIDR %s is outside --cluster-cidr %s: no forwarding "
                        "rules for it (give the kubelet the controller manager's range)",
                        self.node,
                        pod_cidr,
                        self.cluster_cidr,
                    )
                self.pod_cidr = pod_cidr
            await self.backend.apply(await self._desired())
        except Exception as e:  # noqa: BLE001 - logged; the next change retries
            log.warning("node %s: programming pod routes failed: %s", self.node, e)

    async def stop(self) -> None:
        """Remove this node's rules and the peer routes; the safety routes stay while a
        bridge of the cluster's range is still on this box."""
        if self.disabled:
            return
        try:
            await remove_forward_rules(self._rules)
            subnets, _ = await asyncio.to_thread(_local_networks)
            cluster = ipaddress.ip_network(self.cluster_cidr)
            in_use = any(
                ipaddress.ip_network(s).subnet_of(cluster)  # type: ignore[arg-type]
                for s in subnets
                if ipaddress.ip_network(s).version == 4
            )
            keep = [Route(c, kind=UNREACHABLE) for c in self.safety] if in_use else []
            await self.backend.cleanup(keep)
        except Exception as e:  # noqa: BLE001
            log.warning("node %s: removing pod routes failed: %s", self.node, e)
