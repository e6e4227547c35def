"""A pod's /etc/resolv.conf from its ``dnsPolicy`` and ``dnsConfig``, as the Kubernetes
kubelet writes it (pkg/kubelet/network/dns). Pure except ``write_resolv_conf``.

- ``ClusterFirst`` (the default): the cluster DNS (``--cluster-dns``), search
  ``NS.svc.DOMAIN svc.DOMAIN DOMAIN`` then the host's search domains, ``options ndots:5``.
  A ``hostNetwork`` pod with ClusterFirst gets ``Default`` instead; it asks for the cluster
  DNS with ``ClusterFirstWithHostNet``. A kubelet without ``--cluster-dns`` falls back to
  ``Default`` too, and says so (Kubernetes' MissingClusterDNS).
- ``Default``: the node's own resolv.conf (nameservers, search, options).
- ``None``: only what ``dnsConfig`` says.

``dnsConfig`` is then merged in: its nameservers and searches appended (duplicates
dropped), its options overriding those of the same name. The result keeps at most 3
nameservers and 32 search domains of at most 2048 characters, as glibc and the kubelet.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.events import WARNING
from kubelet.runtime.base import Mount
from kubelet.volumes import pod_dir

if TYPE_CHECKING:
    from kubelet.podhandle import PodHandle

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048
CLUSTER_OPTIONS = ("ndots:5",)
CONTAINER_PATH = "/etc/resolv.conf"


@dataclass(frozen=True)
class ClusterDNS:
    """The kubelet's cluster DNS settings (``--cluster-dns``, ``--cluster-domain``)."""

    servers: tuple[str, ...] = ()
    domain: str = "cluster.local"


@dataclass
class DNSConfig:
    """The three things a resolv.conf holds."""

    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # "name" or "name:value"


@dataclass(frozen=True)
class PodDNS:
    text: str  # the file's content
    warning: str = ""  # why the pod did not get what it asked for ("" when it did)
    reason: str = ""  # the Warning event's reason, as the Kubernetes kubelet names it


def parse_resolv_conf(text: str) -> DNSConfig:
    """The nameservers, search domains and options of a resolv.conf (the last ``search``
    line wins, as in glibc; ``options`` lines add up)."""
    out = DNSConfig()
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            out.nameservers.append(values[0])
        elif key in ("search", "domain"):
            out.searches = [s.rstrip(".") for s in values if s.rstrip(".")]
        elif key == "options":
            out.options += values
    return out


def effective_policy(spec: dict[str, Any]) -> str:
    """``ClusterFirst``, ``Default`` or ``None``: what the pod's policy amounts to."""
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet":
        return "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork") is True:
        return "Default"
    return str(policy)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(base: list[str], extra: list[dict[str, Any]]) -> list[str]:
    """Options by name: ``extra``'s value replaces the one ``base`` has."""
    merged: dict[str, str | None] = {}
    for opt in base:
        name, sep, value = opt.partition(":")
        merged[name] = value if sep else None
    for item in extra:
        name = str(item.get("name") or "")
        if name:
            given = item.get("value")
            merged[name] = None if given is None else str(given)
    return [name if value is None else f"{name}:{value}" for name, value in merged.items()]


def _fit_searches(searches: list[str]) -> list[str]:
    out: list[str] = []
    total = 0
    for s in searches[:MAX_SEARCHES]:
        total += len(s) + (1 if out else 0)
        if total > MAX_SEARCH_CHARS:
            break
        out.append(s)
    return out


def pod_dns_config(pod: dict[str, Any], cluster: ClusterDNS, host: DNSConfig) -> PodDNS:
    """The resolv.conf of ``pod`` given the kubelet's cluster DNS and the node's own file."""
    spec = pod.get("spec") or {}
    policy = effective_policy(spec)
    warning = reason = ""
    if policy == "ClusterFirst" and not cluster.servers:
        policy = "Default"
        reason = "MissingClusterDNS"
        warning = (
            "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
            '"ClusterFirst" policy. Falling back to "Default" policy.'
        )
    if policy == "ClusterFirst":
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        domain = cluster.domain.strip(".")
        cfg = DNSConfig(
            list(cluster.servers),
            [f"{ns}.svc.{domain}", f"svc.{domain}", domain, *host.searches],
            list(CLUSTER_OPTIONS),
        )
    elif policy == "Default":
        cfg = DNSConfig(list(host.nameservers), list(host.searches), list(host.options))
    else:  # None: dnsConfig alone (validation requires a nameserver there)
        cfg = DNSConfig()
    extra = spec.get("dnsConfig") or {}
    cfg.nameservers = _unique(cfg.nameservers + [str(n) for n in extra.get("nameservers") or []])
    cfg.searches = _unique(cfg.searches + [str(s) for s in extra.get("searches") or []])
    cfg.options = _merge_options(cfg.options, list(extra.get("options") or []))
    if len(cfg.nameservers) > MAX_NAMESERVERS:
        reason = reason or "DNSConfigForming"
        warning = warning or (
            f"Nameserver limits were exceeded, some nameservers have been omitted, the "
            f"applied nameserver line is: {' '.join(cfg.nameservers[:MAX_NAMESERVERS])}"
        )
        cfg.nameservers = cfg.nameservers[:MAX_NAMESERVERS]
    fitted = _fit_searches(cfg.searches)
    if fitted != cfg.searches:
        reason = reason or "DNSConfigForming"
        warning = warning or (
            f"Search Line limits were exceeded, some search paths have been omitted, the "
            f"applied search line is: {' '.join(fitted)}"
        )
        cfg.searches = fitted
    return PodDNS(format_resolv_conf(cfg), warning, reason)


def format_resolv_conf(cfg: DNSConfig) -> str:
    lines = [f"nameserver {n}" for n in cfg.nameservers]
    if cfg.searches:
        lines.append("search " + " ".join(cfg.searches))
    if cfg.options:
        lines.append("options " + " ".join(cfg.options))
    return "\n".join(lines) + "\n"


def host_resolv_conf_path() -> str:
    """The node's resolver file, as kubeadm picks it: with systemd-resolved's stub
    (127.0.0.53, unreachable from a pod) the file of the real upstreams instead."""
    real = Path("/run/systemd/resolve/resolv.conf")
    try:
        stub = "nameserver 127.0.0.53" in Path("/etc/resolv.conf").read_text()
    except OSError:
        stub = False
    return str(real) if stub and real.exists() else "/etc/resolv.conf"


def read_host_config(path: str | Path) -> DNSConfig:
    """The node's resolv.conf parsed; empty when it cannot be read."""
    try:
        return parse_resolv_conf(Path(path).read_text())
    except OSError:
        return DNSConfig()


def write_resolv_conf(pod_dir: Path, text: str) -> Path:
    """Write the pod's file (world-readable: any container user resolves names)."""
    pod_dir.mkdir(parents=True, exist_ok=True)
    path = pod_dir / "resolv.conf"
    try:
        if path.read_text() == text:
            return path  # unchanged: the running containers keep the same file
    except OSError:
        pass
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


async def resolv_conf_mount(h: PodHandle, mounts: list[Mount]) -> list[Mount]:
    """The mount of the pod's resolv.conf at /etc/resolv.conf for one container (none
    when the container mounts a volume of its own there)."""
    if any(m.container_path == CONTAINER_PATH for m in mounts):
        return []
    cfg = h.ctx.config
    host = await asyncio.to_thread(read_host_config, cfg.resolv_conf)
    dns = pod_dns_config(h.pod, ClusterDNS(cfg.cluster_dns, cfg.cluster_domain), host)
    if dns.warning:
        h.event(WARNING, dns.reason, dns.warning)
    path = await asyncio.to_thread(write_resolv_conf, pod_dir(cfg.root_dir, h.uid), dns.text)
    return [Mount(str(path), CONTAINER_PATH)]
