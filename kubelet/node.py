"""Node registration, node status and the heartbeat Lease.

``build_node`` is pure (and unit tested); ``NodeAgent`` registers the Node, keeps its
status current (written when it changes, and every ``status_report_period`` anyway) and
renews the Lease in ``kube-node-lease`` every ``lease_renew`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.gpus import GPU_MEMORY_RESOURCE, GPU_RESOURCE
from api.storage import STORAGE_DIR_ANNOTATION
from client import AsyncClient
from kubelet.gpu import GpuDevice, node_labels
from kubelet.runtime.base import ContainerRuntime
from kubelet.timeutil import now_micro, now_rfc3339

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.35.0-kubelab"
LEASE_NAMESPACE = "kube-node-lease"
SCHEME_ANNOTATION = "kubelab.io/kubelet-scheme"


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def host_memory_kib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.platform()


def architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


@dataclass
class NodeFacts:
    """What the node is: everything ``build_node`` needs, gathered once at start."""

    name: str
    address: str
    kubelet_port: int
    scheme: str = "https"
    cpu: str = field(default_factory=lambda: str(os.cpu_count() or 1))
    memory: str = field(default_factory=lambda: f"{host_memory_kib()}Ki")
    pods: int = 110
    runtime_version: str = "docker://unknown"
    hostname: str = field(default_factory=socket.gethostname)
    machine_id: str = ""
    system_uuid: str = ""
    boot_id: str = ""
    kernel_version: str = field(default_factory=platform.release)
    os_image: str = field(default_factory=os_image)
    architecture: str = field(default_factory=architecture)
    extra_labels: dict[str, str] = field(default_factory=dict)
    hollow: bool = False
    # Where local-path volumes of this node live: announced on the Node, where the PV
    # controller reads it to provision (kubelet/local_volumes.py).
    storage_dir: str = ""

    def __post_init__(self) -> None:
        # Hollow nodes share a machine, so their ids come from their names.
        per_node = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"kubelab-node-{self.name}"))
        if not self.machine_id:
            self.machine_id = (
                per_node.replace("-", "")
                if self.hollow
                else _read("/etc/machine-id") or per_node.replace("-", "")
            )
        if not self.system_uuid:
            self.system_uuid = (
                per_node if self.hollow else (_read("/sys/class/dmi/id/product_uuid") or per_node)
            )
        if not self.boot_id:
            self.boot_id = _read("/proc/sys/kernel/random/boot_id") or per_node


def node_info(facts: NodeFacts) -> dict[str, str]:
    """All ten ``nodeInfo`` fields (the Python client rejects a partial one)."""
    return {
        "machineID": facts.machine_id,
        "systemUUID": facts.system_uuid,
        "bootID": facts.boot_id,
        "kernelVersion": facts.kernel_version,
        "osImage": facts.os_image,
        "containerRuntimeVersion": facts.runtime_version,
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": KUBELET_VERSION,
        "operatingSystem": "linux",
        "architecture": facts.architecture,
    }


def node_metadata(facts: NodeFacts, gpus: list[GpuDevice]) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": facts.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": facts.architecture,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": facts.architecture,
        **node_labels(gpus),
        **facts.extra_labels,
    }
    return {
        "name": facts.name,
        "labels": labels,
        "annotations": {
            SCHEME_ANNOTATION: facts.scheme,
            **({STORAGE_DIR_ANNOTATION: facts.storage_dir} if facts.storage_dir else {}),
        },
    }


def _condition(
    ctype: str, ok_status: str, reason: str, message: str, now: str, previous: dict[str, Any]
) -> dict[str, Any]:
    prev = previous.get(ctype) or {}
    since = prev.get("lastTransitionTime") if prev.get("status") == ok_status else None
    return {
        "type": ctype,
        "status": ok_status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": since or now,
    }


def node_status(
    facts: NodeFacts,
    gpus: list[GpuDevice],
    *,
    runtime_ok: bool,
    now: str,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Node's ``status``: capacity, allocatable, conditions, addresses, nodeInfo,
    daemonEndpoints and the kubelab ``gpus`` list."""
    prev_conds = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    healthy = sum(1 for g in gpus if g.healthy)
    capacity = {
        "cpu": facts.cpu,
        "memory": facts.memory,
        "pods": str(facts.pods),
        "ephemeral-storage": "100Gi",
        GPU_RESOURCE: str(len(gpus)),
    }
    allocatable = dict(capacity)
    allocatable[GPU_RESOURCE] = str(healthy)
    if gpus:
        # What pods sharing a GPU by memory may ask for, summed over the node (the
        # scheduler then packs them onto single devices).
        capacity[GPU_MEMORY_RESOURCE] = f"{sum(g.memory_mib for g in gpus)}Mi"
        allocatable[GPU_MEMORY_RESOURCE] = f"{sum(g.memory_mib for g in gpus if g.healthy)}Mi"
    if runtime_ok:
        ready = _condition(
            "Ready", "True", "KubeletReady", "kubelet is posting ready status", now, prev_conds
        )
    else:
        ready = _condition(
            "Ready", "False", "KubeletNotReady", "container runtime is down", now, prev_conds
        )
    conditions = [
        _condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            now,
            prev_conds,
        ),
        _condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            now,
            prev_conds,
        ),
        _condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            now,
            prev_conds,
        ),
        ready,
    ]
    return {
        "capacity": capacity,
        "allocatable": allocatable,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": facts.address},
            {"type": "Hostname", "address": facts.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": facts.kubelet_port}},
        "nodeInfo": node_info(facts),
        "gpus": [g.to_status() for g in gpus],
        "phase": "Running",
    }


def build_node(
    facts: NodeFacts, gpus: list[GpuDevice], *, runtime_ok: bool = True, now: str | None = None
) -> dict[str, Any]:
    """The whole Node object to create at registration."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": node_metadata(facts, gpus),
        "spec": {},
        "status": node_status(facts, gpus, runtime_ok=runtime_ok, now=now or now_rfc3339()),
    }


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    out = dict(status)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or []
    ]
    return out


class NodeAgent:
    """Registers the Node and keeps it and its Lease fresh."""

    def __init__(
        self,
        client: AsyncClient,
        facts: NodeFacts,
        runtime: ContainerRuntime,
        gpus: Callable[[], list[GpuDevice]],
        *,
        lease_duration: int = 40,
        lease_renew: float = 10.0,
        status_report_period: float = 60.0,
        status_check_period: float = 10.0,
    ) -> None:
        self.client = client
        self.facts = facts
        self.runtime = runtime
        self.gpus_fn = gpus
        self.lease_duration = lease_duration
        self.lease_renew = lease_renew
        self.status_report_period = status_report_period
        self.status_check_period = status_check_period
        self.gpus: list[GpuDevice] = []
        self.node_uid = ""
        self._last_status: dict[str, Any] | None = None
        self._last_status_at = 0.0
        self.lease_renewals = 0

    async def _runtime_ok(self) -> bool:
        try:
            self.facts.runtime_version = await self.runtime.version()
            return True
        except Exception:  # noqa: BLE001 - any failure means the runtime is down
            return False

    async def register(self) -> dict[str, Any]:
        """Create the Node, or bring an existing one (a restart) up to date."""
        self.gpus = await asyncio.to_thread(self.gpus_fn)
        runtime_ok = await self._runtime_ok()
        body = build_node(self.facts, self.gpus, runtime_ok=runtime_ok)
        try:
            node = await self.client.create("nodes", body)
            log.info("registered node %s", self.facts.name)
        except ApiError as e:
            if e.code != 409:
                raise
            # Keep what others own (spec: taints, unschedulable; labels set by users).
            meta = body["metadata"]
            node = await self.client.patch(
                "nodes",
                self.facts.name,
                {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}},
            )
            log.info("node %s already registered; updating it", self.facts.name)
        self.node_uid = (node.get("metadata") or {}).get("uid", "")
        await self.update_status(force=True, previous=node.get("status"))
        await self.ensure_lease_namespace()
        await self.renew_lease()
        return node

    async def update_status(
        self, force: bool = False, previous: dict[str, Any] | None = None
    ) -> bool:
        """Write node status if it changed (heartbeat times aside) or the report period
        passed; returns whether it wrote."""
        loop = asyncio.get_running_loop()
        self.gpus = await asyncio.to_thread(self.gpus_fn)
        runtime_ok = await self._runtime_ok()
        status = node_status(
            self.facts,
            self.gpus,
            runtime_ok=runtime_ok,
            now=now_rfc3339(),
            previous=previous if previous is not None else self._last_status,
        )
        stale = loop.time() - self._last_status_at >= self.status_report_period
        if (
            not force
            and not stale
            and self._last_status is not None
            and (_without_heartbeats(status) == _without_heartbeats(self._last_status))
        ):
            return False
        await self.client.patch("nodes", self.facts.name, {"status": status}, subresource="status")
        self._last_status = status
        self._last_status_at = loop.time()
        return True

    async def ensure_lease_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}}
        try:
            await self.client.create("namespaces", body)
        except ApiError as e:
            # 403: a node identity (system:node:NAME) may not create namespaces; the
            # apiserver creates kube-node-lease itself (issue 8: joined nodes, kubelab up).
            if e.code not in (409, 403):
                raise

    def _lease_spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.facts.name,
            "leaseDurationSeconds": self.lease_duration,
            "renewTime": now_micro(),
        }

    async def renew_lease(self) -> None:
        """Renew the node's Lease, creating it (owned by the Node) when missing."""
        try:
            await self.client.patch(
                "leases", self.facts.name, {"spec": self._lease_spec()}, LEASE_NAMESPACE
            )
        except ApiError as e:
            if e.code != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.facts.name,
                    "namespace": LEASE_NAMESPACE,
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Node",
                            "name": self.facts.name,
                            "uid": self.node_uid,
                        }
                    ]
                    if self.node_uid
                    else [],
                },
                "spec": {**self._lease_spec(), "acquireTime": now_micro()},
            }
            try:
                await self.client.create("leases", body, LEASE_NAMESPACE)
            except ApiError as e2:
                if e2.code == 404:
                    await self.ensure_lease_namespace()
                    await self.client.create("leases", body, LEASE_NAMESPACE)
                elif e2.code != 409:
                    raise
        self.lease_renewals += 1

    async def run(self) -> None:
        """Heartbeat forever: the Lease every ``lease_renew`` s, the status when due."""
        await asyncio.gather(self._lease_loop(), self._status_loop())

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_renew)
            try:
                await self.renew_lease()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - keep heartbeating through API outages
                log.warning("lease renewal failed: %s", e)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_check_period)
            try:
                await self.update_status()
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.code == 404:
                    log.warning("node %s disappeared; registering again", self.facts.name)
                    try:
                        await self.register()
                    except Exception as e2:  # noqa: BLE001
                        log.warning("re-registering failed: %s", e2)
                else:
                    log.warning("node status update failed: %s", e)
            except Exception as e:  # noqa: BLE001
                log.warning("node status update failed: %s", e)
