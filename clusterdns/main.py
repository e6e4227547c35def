"""`kubelab dns`: the cluster DNS server (UDP and TCP), answering from an informer cache."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
from pathlib import Path

from api.service_cidr import kube_dns_ip
from client import AsyncClient, KubeconfigError
from clusterdns import kubedns
from clusterdns.cache import ZoneCache
from clusterdns.forward import Forwarder, Upstream, host_upstreams
from clusterdns.podgateway import wait_pod_gateway
from clusterdns.resolver import Resolver
from clusterdns.server import DNSServer
from clusterdns.zone import Zone

log = logging.getLogger("clusterdns")

DEFAULT_TTL = 30  # kube-dns' TTL (CoreDNS' default is 5); --ttl changes it


def default_kubeconfig() -> str:
    home = os.environ.get("KUBELAB_HOME") or str(Path.home() / ".kubelab")
    return str(Path(home) / "kubeconfig")


def upstream(text: str) -> Upstream:
    """``HOST`` or ``HOST:PORT`` (``[V6]:PORT``) of a resolver to forward to."""
    host, sep, port = text.rpartition(":")
    if not sep or (":" in host and not host.startswith("[")):
        return Upstream(text.strip("[]"))
    return Upstream(host.strip("[]"), int(port))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab dns",
        description="Serve cluster DNS (the Kubernetes DNS specification) for Services and "
        "pods, from a cache of the API; every other name goes to the node's resolvers.",
        epilog="example: kubelab dns --listen 127.0.0.1 --port 5353 --no-publish",
    )
    p.add_argument("--kubeconfig", default=None, help="default $KUBELAB_HOME/kubeconfig")
    p.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=53,
        help="UDP and TCP port (default 53, which needs root or CAP_NET_BIND_SERVICE; 0: a "
        "free one, published in the kube-dns Endpoints)",
    )
    p.add_argument(
        "--node",
        default="",
        metavar="NAME",
        help="listen on this node's pod-bridge address (the first of its podCIDR), which "
        "every pod reaches and the LAN does not; --listen when the node has no podCIDR "
        "after --node-wait seconds",
    )
    p.add_argument(
        "--node-wait",
        type=float,
        default=60.0,
        help="seconds to wait for --node's podCIDR (default 60)",
    )
    p.add_argument(
        "--advertise-address",
        default="",
        help="address pods reach this server on, written to the kube-dns Endpoints "
        "(default: --listen; needed when --listen is 0.0.0.0)",
    )
    p.add_argument("--cluster-domain", default="cluster.local", help="default cluster.local")
    p.add_argument(
        "--cluster-ip",
        default=kube_dns_ip(),
        help="ClusterIP of the kube-dns Service (default 10.43.0.10: the service CIDR's .10)",
    )
    p.add_argument(
        "--publish",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="create the kube-dns Service in kube-system and point its Endpoints here (default on)",
    )
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL, help=f"seconds (default {DEFAULT_TTL})")
    p.add_argument(
        "--resolv-conf",
        default="/etc/resolv.conf",
        help="the node's resolver file: its nameservers answer every name outside the "
        "cluster (default /etc/resolv.conf)",
    )
    p.add_argument(
        "--upstream",
        action="append",
        type=upstream,
        default=[],
        metavar="HOST[:PORT]",
        help="forward to this resolver instead of --resolv-conf's (repeatable)",
    )
    p.add_argument(
        "--forward-timeout",
        type=float,
        default=2.0,
        help="seconds to wait for each upstream (default 2)",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return p


def bind_problem(host: str, port: int, err: OSError) -> str:
    """One readable line for a listener that could not be made."""
    why = err.strerror or str(err)
    hint = "pick another with --port"
    if err.errno in (errno.EACCES, errno.EPERM) and 0 < port < 1024:
        hint = f"port {port} needs root or CAP_NET_BIND_SERVICE; run as root or pick --port"
    elif err.errno == errno.EADDRINUSE:
        hint = "another DNS server (systemd-resolved, dnsmasq, another cluster) has it; pick --port"
    return f"cannot listen on {host}:{port} (UDP+TCP): {why}: {hint}"


async def listen_address(
    client: AsyncClient, args: argparse.Namespace, stop: asyncio.Event
) -> tuple[str, bool] | None:
    """(address, freebind): ``--node``'s pod gateway, else ``--listen``; None if stopped."""
    if not args.node:
        return args.listen, False
    waiting = asyncio.ensure_future(wait_pod_gateway(client, args.node, args.node_wait))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not waiting.done():
        waiting.cancel()
        return None
    gw = waiting.result()
    if gw is None:
        log.warning(
            "Node %s has no podCIDR after %.0f s (no pod network): listening on %s instead",
            args.node,
            args.node_wait,
            args.listen,
        )
        return args.listen, False
    return gw, True


async def run(args: argparse.Namespace) -> int:
    if not args.node and not args.advertise_address and args.listen in ("0.0.0.0", "::", ""):
        log.error("--listen %s needs --advertise-address (the address pods reach)", args.listen)
        return 2
    try:
        client = AsyncClient.from_kubeconfig(args.kubeconfig or default_kubeconfig())
    except KubeconfigError as e:
        log.error("%s (give --kubeconfig)", e)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    where = await listen_address(client, args, stop)
    if where is None:
        await client.close()
        return 0
    listen, freebind = where
    advertise = args.advertise_address or listen
    ups = list(args.upstream) or host_upstreams(args.resolv_conf)
    # Never ask ourselves: a resolv.conf naming this very server would loop.
    ups = [u for u in ups if not (u.host in (advertise, listen) and u.port == args.port)]
    log.info("forwarding names outside %s to %s", args.cluster_domain, ", ".join(map(str, ups)))
    zone = Zone(args.cluster_domain, args.ttl)
    cache = ZoneCache(client, zone)
    resolver = Resolver(zone, Forwarder(ups, args.forward_timeout))
    resolver.synced = False
    server = DNSServer(resolver)
    publisher: kubedns.Publisher | None = None
    try:
        # Bind first, so a port that cannot be had is said at once; until the cache is
        # loaded, cluster names are SERVFAIL (clients retry), never a false NXDOMAIN.
        try:
            await server.start(listen, args.port, freebind=freebind)
        except OSError as e:
            log.error(bind_problem(listen, args.port, e))
            return 1
        cache.start()
        while not stop.is_set():
            try:
                await cache.wait_synced(timeout=10)
                break
            except TimeoutError:
                log.warning("still loading Services and Endpoints from the API")
        if stop.is_set():
            return 0
        resolver.synced = True
        log.info(
            "serving %s on %s:%d (UDP and TCP), TTL %d s",
            args.cluster_domain,
            listen,
            server.port,
            args.ttl,
        )
        if args.publish:
            publisher = kubedns.Publisher(
                client, args.cluster_ip, advertise, server.port, cache.services, cache.endpoints
            )
            publisher.kick()
        await stop.wait()
        return 0
    finally:
        if publisher is not None:
            await publisher.stop()
        await server.stop()
        await cache.stop()
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kubelab dns`."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
