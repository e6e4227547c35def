"""One node's pod network: the subnet the control plane gave the node
(``Node.spec.podCIDR``), the engine bridge for it, and each pod's sandbox container.

Every pod not on the host network gets one sandbox (Kubernetes' pause container) attached
to the node's bridge; its address is the pod IP, and every container of the pod joins its
network namespace, so they share that address and reach each other over localhost.

The bridge is named after the cluster uid and the node (two clusters on one engine never
share one) and labelled with both; the sandbox carries the pod's ownership labels, so the
start-up scan, housekeeping and termination find it as they find the pod's containers.

Where there is no podCIDR (no node IPAM controller runs) the kubelet waits a few seconds
after its start for one, then runs new pods on the node's address as before, saying so
once. The names, specs and decisions are pure functions; ``PodNetwork`` holds the state.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import time
from collections.abc import Mapping
from typing import Any

from api.errors import ApiError
from client import AsyncClient
from kubelet import containers as cspec
from kubelet.podspec_runtime import pod_identity
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_CONTAINER_NAME,
    LABEL_NETWORK_SUBNET,
    LABEL_NODE,
    LABEL_SANDBOX,
    ContainerRuntime,
    ContainerSpec,
    NetworkSpec,
    PortMapping,
    RuntimeError_,
)
from kubelet.runtime.sandbox_image import DEFAULT_SANDBOX_IMAGE, SANDBOX_COMMAND

log = logging.getLogger(__name__)

SANDBOX_CONTAINER_NAME = "POD"  # as the Kubernetes kubelet names it
# How often a node still without a podCIDR reads its Node again: often while pods wait
# for it, seldom once they run on the node's address (a hollow kubelet has many nodes).
CIDR_RECHECK_SECONDS = 0.5
CIDR_RECHECK_OFF_SECONDS = 10.0
# States of the pod network (``PodNetwork.state``).
ON, PENDING, OFF = "on", "pending", "off"


def network_name(cluster_uid: str, node: str) -> str:
    """The engine network of ``node``'s pods in this cluster."""
    return f"kubelab-{node}-{cluster_uid[:8]}"


def bridge_name(cluster_uid: str, node: str) -> str:
    """The Linux bridge under that network: at most 15 characters, so a hash."""
    return "kl" + hashlib.sha256(f"{cluster_uid}/{node}".encode()).hexdigest()[:10]


def gateway(cidr: str) -> str:
    """The node's own address on its pod bridge: the subnet's first host (``.1``)."""
    return str(next(ipaddress.ip_network(cidr).hosts()))


def network_spec(cluster_uid: str, node: str, cidr: str, masquerade: bool = True) -> NetworkSpec:
    return NetworkSpec(
        masquerade=masquerade,
        name=network_name(cluster_uid, node),
        subnet=cidr,
        gateway=gateway(cidr),
        labels={LABEL_CLUSTER: cluster_uid, LABEL_NODE: node, LABEL_NETWORK_SUBNET: cidr},
        bridge=bridge_name(cluster_uid, node),
    )


def host_port_mappings(pod: Mapping[str, Any], address: str) -> list[PortMapping]:
    """The ports a pod asks for on the node (``hostPort``): published by its sandbox,
    which holds the network namespace every container listens in."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort") and "containerPort" in p:
                proto = str(p.get("protocol") or "TCP").upper()
                out.append(PortMapping(int(p["containerPort"]), int(p["hostPort"]), address, proto))
    return out


def sandbox_spec(
    *,
    node: str,
    cluster: str,
    pod: dict[str, Any],
    network: str,
    image: str,
    address: str,
) -> ContainerSpec:
    """The sandbox of ``pod``: the pod's UTS identity (hostname, /etc/hosts), its host
    ports and its network sysctls live here, since its containers share this namespace."""
    meta = pod["metadata"]
    identity = pod_identity(pod)
    labels = cspec.pod_labels(node, pod, cluster)
    labels[LABEL_SANDBOX] = "true"
    labels[LABEL_CONTAINER_NAME] = SANDBOX_CONTAINER_NAME
    sysctls = {
        str(s.get("name")): str(s.get("value"))
        for s in ((pod.get("spec") or {}).get("securityContext") or {}).get("sysctls") or []
        if str(s.get("name", "")).startswith("net.")
    }
    return ContainerSpec(
        name=f"kl_{SANDBOX_CONTAINER_NAME}_{meta['name']}_{meta.get('namespace', 'default')}_"
        f"{meta['uid'][:8]}",
        image=image,
        labels=labels,
        command=list(SANDBOX_COMMAND),
        ports=host_port_mappings(pod, address),
        hostname=identity.hostname,
        domainname=identity.domainname,
        extra_hosts=list(identity.extra_hosts),
        sysctls=sysctls,
        network=network,
    )


def uses_pod_network(pod: Mapping[str, Any]) -> bool:
    """Whether the pod gets an address of its own (everything but hostNetwork)."""
    return (pod.get("spec") or {}).get("hostNetwork") is not True


class PodNetwork:
    """The pod network of one node, as far as this kubelet knows it."""

    def __init__(
        self,
        node: str,
        cidr_wait: float = 5.0,
        sandbox_image: str = DEFAULT_SANDBOX_IMAGE,
        clock: Any = time.monotonic,
    ) -> None:
        self.node = node
        self.cidr = ""
        self.sandbox_image = sandbox_image
        self._clock = clock
        self._deadline = clock() + cidr_wait
        self._checked_at = float("-inf")
        self._said_off = False
        self._ready_for = ""  # the cluster uid whose network and image are in place
        self._lock = asyncio.Lock()
        # Docker masquerades what leaves the bridge, unless the kubelet's pod routes run
        # (then their rules masquerade only what leaves the cluster's range).
        self.masquerade = True

    def learn(self, node: Mapping[str, Any]) -> None:
        """Take the podCIDR from a Node object read from the API (it never changes)."""
        spec = node.get("spec") or {}
        cidrs = spec.get("podCIDRs") or []
        cidr = str(spec.get("podCIDR") or (cidrs[0] if cidrs else ""))
        if cidr and not self.cidr:
            self.cidr = cidr
            log.info("node %s: pod network %s", self.node, cidr)

    @property
    def state(self) -> str:
        """ON with a podCIDR; PENDING while one may still come; OFF after that."""
        if self.cidr:
            return ON
        if self._clock() < self._deadline:
            return PENDING
        if not self._said_off:
            self._said_off = True
            log.warning(
                "node %s has no podCIDR (is the nodeipam controller running?): new pods use "
                "the node's address, with their ports published on it, until it has one",
                self.node,
            )
        return OFF

    async def refresh(self, client: AsyncClient) -> None:
        """Read the Node again for its podCIDR, at most every CIDR_RECHECK_SECONDS."""
        every = CIDR_RECHECK_SECONDS if self.state == PENDING else CIDR_RECHECK_OFF_SECONDS
        if self.cidr or self._clock() - self._checked_at < every:
            return
        self._checked_at = self._clock()
        try:
            self.learn(await client.get("nodes", self.node))
        except ApiError as e:
            log.debug("node %s: cannot read the Node for its podCIDR: %s", self.node, e)

    async def prepare(self, runtime: ContainerRuntime, cluster_uid: str) -> str:
        """Make the node's bridge and the sandbox image exist (once; again after a
        failure); returns the network's name."""
        spec = network_spec(cluster_uid, self.node, self.cidr, self.masquerade)
        async with self._lock:
            if self._ready_for != cluster_uid:
                await runtime.ensure_sandbox_image(self.sandbox_image)
                await runtime.ensure_network(spec)
                self._ready_for = cluster_uid
        return spec.name

    def forget_prepared(self) -> None:
        """A sandbox could not be made: check the network and image again next time."""
        self._ready_for = ""

    async def remove(self, runtime: ContainerRuntime, cluster_uid: str) -> None:
        """Remove the node's bridge when no container uses it any more (the kubelet stops
        with no pods left); one still in use stays for the next kubelet."""
        if not self.cidr or not cluster_uid:
            return
        name = network_name(cluster_uid, self.node)
        try:
            if await runtime.remove_network(name):
                log.info("node %s: removed pod network %s", self.node, name)
        except RuntimeError_ as e:
            log.warning("node %s: cannot remove pod network %s: %s", self.node, name, e)
