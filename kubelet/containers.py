"""From a pod's container spec to a runtime ``ContainerSpec``: labels, names, spec hash,
published ports, resource limits and GPUs. Pure functions, no I/O except picking a free port.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from api.quantity import parse_quantity
from kubelet.envvars import expand
from kubelet.podspec_runtime import CLUSTER_DOMAIN, container_security, pod_identity
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_CONTAINER_HASH,
    LABEL_CONTAINER_INIT,
    LABEL_CONTAINER_NAME,
    LABEL_NODE,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    LABEL_RESTART_COUNT,
    ContainerSpec,
    Mount,
    PortMapping,
)

GPU_ANNOTATION = "kubelab.io/gpu-uuids"
HOST_PORTS_ANNOTATION = "kubelab.io/host-ports"


def spec_hash(container: dict[str, Any]) -> str:
    """A short, stable hash of a container's spec; a changed hash means recreate.

    Probe settings and resources are left out: changing them must not restart anything
    (Kubernetes would not either).
    """
    relevant = {
        k: v
        for k, v in container.items()
        if k not in ("livenessProbe", "readinessProbe", "startupProbe", "resources")
    }
    blob = json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def pod_labels(node: str, pod: dict[str, Any], cluster: str = "") -> dict[str, str]:
    """The labels that find every container of a pod on this node; ``cluster`` is the
    cluster UID that makes the container this kubelet's (kubelet/ownership.py)."""
    meta = pod["metadata"]
    return {
        **({LABEL_CLUSTER: cluster} if cluster else {}),
        LABEL_NODE: node,
        LABEL_POD_UID: meta["uid"],
        LABEL_POD_NAMESPACE: meta.get("namespace", "default"),
        LABEL_POD_NAME: meta["name"],
    }


def container_labels(
    node: str,
    pod: dict[str, Any],
    container: dict[str, Any],
    restart_count: int,
    init: bool = False,
    cluster: str = "",
) -> dict[str, str]:
    labels = pod_labels(node, pod, cluster)
    labels[LABEL_CONTAINER_NAME] = container["name"]
    labels[LABEL_CONTAINER_HASH] = spec_hash(container)
    labels[LABEL_RESTART_COUNT] = str(restart_count)
    if init:
        labels[LABEL_CONTAINER_INIT] = "true"
    return labels


def container_name(pod: dict[str, Any], container: dict[str, Any], restart_count: int) -> str:
    """``kl_<container>_<pod>_<namespace>_<uid8>_<restarts>``: unique and readable in ``docker ps``."""
    meta = pod["metadata"]
    return (
        f"kl_{container['name']}_{meta['name']}_{meta.get('namespace', 'default')}_"
        f"{meta['uid'][:8]}_{restart_count}"
    )


def gpu_uuids(pod: dict[str, Any]) -> list[str]:
    """The GPUs the scheduler bound to this pod (annotation ``kubelab.io/gpu-uuids``)."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(GPU_ANNOTATION, "")
    return [u.strip() for u in raw.split(",") if u.strip()]


def limits(container: dict[str, Any]) -> tuple[int | None, int | None]:
    """(nano CPUs, memory bytes) from ``resources.limits``; None where unset."""
    lim = (container.get("resources") or {}).get("limits") or {}
    cpu = lim.get("cpu")
    mem = lim.get("memory")
    nano = int(parse_quantity(cpu) * 1_000_000_000) if cpu is not None else None
    memory = int(parse_quantity(mem)) if mem is not None else None
    return nano or None, memory or None


def _probe_ports(container: dict[str, Any]) -> list[int]:
    """Numeric ports that probes and lifecycle hooks reach (they must be published)."""
    out = []
    hooks = container.get("lifecycle") or {}
    handlers = [container.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")]
    for probe in [*handlers, hooks.get("postStart"), hooks.get("preStop")]:
        probe = probe or {}
        for action in ("httpGet", "tcpSocket"):
            port = (probe.get(action) or {}).get("port")
            if isinstance(port, int):
                out.append(port)
            elif isinstance(port, str) and port.isdigit():
                out.append(int(port))
    return out


def port_key(container_name: str, container_port: int) -> str:
    return f"{container_name}/{container_port}"


def free_port(address: str, avoid: Iterable[int] = ()) -> int:
    """A TCP port nobody listens on at ``address`` right now (and not in ``avoid``)."""
    avoid_set = set(avoid)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
            port = int(s.getsockname()[1])
        if port not in avoid_set:
            return port
    raise OSError(f"no free port on {address}")


def plan_ports(pod: dict[str, Any], address: str, used: Iterable[int] = ()) -> dict[str, int]:
    """Host port per ``<container>/<containerPort>``: ``hostPort`` when given, the one
    already reported in the pod's annotation when there is one (stable across restarts),
    else a free port. Ports that probes use are published too."""
    previous: dict[str, int] = {}
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(HOST_PORTS_ANNOTATION)
    if raw:
        try:
            previous = {str(k): int(v) for k, v in json.loads(raw).items()}
        except (ValueError, TypeError, AttributeError):
            previous = {}
    taken = set(used)
    plan: dict[str, int] = {}
    # On the node's network a container listens on the node's port itself.
    host_network = (pod.get("spec") or {}).get("hostNetwork") is True
    for c in (pod.get("spec") or {}).get("containers") or []:
        wanted: list[tuple[int, int | None]] = []
        for p in c.get("ports") or []:
            if "containerPort" in p:
                wanted.append((int(p["containerPort"]), p.get("hostPort")))
        declared = {cp for cp, _ in wanted}
        wanted += [(p, None) for p in _probe_ports(c) if p not in declared]
        for cport, hport in wanted:
            key = port_key(c["name"], cport)
            if key in plan:
                continue
            if host_network:
                plan[key] = cport
            elif hport:
                plan[key] = int(hport)
            elif key in previous:
                plan[key] = previous[key]
            else:
                plan[key] = free_port(address, taken)
            taken.add(plan[key])
    return plan


def port_protocols(container: dict[str, Any]) -> dict[int, str]:
    return {
        int(p["containerPort"]): str(p.get("protocol") or "TCP").upper()
        for p in container.get("ports") or []
        if "containerPort" in p
    }


def build_spec(
    *,
    node: str,
    address: str,
    pod: dict[str, Any],
    container: dict[str, Any],
    restart_count: int,
    env: dict[str, str],
    mounts: list[Mount],
    host_ports: Mapping[str, int],
    real_gpus: bool,
    init: bool = False,
    cluster: str = "",
    termination_log: Mount | None = None,
    cluster_domain: str = CLUSTER_DOMAIN,
    network_of: str | None = None,
) -> ContainerSpec:
    """The runtime spec for one container instance (``init``: of spec.initContainers).
    ``network_of`` is the pod's sandbox, whose network namespace the container joins:
    the hostname, /etc/hosts entries, published ports and network sysctls are the
    sandbox's then."""
    gpus = gpu_uuids(pod)
    env = dict(env)
    # Exactly the bound GPUs, never "all"; "void" hides every GPU from a pod without any.
    env["NVIDIA_VISIBLE_DEVICES"] = ",".join(gpus) if gpus else "void"
    nano, memory = limits(container)
    protocols = port_protocols(container)
    ports = []
    prefix = f"{container['name']}/"
    for key, hport in host_ports.items():
        if key.startswith(prefix):
            cport = int(key[len(prefix) :])
            ports.append(PortMapping(cport, int(hport), address, protocols.get(cport, "TCP")))
    command = container.get("command")
    args = container.get("args")
    identity = pod_identity(pod, cluster_domain)
    security = container_security(pod, container)
    if identity.host_network:
        ports = []  # the container's ports are the node's already
    sysctls = dict(security.sysctls)
    if network_of:
        ports = []
        sysctls = {k: v for k, v in sysctls.items() if not k.startswith("net.")}
    joined = network_of is not None
    return ContainerSpec(
        name=container_name(pod, container, restart_count),
        image=container["image"],
        labels=container_labels(node, pod, container, restart_count, init, cluster),
        command=[expand(str(a), env) for a in command] if command else None,
        args=[expand(str(a), env) for a in args] if args else None,
        working_dir=container.get("workingDir") or None,
        env=env,
        ports=ports,
        mounts=mounts,
        nano_cpus=nano,
        memory_bytes=memory,
        gpu_uuids=gpus,
        real_gpus=real_gpus and bool(gpus),
        tty=bool(container.get("tty")),
        stdin=bool(container.get("stdin")),
        hostname=None if joined else identity.hostname,
        domainname=None if joined else identity.domainname,
        host_network=identity.host_network,
        extra_hosts=[] if joined else list(identity.extra_hosts),
        host_pid=identity.host_pid,
        host_ipc=identity.host_ipc,
        share_pid=identity.share_pid and joined and not identity.host_pid,
        user=security.user,
        group_add=list(security.group_add),
        privileged=security.privileged,
        cap_add=list(security.cap_add),
        cap_drop=list(security.cap_drop),
        read_only_rootfs=security.read_only_rootfs,
        security_opt=list(security.security_opt),
        sysctls=sysctls,
        termination_log=termination_log,
        network_of=network_of,
    )
