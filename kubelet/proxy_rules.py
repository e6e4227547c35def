"""The kernel Service proxy's plan: Services and their ready endpoints -> one nftables table.

Pure: no I/O. ``kubelet/kernelproxy.py`` applies the text this module writes, in one
transaction, and ``kubelet/proxy.py`` decides when.

The table is this kubelet's alone, ``ip kubelab-<hash>`` where the hash is of the cluster
uid and the node name (``kubelet/ownership.py``'s identity), so two kubelets, or two
clusters, on one box never touch each other's rules. Its layout follows kube-proxy's
nftables mode (and the chain pattern of its iptables mode):

- ``nat-prerouting`` (this node's pods, other boxes) and ``nat-output`` (this host) jump
  to ``cluster-ips``, which sends ``clusterIP proto port`` to the Service port's chain
  ``svc-...`` (from the pod bridge only, see ``render``), and for any local address but
  127.0.0.0/8 to ``nodeports`` (``ext-...``);
- ``svc-...`` marks for masquerade what does not come from the cluster CIDR, then picks an
  endpoint chain with ``numgen random mod N`` (kube-proxy's iptables mode writes the same
  choice as ``statistic mode random probability 1/n`` rules), or first the endpoint a
  client is stuck to (``sessionAffinity: ClientIP``: one dynamic set per endpoint with the
  Service's timeout);
- ``sep-...`` marks hairpin traffic (an endpoint reaching its own Service) for masquerade
  and DNATs to ``ip:port``; ``ext-...`` (NodePort) always marks, then goes to ``svc-...``;
- ``nat-postrouting`` masquerades marked packets; ``filter-input``/``-forward``/``-output``
  reject new connections to a Service port with no ready endpoint (ICMP port unreachable,
  which a client sees at once as "connection refused", as kube-proxy answers), instead of
  letting them hang.
- Scale to zero (``kubelet/activator.py``): a TCP port of a Service with the activator
  mark and no ready endpoint is not rejected but redirected (``redirect to :H``: to the
  incoming interface's own address, 127.0.0.1 from the host) to the proxy's local holding
  listener for it; ``filter-input`` refuses connections to those listeners that were not
  redirected. The chain of such a Service with endpoints counts its new connections
  (``counter``), which the proxy reads as its requests.

Choices (where the brief left them open):

- NodePorts are not served on 127.0.0.0/8 in the kernel (as kube-proxy's nftables mode):
  DNAT from loopback to a pod needs ``route_localnet``, which re-opens CVE-2020-8558 for
  the whole host. The userspace listener of ``kubelet/proxy.py`` keeps serving the
  NodePort on a loopback node address.
- Without ``cluster_cidr`` (unknown, or a bridge without ``br-netfilter``, where the reply
  of a pod on the same bridge would bypass conntrack), every Service connection is
  masqueraded: always correct, only the client's address is lost.
- ``externalTrafficPolicy``/``internalTrafficPolicy: Local`` is served as ``Cluster`` with a
  note (the caller logs it); SCTP and other protocols get no rules, with a note.
- Endpoints in 127.0.0.0/8 (the host-port world before the pod network) are left out with
  a note: a pod's packet cannot be DNATed to the host's loopback.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.scaletozero import activator_mark

Obj = dict[str, Any]
TABLE_PREFIX = "kubelab-"
MASQ_MARK = "0x4000"  # kube-proxy's bit; only packets this table DNATed carry it here
DEFAULT_AFFINITY_SECONDS = 10800  # Kubernetes' default sessionAffinityConfig timeout
PROTOCOLS = ("TCP", "UDP")


def owner_hash(cluster_uid: str, node: str) -> str:
    """Eight hex digits naming this kubelet's kernel objects (its table, its interface)."""
    return hashlib.sha256(f"{cluster_uid}/{node}".encode()).hexdigest()[:8]


def table_name(cluster_uid: str, node: str) -> str:
    """The nftables table (family ``ip``) this kubelet owns."""
    return TABLE_PREFIX + owner_hash(cluster_uid, node)


def cluster_ip(svc: Obj) -> str:
    """The Service's IPv4 ClusterIP, or "" when it has none (unset, ``None``, IPv6)."""
    raw = str((svc.get("spec") or {}).get("clusterIP") or "")
    try:
        return raw if ipaddress.ip_address(raw).version == 4 else ""
    except ValueError:
        return ""


def kernel_served(svc: Obj) -> bool:
    """Whether the kernel path serves this Service's ClusterIP and NodePorts: it has a real
    ClusterIP (allocated by the apiserver) and is not an ExternalName alias."""
    stype = (svc.get("spec") or {}).get("type") or "ClusterIP"
    return stype != "ExternalName" and bool(cluster_ip(svc))


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service as the kernel serves it."""

    service: str  # "ns/name"
    port_name: str
    protocol: str  # "tcp" or "udp" (nft's spelling)
    cluster_ip: str
    port: int
    node_port: int = 0  # 0: none
    backends: tuple[tuple[str, int], ...] = ()
    affinity_seconds: int = 0  # 0: no session affinity
    hold_port: int = 0  # the activator's local listener while no endpoint is ready (0: none)
    counted: bool = False  # count new connections (a Service marked for the activator)

    @property
    def chain_id(self) -> str:
        """A stable, readable, nft-safe name for this Service port's chains."""
        ns, _, name = self.service.partition("/")
        digest = hashlib.sha256(
            f"{self.service}/{self.port_name}/{self.protocol}".encode()
        ).hexdigest()[:8]
        return f"{digest}-{ns}-{name}-{self.protocol}-{self.port}"


@dataclass
class Plan:
    """The rules for one sync: the nft script of the table, the ClusterIPs to bind on the
    host (so host->ClusterIP routes locally), and what the caller should log."""

    table: str
    script: str
    cluster_ips: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ports: list[ServicePort] = field(default_factory=list)


@dataclass(frozen=True)
class StaleFlows:
    """UDP conntrack entries to delete after a sync: those sent to ``dport`` (at
    ``daddr``, or at any local address for a NodePort: ``daddr`` "") that were DNATed to
    ``endpoint`` (or, with ``endpoint`` None, rejected: the port had no endpoint)."""

    daddr: str
    dport: int
    endpoint: tuple[str, int] | None


def stale_udp_flows(
    before: Iterable[ServicePort], after: Iterable[ServicePort]
) -> list[StaleFlows]:
    """What a sync from ``before`` to ``after`` leaves stale in conntrack (pure). UDP has no
    connection end, so an entry keeps a client's packets going where the first one went,
    as long as the client keeps sending: to an endpoint that is gone, or to the REJECT of
    a port that now has endpoints. kube-proxy deletes those entries; so does this proxy."""
    old = {(sp.service, sp.port_name): sp for sp in before if sp.protocol == "udp"}
    new = {(sp.service, sp.port_name): sp for sp in after if sp.protocol == "udp"}
    out: list[StaleFlows] = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        sp = now or was
        assert sp is not None
        targets = [(sp.cluster_ip, sp.port)] + ([("", sp.node_port)] if sp.node_port else [])
        gone = sorted(set(was.backends if was else ()) - set(now.backends if now else ()))
        for daddr, dport in targets:
            out += [StaleFlows(daddr, dport, ep) for ep in gone]
            # (A Service that had no endpoints, or no rules yet, sent its clients' packets
            # to the REJECT or nowhere: those entries would keep them from the DNAT.)
            if now is not None and now.backends and not (was and was.backends):
                out.append(StaleFlows(daddr, dport, None))
    return out


def ready_backends(endpoints: Obj | None, port_name: str) -> list[tuple[str, int]]:
    """``(ip, port)`` of every ready address of ``endpoints`` for the Service port named
    ``port_name`` (pure; not-ready addresses never get traffic). Both proxies use it."""
    if not endpoints:
        return []
    out: list[tuple[str, int]] = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        match = [p for p in ports if str(p.get("name") or "") == port_name]
        if not match and len(ports) == 1 and not port_name:
            match = ports
        if not match:
            continue
        port = int(match[0]["port"])
        for addr in subset.get("addresses") or []:
            if addr.get("ip"):
                out.append((str(addr["ip"]), port))
    return sorted(set(out))


def service_ports(
    services: Iterable[Obj],
    endpoints: Mapping[str, Obj],
    hold_ports: Mapping[tuple[str, str], int] | None = None,
) -> tuple[list[ServicePort], list[str]]:
    """The kernel-served ports of ``services`` with their ready backends (``endpoints``:
    Endpoints objects by "ns/name"), and notes on what is served differently or not.
    ``hold_ports``: the activator's listener by ("ns/name", port name), for the Services
    with the activator mark."""
    out: list[ServicePort] = []
    notes: list[str] = []
    for svc in services:
        meta = svc.get("metadata") or {}
        if meta.get("deletionTimestamp") or not kernel_served(svc):
            continue
        spec = svc.get("spec") or {}
        key = f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"
        for policy in ("externalTrafficPolicy", "internalTrafficPolicy"):
            if spec.get(policy) == "Local":
                notes.append(f"{key}: {policy} Local is served as Cluster by this proxy")
        if spec.get("externalIPs"):
            notes.append(f"{key}: externalIPs are not served by this proxy")
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
            affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
        with_node_port = spec.get("type") in ("NodePort", "LoadBalancer")
        counted = activator_mark(svc) is not None
        for p in spec.get("ports") or []:
            proto = str(p.get("protocol") or "TCP").upper()
            name = str(p.get("name") or "")
            if proto not in PROTOCOLS:
                notes.append(f"{key}: port {p.get('port')}/{proto} is not served (TCP/UDP only)")
                continue
            backends = []
            for ip, port in ready_backends(endpoints.get(key), name):
                if ipaddress.ip_address(ip).is_loopback:
                    notes.append(f"{key}: endpoint {ip}:{port} is loopback, left out")
                else:
                    backends.append((ip, port))
            out.append(
                ServicePort(
                    service=key,
                    port_name=name,
                    protocol=proto.lower(),
                    cluster_ip=cluster_ip(svc),
                    port=int(p.get("port") or 0),
                    node_port=int(p.get("nodePort") or 0) if with_node_port else 0,
                    backends=tuple(backends),
                    affinity_seconds=affinity,
                    hold_port=(hold_ports or {}).get((key, name), 0) if proto == "TCP" else 0,
                    counted=counted,
                )
            )
    out.sort(key=lambda sp: (sp.service, sp.protocol, sp.port))
    return out, notes


def _masq_unless_from(cluster_cidr: str | None) -> str:
    if cluster_cidr:
        return f"ip saddr != {cluster_cidr} jump mark-for-masquerade"
    return "jump mark-for-masquerade"


def _chain(name: str, rules: Iterable[str], hook: str = "") -> list[str]:
    lines = [f"\tchain {name} {{"]
    if hook:
        lines.append(f"\t\t{hook}")
    lines += [f"\t\t{r}" for r in rules]
    lines.append("\t}")
    return lines


def _iifname(interfaces: Sequence[str]) -> str:
    names = [f'"{i}"' for i in interfaces]
    return f"iifname {names[0]}" if len(names) == 1 else f"iifname {{ {', '.join(names)} }}"


def render(
    table: str,
    ports: list[ServicePort],
    cluster_cidr: str | None = None,
    pod_interfaces: Sequence[str] = (),
) -> str:
    """The nft script that defines ``table`` with the rules for ``ports`` (pure). The
    executor prefixes it with the lines that drop the previous version in the same
    transaction.

    ``pod_interfaces`` (this node's pod bridge): arriving packets are DNATed for a
    ClusterIP only when they come from there. A pod's packet for a ClusterIP is DNATed by
    its own node, so nothing is lost, and two clusters on one box (every cluster has its
    ``kubernetes`` Service at ``.1`` and DNS at ``.10`` of the same default range) each
    serve their own pods. Without it, from any interface. NodePorts: from anywhere."""
    body: list[str] = []
    if pod_interfaces:
        prerouting = [
            f"{_iifname(pod_interfaces)} jump cluster-ips",
            f"{_LOCAL_NOT_LOOPBACK} jump nodeports",
        ]
    else:
        prerouting = ["jump services"]
    body += _chain(
        "nat-prerouting", prerouting, "type nat hook prerouting priority dstnat; policy accept;"
    )
    body += _chain(
        "nat-output", ["jump services"], "type nat hook output priority -100; policy accept;"
    )
    body += _chain(
        "nat-postrouting",
        ["jump masquerading"],
        "type nat hook postrouting priority srcnat; policy accept;",
    )
    # The connection keeps the bit too (ct mark): Docker's FORWARD lets such flows pass in
    # both directions (``kubelet/kernelproxy.py``'s DOCKER-USER rule).
    body += _chain(
        "mark-for-masquerade",
        [f"meta mark set meta mark | {MASQ_MARK}", f"ct mark set ct mark | {MASQ_MARK}"],
    )
    body += _chain(
        "masquerading",
        [
            f"meta mark & {MASQ_MARK} == 0 return",
            f"meta mark set meta mark ^ {MASQ_MARK}",
            "masquerade fully-random",
        ],
    )
    dispatch: list[str] = []
    nodeports: list[str] = []
    rejects: list[str] = []
    holders = sorted({sp.hold_port for sp in ports if sp.hold_port})
    if holders:
        # Only a redirected connection may reach a holding listener (bound on every
        # address, since a redirect lands on the incoming interface's own).
        ports_set = ", ".join(str(h) for h in holders)
        rejects.append(
            f"tcp dport {{ {ports_set} }} fib daddr type local ct status & dnat == 0 reject"
        )
    for sp in ports:
        cid = sp.chain_id
        match = f"ip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port}"
        if not sp.backends and sp.hold_port:
            dispatch.append(f"{match} redirect to :{sp.hold_port}")
            if sp.node_port:
                nodeports.append(f"tcp dport {sp.node_port} redirect to :{sp.hold_port}")
            continue
        if not sp.backends:
            rejects.append(f"{match} reject")
            if sp.node_port:
                rejects.append(f"{_LOCAL_NOT_LOOPBACK} {sp.protocol} dport {sp.node_port} reject")
            continue
        dispatch.append(f"{match} goto svc-{cid}")
        if sp.node_port:
            nodeports.append(f"{sp.protocol} dport {sp.node_port} goto ext-{cid}")
            body += _chain(f"ext-{cid}", ["jump mark-for-masquerade", f"goto svc-{cid}"])
        # Named by endpoint, not position: a sync keeps what a name meant (the affinity
        # sets survive syncs, see kubelet/kernelproxy.py), and the timeout is in the set's
        # name since a set's definition cannot change in place.
        eps = [f"{cid}__{ip}/{port}" for ip, port in sp.backends]
        seps = [f"sep-{e}" for e in eps]
        affs = [f"aff-{e}/{sp.affinity_seconds}s" for e in eps]
        svc_rules = (["counter"] if sp.counted else []) + [_masq_unless_from(cluster_cidr)]
        if sp.affinity_seconds:
            svc_rules += [
                f"ip saddr @{aff} goto {sep}" for aff, sep in zip(affs, seps, strict=True)
            ]
        if len(seps) == 1:
            svc_rules.append(f"goto {seps[0]}")
        else:
            choices = ", ".join(f"{i} : goto {sep}" for i, sep in enumerate(seps))
            svc_rules.append(f"numgen random mod {len(seps)} vmap {{ {choices} }}")
        body += _chain(f"svc-{cid}", svc_rules)
        for (ip, port), sep, aff in zip(sp.backends, seps, affs, strict=True):
            rules = [f"ip saddr {ip} jump mark-for-masquerade"]
            if sp.affinity_seconds:
                body.append(
                    f"\tset {aff} {{ type ipv4_addr; flags dynamic,timeout; "
                    f"timeout {sp.affinity_seconds}s; }}"
                )
                rules.append(f"update @{aff} {{ ip saddr }}")
            rules.append(f"meta l4proto {sp.protocol} dnat to {ip}:{port}")
            body += _chain(sep, rules)
    body += _chain("nodeports", nodeports)
    body += _chain("cluster-ips", dispatch)
    body += _chain("services", ["jump cluster-ips", f"{_LOCAL_NOT_LOOPBACK} jump nodeports"])
    body += _chain("no-endpoints", rejects)
    for hook in ("input", "forward", "output"):
        body += _chain(
            f"filter-{hook}",
            ["ct state new jump no-endpoints"],
            f"type filter hook {hook} priority filter - 5; policy accept;",
        )
    return "\n".join([f"table ip {table} {{", *body, "}", ""])


_LOCAL_NOT_LOOPBACK = "fib daddr type local ip daddr != 127.0.0.0/8"


def declared(script: str) -> tuple[set[str], set[str]]:
    """The chains and sets a ``render`` script declares (pure)."""
    chains: set[str] = set()
    sets: set[str] = set()
    for line in script.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] in ("chain", "set") and words[2] == "{":
            (chains if words[0] == "chain" else sets).add(words[1])
    return chains, sets


def plan(
    cluster_uid: str,
    node: str,
    services: Iterable[Obj],
    endpoints: Mapping[str, Obj],
    cluster_cidr: str | None = None,
    pod_interfaces: Sequence[str] = (),
    hold_ports: Mapping[tuple[str, str], int] | None = None,
) -> Plan:
    """The whole table for this kubelet from the informers' Services and Endpoints."""
    ports, notes = service_ports(services, endpoints, hold_ports)
    table = table_name(cluster_uid, node)
    ips = sorted({sp.cluster_ip for sp in ports}, key=ipaddress.ip_address)
    return Plan(table, render(table, ports, cluster_cidr, pod_interfaces), ips, notes, ports)
