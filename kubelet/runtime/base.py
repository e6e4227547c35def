"""The container runtime interface: what the pod workers need from an engine.

Everything here is runtime-neutral data; ``docker.py`` and ``fake.py`` implement
``ContainerRuntime``. All methods are coroutines so a worker never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Labels every kubelet-made container carries; adoption after a restart relies on them.
# A container is a kubelet's own only when both the cluster and the node match: two
# clusters on one Docker engine may well name their nodes alike (after the host name).
LABEL_CLUSTER = "io.kubelab.cluster.uid"
LABEL_NODE = "io.kubelab.node"
LABEL_POD_UID = "io.kubelab.pod.uid"
LABEL_POD_NAMESPACE = "io.kubelab.pod.namespace"
LABEL_POD_NAME = "io.kubelab.pod.name"
LABEL_CONTAINER_NAME = "io.kubelab.container.name"
LABEL_CONTAINER_HASH = "io.kubelab.container.hash"
LABEL_RESTART_COUNT = "io.kubelab.container.restart-count"
# "true" on init containers (spec.initContainers): readable in `docker ps`, and it lets the
# fake runtime finish them.
LABEL_CONTAINER_INIT = "io.kubelab.container.init"
# "true" on a pod's sandbox (Kubernetes' pause container): it holds the pod's network
# namespace, which every container of the pod joins; it is no container of the spec.
LABEL_SANDBOX = "io.kubelab.sandbox"
# On the engine networks a kubelet makes (its node's pod bridge).
LABEL_NETWORK_SUBNET = "io.kubelab.network.subnet"


class RuntimeError_(Exception):  # noqa: N801 - avoid shadowing the builtin RuntimeError
    """A runtime operation failed; the message is fit for a pod event."""


class RuntimeUnavailable(RuntimeError_):
    """The engine cannot be reached at all (daemon down, socket missing)."""


class ImagePullError(RuntimeError_):
    """Pulling an image failed; the message names the image and the registry's error."""


@dataclass(frozen=True)
class PortMapping:
    """A container port published on the node."""

    container_port: int
    host_port: int
    host_ip: str
    protocol: str = "TCP"


@dataclass(frozen=True)
class Mount:
    """A host directory or file bind-mounted into the container."""

    host_path: str
    container_path: str
    read_only: bool = False
    propagation: str = ""  # Linux bind propagation ("rslave", "rshared"); "" the default


def bind_spec(m: Mount) -> str:
    """Docker's ``HostConfig.Binds`` entry for a mount: ``host:container:rw[,rslave]``."""
    mode = "ro" if m.read_only else "rw"
    return f"{m.host_path}:{m.container_path}:{mode}" + (
        f",{m.propagation}" if m.propagation else ""
    )


@dataclass
class ContainerSpec:
    """Everything needed to create one container, already resolved by the kubelet."""

    name: str  # engine-level name, unique per node
    image: str
    labels: dict[str, str]
    command: list[str] | None = None  # replaces the image ENTRYPOINT
    args: list[str] | None = None  # replaces the image CMD
    working_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    ports: list[PortMapping] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    gpu_uuids: list[str] = field(default_factory=list)
    real_gpus: bool = False  # a Docker device request only when the GPUs exist
    tty: bool = False
    stdin: bool = False
    hostname: str | None = None  # None: the engine's choice (the node's, on the host network)
    domainname: str | None = None  # with hostname, the FQDN ``hostname.domainname``
    host_network: bool = False  # the node's network namespace: no ports to publish
    extra_hosts: list[str] = field(default_factory=list)  # "name:ip" lines for /etc/hosts
    host_pid: bool = False  # the node's PID namespace
    host_ipc: bool = False  # the node's IPC namespace
    # shareProcessNamespace: the sandbox's PID namespace (``network_of``), so each container
    # sees the others' processes and the sandbox's pause process is PID 1.
    share_pid: bool = False
    user: str | None = None  # "uid" or "uid:gid"; None: the image's USER
    group_add: list[str] = field(default_factory=list)
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only_rootfs: bool = False
    security_opt: list[str] = field(default_factory=list)  # Docker's --security-opt
    sysctls: dict[str, str] = field(default_factory=dict)
    # The host file at terminationMessagePath (kept apart from the volume mounts).
    termination_log: Mount | None = None
    # The pod network: a sandbox is attached to the engine network ``network``; the
    # pod's containers join the sandbox's network namespace (``network_of``: its id).
    network: str | None = None
    network_of: str | None = None


@dataclass
class ContainerInfo:
    """What the runtime knows about one container."""

    id: str
    name: str
    labels: dict[str, str]
    state: str  # "created" | "running" | "exited" | "unknown"
    image: str = ""
    image_id: str = ""
    exit_code: int | None = None
    started_at: str | None = None  # RFC 3339, UTC
    finished_at: str | None = None
    created_at: str | None = None
    oom_killed: bool = False
    error: str = ""
    pid: int = 0
    # What the container left at its terminationMessagePath (or, with the policy
    # FallbackToLogsOnError, its last log lines); read by the kubelet once it exited
    # (None: not read yet).
    termination_message: str | None = None
    ip: str = ""  # its address on the pod network ("" when it has none of its own)

    @property
    def sandbox(self) -> bool:
        return self.labels.get(LABEL_SANDBOX) == "true"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def exited(self) -> bool:
        return self.state in ("exited", "dead")

    @property
    def restart_count(self) -> int:
        try:
            return int(self.labels.get(LABEL_RESTART_COUNT, "0"))
        except ValueError:
            return 0

    @property
    def pod_uid(self) -> str:
        return self.labels.get(LABEL_POD_UID, "")

    @property
    def container_name(self) -> str:
        return self.labels.get(LABEL_CONTAINER_NAME, "")


@dataclass(frozen=True)
class RuntimeEvent:
    """A container changed state (``start``, ``die``, ``oom``) in the engine."""

    action: str
    container_id: str
    labels: dict[str, str]


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class NetworkSpec:
    """An engine network for one node's pods: a bridge for ``subnet`` with ``gateway``."""

    name: str
    subnet: str
    gateway: str
    labels: dict[str, str]
    bridge: str = ""  # the Linux bridge's name (at most 15 characters); "" lets the engine pick
    # The engine masquerades what leaves the subnet; False when the kubelet's own rules
    # masquerade only what leaves the cluster's range (kubelet/podnet_routes.py).
    masquerade: bool = True


@dataclass(frozen=True)
class StreamRequest:
    """Which standard streams an exec or attach session wants, and whether it is a TTY
    (with a TTY, stderr is merged into stdout by the terminal, as on a real one)."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False


class StreamSession(Protocol):
    """A process's standard streams, live: what kubelet/streaming.py bridges to the
    remote command channels. ``read`` until it returns None, then ``exit_code``."""

    async def read(self) -> tuple[int, bytes] | None:
        """The next output: (1 for stdout or 2 for stderr, bytes); None once both end."""
        ...

    async def write(self, data: bytes) -> None:
        """Bytes for the process's stdin (ignored when stdin was not asked for)."""
        ...

    async def close_stdin(self) -> None:
        """EOF on the process's stdin."""
        ...

    async def resize(self, width: int, height: int) -> None:
        """The terminal's new size (TTY sessions; a no-op otherwise)."""
        ...

    async def exit_code(self) -> int | None:
        """The process's exit code once its output ended; None when there is none to
        report (attach: the container's own exit is its status's business)."""
        ...

    async def close(self) -> None:
        """Let go of the streams (the process itself is not killed)."""
        ...


class ContainerRuntime(Protocol):
    """The operations the pod workers, the log server and the node agent use."""

    name: str  # "docker" or "fake"
    real_gpus_supported: bool

    async def version(self) -> str:
        """``docker://20.10.24`` style, for nodeInfo.containerRuntimeVersion."""
        ...

    async def image_present(self, image: str) -> bool: ...

    async def pull(self, image: str) -> None:
        """Pull ``image``; raises ImagePullError naming the image and the cause."""
        ...

    async def image_id(self, image: str) -> str: ...

    async def image_user(self, image: str) -> str:
        """The image's USER (``uid``, ``uid:gid`` or a name); "" when it sets none."""
        ...

    async def create(self, spec: ContainerSpec) -> str:
        """Create (not start) a container; returns its id."""
        ...

    async def start(self, container_id: str) -> None: ...

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, wait up to ``grace_seconds``, then SIGKILL."""
        ...

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None: ...

    async def remove(self, container_id: str) -> None:
        """Remove a container (forcefully); a missing one is not an error."""
        ...

    async def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        """All containers (running or not) carrying every given label."""
        ...

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        """The container's state, or None when it no longer exists."""
        ...

    async def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> bytes:
        """The container's output; ``since`` (Unix time) drops lines written before it."""
        ...

    def stream_logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> AsyncIterator[bytes]:
        """Existing output then new output until the container stops (``follow``)."""
        ...

    async def exec(
        self, container_id: str, command: Sequence[str], timeout: float | None = None
    ) -> ExecResult: ...

    async def exec_stream(
        self, container_id: str, command: Sequence[str], streams: StreamRequest
    ) -> StreamSession:
        """Start ``command`` in the container with live streams (``kubectl exec``)."""
        ...

    async def attach(self, container_id: str, streams: StreamRequest) -> StreamSession:
        """The container's main process' streams from now on (``kubectl attach``)."""
        ...

    async def connect_port(
        self, container_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` on the container's loopback, inside its network
        namespace (``kubectl port-forward``)."""
        ...

    def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        """Container start/die/oom events for containers with these labels, as they happen."""
        ...

    async def ensure_network(self, spec: NetworkSpec) -> None:
        """Create the network unless it exists for the same subnet (idempotent); raises
        RuntimeError_ naming the conflict when the subnet is another network's."""
        ...

    async def remove_network(self, name: str) -> bool:
        """Remove the network; False when containers still use it (a missing one is gone)."""
        ...

    async def ensure_sandbox_image(self, image: str) -> None:
        """Make the sandbox image present (built locally when it can be); RuntimeError_
        naming the fix otherwise."""
        ...

    async def close(self) -> None: ...
