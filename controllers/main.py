"""`kubelab controllers`: run the controller manager (with leader election)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from client import AsyncClient
from client.kubeconfig import default_kubeconfig_path, load_kubeconfig
from client.leader import LeaderElector, add_leader_flags, config_from_args

from .base import Options
from .manager import CONTROLLERS, ControllerManager
from .nodeipam import parse_cluster_cidr

log = logging.getLogger("controllers")


def default_kubeconfig() -> str:
    return str(default_kubeconfig_path())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab controllers", description="Run the kubelab controller manager."
    )
    p.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig to reach the API (default $KUBELAB_HOME/kubeconfig)",
    )
    p.add_argument(
        "--controllers",
        default="*",
        help=f"comma-separated controllers to run: * for all, -name to leave one out ({', '.join(CONTROLLERS)})",
    )
    p.add_argument(
        "--workers", type=int, default=5, help="concurrent workers per controller (default 5)"
    )
    p.add_argument(
        "--burst-replicas",
        type=int,
        default=500,
        help="most pods one ReplicaSet/Job sync creates or deletes (default 500)",
    )
    p.add_argument(
        "--create-concurrency",
        type=int,
        default=32,
        help="most pod creations in flight per sync (default 32: enough to fill the API "
        "server's group commits; 0: a whole slow-start batch)",
    )
    p.add_argument(
        "--node-monitor-grace-period",
        type=float,
        default=40.0,
        help="seconds without a node heartbeat before the node is Unknown (default 40)",
    )
    p.add_argument(
        "--node-monitor-period",
        type=float,
        default=5.0,
        help="seconds between looks at each node (default 5)",
    )
    p.add_argument(
        "--pod-eviction-timeout",
        type=float,
        default=300.0,
        help="default toleration seconds for the unreachable taint before pods are evicted (default 300)",
    )
    p.add_argument(
        "--job-backoff-base",
        type=float,
        default=10.0,
        help="first delay before re-creating a failed Job pod (default 10 s)",
    )
    p.add_argument(
        "--job-backoff-max",
        type=float,
        default=360.0,
        help="longest Job back-off delay (default 360 s)",
    )
    add_leader_flags(p, "kubelab-controller-manager")
    p.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=12500,
        help="finished (Succeeded/Failed) pods kept before the oldest are deleted; 0 keeps "
        "all (default 12500)",
    )
    p.add_argument(
        "--pod-gc-period",
        type=float,
        default=20.0,
        help="seconds between pod garbage collections (default 20)",
    )
    p.add_argument(
        "--pod-gc-orphan-quarantine",
        type=float,
        default=40.0,
        help="seconds a pod's node must be missing before the pod is deleted (default 40)",
    )
    p.add_argument(
        "--cluster-cidr",
        default="10.42.0.0/16",
        help="pod network of the cluster, cut into one subnet per node by nodeipam "
        "(default 10.42.0.0/16)",
    )
    p.add_argument(
        "--node-cidr-mask-size",
        type=int,
        default=24,
        help="prefix length of each node's pod subnet (default 24)",
    )
    p.add_argument(
        "--cluster-signing-cert-file",
        default="",
        help="the CA certificate (PEM) that signs approved CertificateSigningRequests "
        "(default $KUBELAB_HOME/pki/ca.crt)",
    )
    p.add_argument(
        "--cluster-signing-key-file",
        default="",
        help="its private key (default $KUBELAB_HOME/pki/ca.key)",
    )
    p.add_argument(
        "--root-ca-file",
        default=None,
        help="the CA (PEM) published as the kube-root-ca.crt ConfigMap of every namespace "
        "(default: the CA of the kubeconfig)",
    )
    hpa = "--horizontal-pod-autoscaler-"
    p.add_argument(
        f"{hpa}sync-period",
        type=float,
        default=15.0,
        help="seconds between two looks at each HPA (default 15)",
    )
    p.add_argument(
        f"{hpa}downscale-stabilization",
        type=float,
        default=300.0,
        help="seconds of recommendations a scale-down looks back on (default 300)",
    )
    p.add_argument(
        f"{hpa}tolerance",
        type=float,
        default=0.1,
        help="usage ratio distance from 1.0 that changes nothing (default 0.1)",
    )
    p.add_argument(
        f"{hpa}cpu-initialization-period",
        type=float,
        default=300.0,
        help="seconds after a pod's start its CPU samples need a ready window (default 300)",
    )
    p.add_argument(
        f"{hpa}initial-readiness-delay",
        type=float,
        default=30.0,
        help="seconds after start a not-ready pod counts as never ready (default 30)",
    )
    p.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
    )
    return p


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        workers=args.workers,
        burst_replicas=args.burst_replicas,
        create_concurrency=args.create_concurrency,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_monitor_period=args.node_monitor_period,
        pod_eviction_timeout=args.pod_eviction_timeout,
        job_backoff_base=args.job_backoff_base,
        job_backoff_max=args.job_backoff_max,
        terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
        pod_gc_period=args.pod_gc_period,
        pod_gc_orphan_quarantine=args.pod_gc_orphan_quarantine,
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        cluster_signing_cert_file=args.cluster_signing_cert_file,
        cluster_signing_key_file=args.cluster_signing_key_file,
        hpa_sync_period=args.horizontal_pod_autoscaler_sync_period,
        hpa_downscale_stabilization=args.horizontal_pod_autoscaler_downscale_stabilization,
        hpa_tolerance=args.horizontal_pod_autoscaler_tolerance,
        hpa_cpu_initialization_period=args.horizontal_pod_autoscaler_cpu_initialization_period,
        hpa_initial_readiness_delay=args.horizontal_pod_autoscaler_initial_readiness_delay,
        controllers=tuple(c.strip() for c in args.controllers.split(",") if c.strip()),
    )


def root_ca_pem(args: argparse.Namespace) -> str:
    """The CA pods get to verify the apiserver: --root-ca-file, else the kubeconfig's."""
    if args.root_ca_file:
        return Path(args.root_ca_file).read_text()
    ca = load_kubeconfig(args.kubeconfig or default_kubeconfig()).ca_data
    return ca.decode() if ca else ""


async def run(args: argparse.Namespace) -> int:
    client = AsyncClient.from_kubeconfig(args.kubeconfig or default_kubeconfig())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    elector: LeaderElector | None = None
    code = 0
    try:
        if args.leader_elect:
            elector = LeaderElector(client, config_from_args(args))
            acquire = asyncio.create_task(elector.acquire())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                acquire.cancel()
                return 0
            stopped.cancel()
        options = options_from(args)
        options.root_ca = root_ca_pem(args)
        manager = ControllerManager(client, options)
        if elector is not None:
            keeper = asyncio.create_task(elector.keep())

            def lost(_: asyncio.Task[None]) -> None:
                nonlocal code
                if not stop.is_set():
                    code = 1  # like kube: a manager that lost its lease exits and restarts
                    stop.set()

            keeper.add_done_callback(lost)
        await manager.run(stop)
        if elector is not None:
            keeper.cancel()
            if code == 0:
                await elector.release()
    finally:
        await client.close()
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kubelab controllers`."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per HTTP request drowns what the controllers say.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        from .manager import select

        select(options_from(args).controllers)
        parse_cluster_cidr(args.cluster_cidr, args.node_cidr_mask_size)
    except ValueError as e:
        print(f"kubelab controllers: {e}", file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
