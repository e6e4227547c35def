"""`kubelab kubelet`: the node agent. Registers this box (CPUs, memory, GPUs) as a Node and
runs the pods bound to it through Docker (or the fake runtime)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from api.home import kubelab_home
from client import AsyncClient, KubeconfigError
from kubelet.agent import NodeKubelet
from kubelet.context import KubeletConfig
from kubelet.gpu import discover_gpus, parse_fake_spec
from kubelet.ingress_router import IngressRouter, router_from_flags
from kubelet.ingress_router import add_flags as add_ingress_flags
from kubelet.kernelproxy import MODES, KernelProxy, KernelProxyError, start_kernel_proxy
from kubelet.node import NodeFacts
from kubelet.ownership import ClusterIdError, fetch_cluster_uid
from kubelet.proxy import ServiceProxy
from kubelet.resolvconf import host_resolv_conf_path
from kubelet.resource_metrics import Readings
from kubelet.runtime.base import ContainerRuntime, RuntimeUnavailable
from kubelet.runtime.sandbox_image import DEFAULT_SANDBOX_IMAGE
from kubelet.server import KubeletServer, make_app
from kubelet.tls import ensure_serving_cert
from kubelet.worker import PodWorker

log = logging.getLogger("kubelet")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab kubelet",
        description="Run the node agent: register this box as a Node (CPUs, memory, GPUs) and "
        "run the pods bound to it as Docker containers.",
        epilog="example: kubelab kubelet --kubeconfig ~/.kubelab/kubeconfig --node-name gpu1 "
        "--address 10.0.0.5",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="kubelab home: defaults --kubeconfig to HOME/kubeconfig, "
        "--kubelet-secret-file to HOME/kubelet-secret and --root-dir to "
        "HOME/kubelet/NODE (default $KUBELAB_HOME or ~/.kubelab)",
    )
    p.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig to reach the API (default HOME/kubeconfig, then $KUBECONFIG)",
    )
    p.add_argument(
        "--node-name",
        default=socket.gethostname().lower(),
        help="this node's name (default: the host name)",
    )
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="node address: published container ports and the log server bind "
        "here, and endpoints use it (default 127.0.0.1)",
    )
    p.add_argument(
        "--runtime",
        choices=("docker", "fake"),
        default="docker",
        help="container runtime: docker (real containers) or fake (no containers, "
        "pods run at once; for hollow nodes) (default docker)",
    )
    p.add_argument(
        "--docker-host",
        default=None,
        help="Docker engine URL (default $DOCKER_HOST or the local socket)",
    )
    p.add_argument(
        "--fake-gpus",
        default=None,
        metavar="SPEC",
        help="simulate GPUs instead of asking NVML: '4' or '2xH100-80GB'",
    )
    p.add_argument(
        "--gpu-recheck-period",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how often a GPU taken out of service by a hardware fault is re-checked",
    )
    p.add_argument(
        "--gpu-health-command",
        default="",
        metavar="CMD",
        help="a command a GPU must also pass to return to service, run with "
        "NVIDIA_VISIBLE_DEVICES=<uuid> (e.g. 'dcgmi diag -r 1'); default: NVML checks only",
    )
    p.add_argument(
        "--metrics-report-period",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how often this node's and its pods' CPU and memory use go to the metrics API "
        "(kubectl top, autoscaling); 0 turns it off (default 15)",
    )
    p.add_argument(
        "--hollow",
        type=int,
        default=0,
        metavar="N",
        help="run N simulated nodes named NODE-0..NODE-(N-1) in this process "
        "(requires --runtime fake)",
    )
    p.add_argument(
        "--storage-dir",
        type=Path,
        default=None,
        help="where this node keeps the data of its local-path volumes "
        "(PersistentVolumes of class local-path) (default HOME/storage)",
    )
    p.add_argument(
        "--enforce-volume-capacity",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="make each local-path volume an ext4 filesystem of its capacity, loop-mounted, "
        "so a pod cannot write past it (needs root, mkfs.ext4, loop devices; default off: "
        "a plain directory, and a CapacityNotEnforced warning on the volume)",
    )
    p.add_argument(
        "--root-dir",
        type=Path,
        default=None,
        help="where pod volumes and the serving certificate live (default HOME/kubelet/NODE)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=10250,
        help="log/exec server port; 0 picks a free one (default 10250)",
    )
    p.add_argument(
        "--scheme",
        choices=("https", "http"),
        default="https",
        help="log server scheme, advertised in the node annotation "
        "kubelab.io/kubelet-scheme (default https with a self-signed certificate)",
    )
    p.add_argument(
        "--kubelet-secret-file",
        default=None,
        help="file holding the secret the apiserver sends as a bearer token to read "
        "logs (default HOME/kubelet-secret)",
    )
    p.add_argument(
        "--lease-duration", type=int, default=40, help="node Lease duration in seconds (default 40)"
    )
    p.add_argument(
        "--lease-renew",
        type=float,
        default=10.0,
        help="seconds between Lease renewals (default 10)",
    )
    p.add_argument(
        "--status-report-period",
        type=float,
        default=60.0,
        help="seconds between node status writes when nothing changed (default 60)",
    )
    p.add_argument(
        "--backoff-initial",
        type=float,
        default=10.0,
        help="first crash-loop / image-pull backoff in seconds, doubling (default 10)",
    )
    p.add_argument(
        "--backoff-max", type=float, default=300.0, help="longest backoff in seconds (default 300)"
    )
    p.add_argument(
        "--backoff-reset",
        type=float,
        default=600.0,
        help="a container that ran this many seconds restarts without backoff (default 600)",
    )
    p.add_argument(
        "--resync-period",
        type=float,
        default=10.0,
        help="each pod is re-checked at least this often, in seconds (default 10)",
    )
    p.add_argument(
        "--pod-infra-image",
        default=DEFAULT_SANDBOX_IMAGE,
        help="image of each pod's sandbox, which holds the pod's network namespace "
        f"(default {DEFAULT_SANDBOX_IMAGE}, built on this machine from busybox)",
    )
    p.add_argument(
        "--cluster-cidr",
        default="10.42.0.0/16",
        help="the cluster's pod network (the controller manager's --cluster-cidr): "
        "unreachable unless routed to a node, and forwarded between nodes' bridges "
        "(default 10.42.0.0/16)",
    )
    p.add_argument(
        "--service-cidr",
        default="10.43.0.0/16",
        help="the cluster's Service range: unreachable unless forwarded (default 10.43.0.0/16)",
    )
    p.add_argument(
        "--pod-routes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="unreachable routes for the cluster and service ranges and, with the docker "
        "runtime, host-gw routes to peer nodes' pod subnets (default on; needs root; never "
        "for --hollow nodes)",
    )
    p.add_argument(
        "--pod-cidr-wait",
        type=float,
        default=5.0,
        help="seconds after start that new pods wait for the node's podCIDR before running "
        "on the node's address (default 5)",
    )
    p.add_argument(
        "--volume-refresh-period",
        type=float,
        default=60.0,
        help="seconds between refreshes of the ConfigMap and Secret volumes of running pods "
        "(default 60)",
    )
    p.add_argument(
        "--capacity-cpu",
        default=None,
        help="override the CPU capacity reported (e.g. '64'; useful for hollow nodes)",
    )
    p.add_argument(
        "--capacity-memory",
        default=None,
        help="override the memory capacity reported (e.g. '512Gi')",
    )
    # issue 8: the Service proxy (kubelet/proxy.py)
    p.add_argument(
        "--proxy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the Service proxy: a TCP listener per Service port (NodePort on --address, "
        "ClusterIP on 127.0.0.1) forwarding to ready endpoints (default on; --no-proxy for "
        "a second kubelet on the same box)",
    )
    p.add_argument(
        "--proxy-mode",
        choices=MODES,
        default="auto",
        help="how the Service proxy forwards ClusterIP and NodePort traffic: 'kernel' "
        "(nftables DNAT, needs root and nft), 'userspace' (TCP listeners), 'auto' (kernel "
        "where it works, else userspace, saying why in the log; the default)",
    )
    p.add_argument(
        "--cleanup-proxy",
        action="store_true",
        help="remove this node's kernel Service rules (nftables table, ClusterIP interface) "
        "and exit",
    )
    p.add_argument(
        "--cluster-dns",
        default="",
        metavar="IP[,IP]",
        help="the cluster DNS server(s) pods with dnsPolicy ClusterFirst use (the kube-dns "
        "Service, 10.43.0.10 under kubelab up); none: such pods get the node's resolvers",
    )
    p.add_argument(
        "--cluster-domain",
        default="cluster.local",
        help="the cluster's DNS domain (default cluster.local)",
    )
    p.add_argument(
        "--resolv-conf",
        default=None,
        help="the node's resolver file, for dnsPolicy Default and the search domains pods "
        "inherit (default /etc/resolv.conf; systemd-resolved's upstream file when the stub "
        "127.0.0.53 is in use)",
    )
    p.add_argument("--node-labels", default="", help="extra node labels, comma-separated k=v pairs")
    p.add_argument("--log-level", default="info", help="debug, info, warning, error")
    add_ingress_flags(p)
    return p


@dataclass
class Options:
    args: argparse.Namespace
    home: Path
    kubeconfig: str | None
    secret: str | None
    root_base: Path


def resolve_options(args: argparse.Namespace) -> Options:
    home = (args.home or kubelab_home()).expanduser()
    kubeconfig = args.kubeconfig
    if kubeconfig is None and (home / "kubeconfig").exists():
        kubeconfig = str(home / "kubeconfig")
    secret_path = Path(args.kubelet_secret_file or home / "kubelet-secret").expanduser()
    secret = secret_path.read_text().strip() if secret_path.exists() else None
    root_base = args.root_dir.expanduser() if args.root_dir else home / "kubelet"
    return Options(args, home, kubeconfig, secret, root_base)


async def make_runtime(args: argparse.Namespace) -> ContainerRuntime:
    if args.runtime == "fake":
        from kubelet.runtime.fake import FakeRuntime

        return FakeRuntime()
    from kubelet.runtime.docker import DockerRuntime

    return await DockerRuntime.connect(args.docker_host)


def _labels(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        k, _, v = part.partition("=")
        out[k] = v
    return out


async def run(opts: Options, stop: asyncio.Event | None = None) -> int:
    """Run the kubelet(s) until ``stop`` is set (or SIGTERM/SIGINT)."""
    args = opts.args
    stop = stop or asyncio.Event()
    runtime = await make_runtime(args)
    if opts.secret is None:
        log.warning(
            "no kubelet secret (--kubelet-secret-file): the log server will refuse "
            "every request, so `kl logs` cannot work"
        )
    client = AsyncClient.from_kubeconfig(opts.kubeconfig)
    names = (
        [f"{args.node_name}-{i}" for i in range(args.hollow)] if args.hollow else [args.node_name]
    )
    single_root = opts.root_base if args.root_dir else opts.root_base / args.node_name
    kubelets: list[NodeKubelet] = []
    by_name: dict[str, NodeKubelet] = {}

    def lookup(namespace: str, pod: str) -> PodWorker | None:
        for k in kubelets:
            w = k.worker_for(namespace, pod)
            if w is not None:
                return w
        return None

    def resource_metrics(node: str) -> Readings | None:
        """The node's latest usage readings (None: none yet); LookupError: not served here."""
        k = by_name.get(node) if node else (kubelets[0] if len(kubelets) == 1 else None)
        if k is None:
            raise LookupError(node)
        return k.usage.readings

    certfile = keyfile = None
    if args.scheme == "https":
        cert, key = ensure_serving_cert(single_root / "pki", args.node_name, args.address)
        certfile, keyfile = str(cert), str(key)
    server = KubeletServer(
        make_app(lookup, runtime, opts.secret, resource_metrics),
        args.address,
        args.port,
        certfile,
        keyfile,
    )
    server.start()
    proxy: ServiceProxy | None = None  # issue 8: the Service proxy
    ingress: IngressRouter | None = None
    try:
        cluster_uid = await fetch_cluster_uid(client)  # once for all hollow nodes
        ingress = router_from_flags(args, client, runtime.name)
        if ingress is not None:
            await ingress.start()
        if args.proxy:
            # A fake-runtime node runs no containers: there is nothing to forward to, so
            # its proxy takes no host port (two fake clusters on one box must not collide).
            kernel = await start_kernel_proxy(
                args.proxy_mode, runtime.name, cluster_uid, args.node_name, args.cluster_cidr
            )
            proxy = ServiceProxy(
                client,
                args.address,
                node_name=args.node_name,
                serves_traffic=runtime.name != "fake",
                kernel=kernel,
            )
            await proxy.start()
            # Containers started from now on get the Service variables, so wait for the
            # Services to be known first (a slow API only delays them, never blocks).
            with contextlib.suppress(TimeoutError):
                await proxy.services.wait_synced(10.0)
        for name in names:
            gpus_spec = args.fake_gpus
            config = KubeletConfig(
                node_name=name,
                address=args.address,
                root_dir=single_root if not args.hollow else opts.root_base / name,
                backoff_initial=args.backoff_initial,
                backoff_max=args.backoff_max,
                backoff_reset=args.backoff_reset,
                resync_period=args.resync_period,
                volume_refresh_period=args.volume_refresh_period,
                storage_dir=(args.storage_dir or opts.home / "storage").expanduser().absolute(),
                enforce_volume_capacity=args.enforce_volume_capacity,
                status_report_period=args.status_report_period,
                lease_duration=args.lease_duration,
                lease_renew=args.lease_renew,
                real_gpus=not gpus_spec and runtime.real_gpus_supported,
                nvml_gpus=not gpus_spec and not args.hollow,
                gpu_recheck_period=args.gpu_recheck_period,
                gpu_health_command=args.gpu_health_command,
                metrics_report_period=args.metrics_report_period,
                cluster_uid=cluster_uid,
                cluster_dns=tuple(s.strip() for s in args.cluster_dns.split(",") if s.strip()),
                cluster_domain=args.cluster_domain,
                resolv_conf=args.resolv_conf or host_resolv_conf_path(),
                pod_infra_image=args.pod_infra_image,
                pod_cidr_wait=args.pod_cidr_wait,
                pod_routes=args.pod_routes and not args.hollow,
                pod_routes_peers=runtime.name == "docker",
                cluster_cidr=args.cluster_cidr,
                service_cidr=args.service_cidr,
            )
            facts = NodeFacts(
                name=name,
                address=args.address,
                kubelet_port=server.port,
                scheme=server.scheme,
                runtime_version=await runtime.version(),
                extra_labels=_labels(args.node_labels),
                hollow=bool(args.hollow),
                # Simulated nodes have no disk of their own: no local-path volumes there.
                storage_dir="" if args.hollow else str(config.storage_dir),
            )
            if args.capacity_cpu:
                facts.cpu = args.capacity_cpu
            if args.capacity_memory:
                facts.memory = args.capacity_memory
            k = NodeKubelet(
                config, client, runtime, facts, functools.partial(discover_gpus, gpus_spec, name)
            )
            if proxy is not None:
                k.ctx.service_env = proxy.service_env
            await k.start()
            kubelets.append(k)
            by_name[name] = k
        log.info(
            "kubelet running: %s of cluster %s (runtime %s, logs on %s://%s:%d)",
            ", ".join(names),
            cluster_uid,
            runtime.name,
            server.scheme,
            args.address,
            server.port,
        )
        await stop.wait()
    finally:
        await asyncio.gather(*(k.stop() for k in kubelets), return_exceptions=True)
        if proxy is not None:
            await proxy.stop()
        if ingress is not None:
            await ingress.stop()
        await server.stop()
        await client.close()
        await runtime.close()
    return 0


async def cleanup_proxy(opts: Options) -> int:
    """`--cleanup-proxy`: remove this node's kernel Service rules (its cluster's, only)."""
    client = AsyncClient.from_kubeconfig(opts.kubeconfig)
    try:
        kp = KernelProxy(await fetch_cluster_uid(client), opts.args.node_name)
        found = await kp.cleanup()
    finally:
        await client.close()
    print(f"{'removed' if found else 'no'} kernel Service rules ({kp.table}, {kp.dev})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s kubelet %(levelname)s %(message)s"
    )
    for noisy in ("httpx", "httpcore", "uvicorn", "docker", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.hollow and args.runtime != "fake":
        print("kubelab kubelet: --hollow needs --runtime fake", file=sys.stderr)
        return 2
    if args.fake_gpus:
        try:
            parse_fake_spec(args.fake_gpus)
        except ValueError as e:
            print(f"kubelab kubelet: {e}", file=sys.stderr)
            return 2
    opts = resolve_options(args)

    async def amain() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run(opts, stop)

    try:
        return asyncio.run(cleanup_proxy(opts) if args.cleanup_proxy else amain())
    except RuntimeUnavailable as e:
        print(
            f"kubelab kubelet: {e}. Start Docker (e.g. `sudo systemctl start docker`) "
            "or run with --runtime fake.",
            file=sys.stderr,
        )
        return 1
    except (KubeconfigError, ClusterIdError, KernelProxyError) as e:
        print(f"kubelab kubelet: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kubelab kubelet: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
