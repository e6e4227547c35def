"""The kernel Service proxy's executor: applies a ``kubelet/proxy_rules.py`` plan.

Thin I/O only. Each sync replaces this kubelet's nftables table in one ``nft -f -``
transaction (``replace_script``: a packet sees the old rules or the new, never none or
half), with the ``nft`` binary: the python ``nftables`` bindings ship with
nftables itself (Debian's python3-nftables, PyPI has only third-party copies), and the
binary speaks the same language. No iptables variant: where ``nft`` is
missing the kubelet keeps its userspace proxy, with a log line saying why.

Host -> ClusterIP. A packet the host itself sends does its route lookup *before* the nat
OUTPUT hook, and the pod network installs ``unreachable 10.43.0.0/16`` (the service range
must never leave the box), so without help a host process's connect() to a ClusterIP
fails with "no route to host" before any DNAT could happen. As kube-proxy's IPVS mode
does, this kubelet binds every ClusterIP it serves as a /32 on a dummy interface of its
own, ``kl-<hash>`` (a bridge without ports where the kernel has no dummy module). Local
routes live in the ``local`` table, consulted before ``main``, so the lookup finds one,
the nat OUTPUT hook DNATs, and the packet is re-routed to the endpoint. Pods' packets are
DNATed in PREROUTING, before any route lookup, and need none of this. A ClusterIP port that no
Service defines then reaches the host's own sockets, as the pod's gateway address already
does; ports without ready endpoints are rejected by the table (or redirected to a holding
listener, for a Service scaled to zero: ``kubelet/activator.py``).

UDP. A sync that removes an endpoint of a UDP port (or gives a port its first endpoint)
deletes the conntrack entries that would keep clients' packets on the old path
(``proxy_rules.stale_udp_flows``; netlink through pyroute2), as kube-proxy does.

Leftovers. The first sync replaces whatever table of the same name a previous run left;
``cleanup`` (called at clean shutdown, by ``kubelet --cleanup-proxy``, and at start when
the kubelet runs the userspace proxy) deletes the table, the interface and the
DOCKER-USER rule. Tables of kubelets killed for good (another cluster uid, another node
name) are removed by whichever kubelet starts next on the box (``reap_orphans``, with
``kubelet/kernelproxy_owner.py``'s judgement of their owner).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubelet.kernelproxy_owner import is_orphan, parse_owner, this_process
from kubelet.podnet import bridge_name
from kubelet.proxy_rules import (
    MASQ_MARK,
    TABLE_PREFIX,
    Plan,
    ServicePort,
    StaleFlows,
    declared,
    owner_hash,
    stale_udp_flows,
    table_name,
)

log = logging.getLogger(__name__)
BRIDGE_NF_CALL = "/proc/sys/net/bridge/bridge-nf-call-iptables"
DOCKER_USER = "DOCKER-USER"
VERIFY_SECONDS = 30.0  # how often an unchanged plan checks that its table is still there


async def _iptables(*args: str) -> int:
    """``iptables -w ARGS``' exit status (1 for "no such rule", also when it is missing)."""
    if shutil.which("iptables") is None:
        return 1
    proc = await asyncio.create_subprocess_exec(
        "iptables",
        "-w",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


class KernelProxyError(Exception):
    """A command of the kernel path failed (its stderr is the message)."""


@dataclass(frozen=True)
class Command:
    """One invocation: argv and the text fed on stdin."""

    argv: tuple[str, ...]
    stdin: str = ""


async def _run(cmd: Command) -> str:
    proc = await asyncio.create_subprocess_exec(
        *cmd.argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(cmd.stdin.encode())
    if proc.returncode != 0:
        raise KernelProxyError(
            f"{' '.join(cmd.argv)}: {err.decode(errors='replace').strip() or proc.returncode}"
        )
    return out.decode(errors="replace")


def unavailable_reason(runtime_name: str) -> str:
    """Why the kernel path cannot run here ("" when it can); the caller logs it."""
    if runtime_name == "fake":
        return "the fake runtime runs no containers"
    if os.geteuid() != 0:
        return "not running as root (nftables needs CAP_NET_ADMIN)"
    for tool in ("nft", "ip"):
        if shutil.which(tool) is None:
            return f"the {tool!r} command is not installed"
    return ""


def bridge_netfilter_on() -> bool:
    """Whether bridged IPv4 frames pass netfilter (``br_netfilter``): without it the reply of
    a pod to a client pod on the same bridge bypasses conntrack's un-DNAT, so every Service
    connection must be masqueraded."""
    try:
        with open(BRIDGE_NF_CALL) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def replace_script(plan: Plan, previous: str | None = None, owner: str = "") -> str:
    """The transaction that swaps ``plan.table`` for its new definition (pure).

    Without ``previous`` (the script this process last applied; none after a start) the
    table is deleted and defined anew, whatever an earlier run left in it. With it, the
    table is flushed (every rule goes, set elements stay), the chains and sets the new
    plan no longer declares are deleted, and the rest is declared again with its new
    rules: the ClientIP affinity sets keep their members across syncs. ``owner`` becomes
    the table's comment (``kubelet/kernelproxy_owner.py``)."""
    t = plan.table
    if previous is None:
        comment = f'table ip {t} {{ comment "{owner}"; }}\n' if owner else ""
        return f"table ip {t}\ndelete table ip {t}\n{comment}{plan.script}"
    old_chains, old_sets = declared(previous)
    new_chains, new_sets = declared(plan.script)
    lines = [f"flush table ip {t}"]
    lines += [f"delete chain ip {t} {c}" for c in sorted(old_chains - new_chains)]
    lines += [f"delete set ip {t} {s}" for s in sorted(old_sets - new_sets)]
    return "\n".join(lines) + "\n" + plan.script


def interface_name(cluster_uid: str, node: str) -> str:
    """The dummy interface holding this kubelet's ClusterIPs (15 characters at most)."""
    return "kl-" + owner_hash(cluster_uid, node)


def set_hairpin(bridges: Iterable[str], sysfs: str = "/sys/class/net") -> list[str]:
    """Turn on hairpin mode on every port of ``bridges`` (those that exist); returns the
    ports changed. A pod whose connection to its own Service is DNATed back to itself
    sends the frame out of the bridge port it came in on, which a bridge refuses unless
    the port is in hairpin mode (Kubernetes' kubelet sets it, ``--hairpin-mode``): the
    SYN was dropped, and its retransmission, a new connection to conntrack, tried another
    endpoint a second later."""
    changed = []
    for bridge in bridges:
        brif = Path(sysfs) / bridge / "brif"
        try:
            ports = sorted(p.name for p in brif.iterdir())
        except OSError:
            continue  # not a bridge here (yet)
        for port in ports:
            flag = brif / port / "hairpin_mode"
            try:
                if flag.read_text().strip() != "1":
                    flag.write_text("1")
                    changed.append(port)
            except OSError:
                continue  # the port went meanwhile
    return changed


async def reap_orphans(keep: str) -> list[str]:
    """Remove the kubelab tables (and their interfaces and DOCKER-USER rules) whose owning
    kubelet is gone, except ``keep``; returns the tables removed."""
    me = this_process()
    listing = await _run(Command(("nft", "list", "tables", "ip")))
    removed = []
    for line in listing.splitlines():
        table = line.removeprefix("table ip ").strip()
        if not table.startswith(TABLE_PREFIX) or table == keep:
            continue
        try:
            text = await _run(Command(("nft", "list", "table", "ip", table)))
        except KernelProxyError:
            continue  # gone meanwhile
        comment = next((w for w in text.splitlines() if w.strip().startswith("comment ")), "")
        owner = parse_owner(comment.strip().removeprefix("comment ").strip('"'))
        if is_orphan(owner, me):
            await KernelProxy("", "", table).cleanup()
            removed.append(table)
    return removed


def address_changes(current: set[str], wanted: set[str], dev: str) -> str:
    """``ip -batch`` lines that make ``dev`` hold exactly ``wanted`` /32s (pure)."""
    lines = [f"address del {ip}/32 dev {dev}" for ip in sorted(current - wanted)]
    lines += [f"address add {ip}/32 dev {dev}" for ip in sorted(wanted - current)]
    return "".join(line + "\n" for line in lines)


class KernelProxy:
    """Applies plans for one kubelet (``cluster_uid`` + ``node``)."""

    def __init__(
        self,
        cluster_uid: str,
        node: str,
        table: str = "",
        cluster_cidr: str | None = None,
        pod_interfaces: tuple[str, ...] = (),
    ) -> None:
        self.cluster_uid = cluster_uid
        self.node = node
        # What plans for this node are made with (``proxy_rules.render``): sources not
        # masqueraded (None: all are), interfaces whose packets are DNATed for ClusterIPs.
        self.cluster_cidr = cluster_cidr
        self.pod_interfaces = pod_interfaces
        self.table = table or table_name(cluster_uid, node)
        self.dev = "kl-" + self.table.removeprefix(TABLE_PREFIX)
        self.owner = this_process().comment()
        self.applied: str | None = None  # the plan's script at the last successful sync
        self.applied_ports: list[ServicePort] = []
        self._verified_at = float("-inf")

    async def apply(self, plan: Plan) -> bool:
        """Make the kernel hold ``plan``; False when it already did (nothing run)."""
        await self._ensure_forward_accept()  # Docker may have (re)made its chains since
        set_hairpin(self.pod_interfaces)  # pods that came up since
        if plan.script == self.applied and not await self._table_gone():
            return False
        await self._sync_addresses(set(plan.cluster_ips))
        script = replace_script(plan, self.applied, self.owner)
        try:
            await _run(Command(("nft", "-f", "-"), script))
        except KernelProxyError:
            # The table is not what we last made (deleted by hand, say): the next try
            # replaces it whole instead of flushing what may not be there.
            self.applied = None
            raise
        self.applied = plan.script
        stale = stale_udp_flows(self.applied_ports, plan.ports)
        self.applied_ports = plan.ports
        if stale:
            try:
                await asyncio.to_thread(delete_flows, stale)
            except Exception as e:  # the rules are right; old UDP flows only linger
                log.warning("service proxy: cannot delete stale UDP conntrack entries: %s", e)
        return True

    async def list_table_json(self) -> str:
        """``nft -j list table`` of this kubelet's table (its rule counters, for the
        activator's request counts)."""
        return await _run(Command(("nft", "-j", "list", "table", "ip", self.table)))

    async def cleanup(self) -> bool:
        """Remove this kubelet's table and interface; True when there was something."""
        found = False
        tables = await _run(Command(("nft", "list", "tables", "ip")))
        if f"table ip {self.table}" in tables.splitlines():
            await _run(Command(("nft", "delete", "table", "ip", self.table)))
            found = True
        if await self._addresses() is not None:
            await _run(Command(("ip", "link", "del", self.dev)))
            found = True
        if await _iptables("-C", *self._forward_rule()) == 0:
            while await _iptables("-D", *self._forward_rule()) == 0:
                pass  # every copy (two kubelets of one node name never share a table)
            found = True
        self.applied = None
        self.applied_ports = []
        return found

    async def _table_gone(self) -> bool:
        """Whether the table this process made has gone behind its back (checked at most
        every ``VERIFY_SECONDS``); then it is made again whole at once."""
        now = asyncio.get_running_loop().time()
        if now < self._verified_at + VERIFY_SECONDS:
            return False
        self._verified_at = now
        tables = await _run(Command(("nft", "list", "tables", "ip")))
        if f"table ip {self.table}" in tables.splitlines():
            return False
        log.warning("service proxy: table %s is gone; making it again", self.table)
        self.applied = None
        return True

    def _forward_rule(self) -> tuple[str, ...]:
        return (
            DOCKER_USER,
            *("-m", "connmark", "--mark", f"{MASQ_MARK}/{MASQ_MARK}"),
            *("-m", "comment", "--comment", f"kubelab proxy {self.table}"),
            *("-j", "ACCEPT"),
        )

    async def _ensure_forward_accept(self) -> None:
        """Docker's FORWARD policy is DROP and it isolates its bridges: a NodePort
        connection from outside the pod bridge (the LAN, another bridge) would be dropped
        once DNATed. Flows this table marked for masquerade are accepted in DOCKER-USER,
        the chain Docker leaves to its users (as kube-proxy's KUBE-FORWARD accepts its
        mark). Without Docker's chain (or iptables) nothing drops them: nothing to do."""
        if shutil.which("iptables") is None or await _iptables("-n", "-L", DOCKER_USER) != 0:
            return
        if await _iptables("-C", *self._forward_rule()) != 0:
            if await _iptables("-I", *self._forward_rule()) != 0:
                raise KernelProxyError(f"iptables -I {DOCKER_USER} failed")

    async def _addresses(self) -> set[str] | None:
        """The IPv4 addresses on our interface, None when it does not exist."""
        try:
            out = await _run(Command(("ip", "-j", "-4", "address", "show", "dev", self.dev)))
        except KernelProxyError:
            return None
        found: set[str] = set()
        for link in json.loads(out or "[]"):
            for a in link.get("addr_info") or []:
                if a.get("local"):
                    found.add(str(ipaddress.ip_address(a["local"])))
        return found

    async def _sync_addresses(self, wanted: set[str]) -> None:
        current = await self._addresses()
        if current is None:
            try:
                await _run(Command(("ip", "link", "add", self.dev, "type", "dummy")))
            except KernelProxyError:
                # A kernel without the dummy module: a bridge without ports holds
                # addresses just as well (Docker needs the bridge module anyway).
                await _run(Command(("ip", "link", "add", self.dev, "type", "bridge")))
            await _run(Command(("ip", "link", "set", "dev", self.dev, "up")))
            current = set()
        batch = address_changes(current, wanted, self.dev)
        if batch:
            await _run(Command(("ip", "-batch", "-"), batch))


MODES = ("auto", "kernel", "userspace")


async def start_kernel_proxy(
    mode: str, runtime_name: str, cluster_uid: str, node: str, cluster_cidr: str | None = None
) -> KernelProxy | None:
    """The kernel proxy for ``--proxy-mode`` (None: the userspace proxy serves), with one
    log line saying which and why. Leftovers of an earlier run are removed either way: the
    kernel path replaces them with an empty table until its first sync, the userspace
    path deletes them. ``mode`` "kernel" where the kernel path cannot work raises."""
    # The node's pod bridge (kubelet/podnet.py), and Docker's default one, where pods run
    # while the node has no podCIDR. Pods' replies to pods of the same bridge pass
    # conntrack only with br_netfilter: without it every Service connection is masqueraded.
    kp = KernelProxy(
        cluster_uid,
        node,
        cluster_cidr=cluster_cidr if bridge_netfilter_on() else None,
        pod_interfaces=(bridge_name(cluster_uid, node), "docker0"),
    )
    if os.geteuid() == 0 and shutil.which("nft") and shutil.which("ip"):
        try:
            for table in await reap_orphans(keep=kp.table):
                log.info("service proxy: removed %s, left by a kubelet that is gone", table)
        except (KernelProxyError, OSError) as e:
            log.warning("service proxy: cannot look for orphaned kernel rules: %s", e)
    reason = "--proxy-mode userspace" if mode == "userspace" else unavailable_reason(runtime_name)
    if not reason:
        try:
            await kp.apply(Plan(kp.table, f"table ip {kp.table} {{\n}}\n"))
            log.info("service proxy: kernel (nftables table %s, interface %s)", kp.table, kp.dev)
            return kp
        except (KernelProxyError, OSError) as e:
            reason = f"nftables refused the table: {e}"
    if mode == "kernel":
        raise KernelProxyError(f"--proxy-mode kernel: the kernel path is unavailable: {reason}")
    log.info("service proxy: userspace listeners (kernel path unavailable: %s)", reason)
    if os.geteuid() == 0 and shutil.which("nft") and shutil.which("ip"):
        try:
            if await kp.cleanup():
                log.info("service proxy: removed leftover kernel rules (%s)", kp.table)
        except (KernelProxyError, OSError) as e:
            log.warning("service proxy: cannot remove leftover kernel rules: %s", e)
    return None


def delete_flows(flows: list[StaleFlows]) -> int:
    """Delete the conntrack entries ``flows`` name (blocking netlink; pyroute2, as the
    pod routes use); returns how many went."""
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    deleted = 0
    with Conntrack() as ct:
        for f in flows:
            orig = NFCTAttrTuple(daddr=f.daddr or None, proto=socket.IPPROTO_UDP, dport=f.dport)
            for entry in ct.dump_entries(tuple_orig=orig):
                reply = entry.tuple_reply
                if f.endpoint is None:
                    # Not DNATed: the REJECT of a port without endpoints answered it.
                    stale = reply.saddr == entry.tuple_orig.daddr
                else:
                    stale = (reply.saddr, reply.sport) == f.endpoint
                if stale:
                    ct.delete(entry)
                    deleted += 1
    return deleted
