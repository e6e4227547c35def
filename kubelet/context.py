"""What every pod worker of one node shares: the API client, the runtime, the node's
identity and the tunables (backoffs, resync period)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from client import AsyncClient
from client.events import EventRecorder
from kubelet.backoff import RestartBackoff
from kubelet.podnet import PodNetwork
from kubelet.runtime.base import ContainerRuntime
from kubelet.runtime.sandbox_image import DEFAULT_SANDBOX_IMAGE


@dataclass
class KubeletConfig:
    """The node agent's tunables (all set from flags)."""

    node_name: str
    address: str = "127.0.0.1"
    root_dir: Path = Path.home() / ".kubelab" / "kubelet"
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    backoff_reset: float = 600.0
    resync_period: float = 10.0  # each worker re-checks its pod at least this often
    # ConfigMap and Secret volumes of running pods are rewritten from the API this often
    # (Kubernetes shows an update within about a minute).
    volume_refresh_period: float = 60.0
    # Where this node's local-path volumes live (kubelet/local_volumes.py).
    storage_dir: Path = Path.home() / ".kubelab" / "storage"
    enforce_volume_capacity: bool = False  # loop-mounted filesystems (kubelet/loop_volumes.py)
    status_report_period: float = 60.0
    lease_duration: int = 40
    lease_renew: float = 10.0
    real_gpus: bool = False
    # Pods' resolv.conf (kubelet/resolvconf.py): the cluster DNS servers (--cluster-dns),
    # the cluster domain, and the node's own resolver file for dnsPolicy Default.
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"
    # GPUs come from NVML (not --fake-gpus): their health is watched (kubelet/gpu_monitor.py).
    nvml_gpus: bool = False
    gpu_recheck_period: float = 30.0
    gpu_health_command: str = ""
    # How often the node's and pods' usage goes to the metrics API (0: never).
    metrics_report_period: float = 15.0
    # This cluster's UID (kubelet/ownership.py); learned from the API at start when empty.
    cluster_uid: str = ""
    # The pod network (kubelet/podnet.py): how long after start pods wait for the node's
    # podCIDR before running on the node's address, and the sandbox image.
    pod_cidr_wait: float = 5.0
    pod_infra_image: str = DEFAULT_SANDBOX_IMAGE
    # Host-gw routes to peer nodes and unreachable routes for these ranges (a Docker
    # kubelet; kubelet/podnet_routes.py).
    pod_routes: bool = False
    pod_routes_peers: bool = True  # False: the safety routes only (the fake runtime)
    cluster_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"


@dataclass
class NodeContext:
    """One node's shared state; a hollow kubelet has one per simulated node."""

    config: KubeletConfig
    client: AsyncClient
    runtime: ContainerRuntime
    recorder: EventRecorder
    restart_backoff: RestartBackoff
    pull_backoff: RestartBackoff
    host_ports_in_use: set[int] = field(default_factory=set)
    # Service variables for a namespace (<NAME>_SERVICE_HOST...); set by the Service
    # proxy when it runs (kubelet/proxy.py, issue 8), read by PodWorker.service_env.
    service_env: Callable[[str], dict[str, str]] | None = None
    podnet: PodNetwork | None = None

    @property
    def node_name(self) -> str:
        return self.config.node_name

    @property
    def cluster_uid(self) -> str:
        return self.config.cluster_uid

    @property
    def address(self) -> str:
        return self.config.address

    @classmethod
    def create(
        cls,
        config: KubeletConfig,
        client: AsyncClient,
        runtime: ContainerRuntime,
        recorder: EventRecorder | None = None,
    ) -> NodeContext:
        return cls(
            config=config,
            client=client,
            runtime=runtime,
            recorder=recorder
            or EventRecorder(client, "kubelet", config.node_name, host=config.node_name),
            restart_backoff=RestartBackoff(
                config.backoff_initial, config.backoff_max, config.backoff_reset
            ),
            # An image pull is retried only after a wait, never at once (ErrImagePull,
            # then ImagePullBackOff).
            pull_backoff=RestartBackoff(
                config.backoff_initial,
                config.backoff_max,
                config.backoff_reset,
                first_immediate=False,
            ),
            podnet=PodNetwork(config.node_name, config.pod_cidr_wait, config.pod_infra_image),
        )
