"""The Docker runtime: the only module that imports the ``docker`` SDK.

The SDK is blocking, so every call runs in a thread of a dedicated pool (large enough for
a burst of pod starts), and the long-lived streams (events, followed logs) each get their
own daemon thread that hands items to the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
from docker.utils import parse_repository_tag

from kubelet.runtime import docker_streams
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_NODE,
    LABEL_POD_UID,
    ContainerInfo,
    ContainerSpec,
    ExecResult,
    ImagePullError,
    NetworkSpec,
    RuntimeError_,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamRequest,
    StreamSession,
    bind_spec,
)
from kubelet.runtime.sandbox_image import (
    DEFAULT_SANDBOX_IMAGE,
    SANDBOX_COMMAND,
    BusyboxMissing,
    sandbox_tarball,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
IMAGE_PRESENT_TTL = 30.0
_END = object()


def _explain(e: Exception) -> str:
    if isinstance(e, docker.errors.APIError):
        return str(e.explanation or e)
    return str(e)


class DockerRuntime:
    """ContainerRuntime on a Docker engine (``DOCKER_HOST`` or the default socket)."""

    name = "docker"
    real_gpus_supported = True

    def __init__(self, base_url: str | None = None, workers: int = 32) -> None:
        kwargs: dict[str, Any] = {"timeout": 120, "max_pool_size": workers}
        try:
            if base_url:
                self.client = docker.DockerClient(base_url=base_url, **kwargs)
            else:
                self.client = docker.from_env(**kwargs)
        except docker.errors.DockerException as e:
            raise RuntimeUnavailable(f"cannot reach the Docker engine: {e}") from e
        self.api = self.client.api
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")
        self._closed = False
        self._present: dict[str, float] = {}  # image -> until when it is known present

    @classmethod
    async def connect(cls, base_url: str | None = None) -> DockerRuntime:
        """A runtime whose engine answered a ping; RuntimeUnavailable otherwise."""
        rt = cls(base_url)
        try:
            await rt._call(rt.api.ping)
        except RuntimeError_ as e:
            await rt.close()
            raise RuntimeUnavailable(
                f"cannot reach the Docker engine at {rt.api.base_url}: {e}"
            ) from e
        return rt

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        except docker.errors.NotFound:
            raise
        except docker.errors.APIError as e:
            raise RuntimeError_(_explain(e)) from e
        except docker.errors.DockerException as e:
            raise RuntimeUnavailable(str(e)) from e
        except (ConnectionError, OSError) as e:
            raise RuntimeUnavailable(f"Docker engine unreachable: {e}") from e

    # -- images ----------------------------------------------------------------------------

    async def version(self) -> str:
        info = await self._call(self.api.version)
        return f"docker://{info.get('Version', 'unknown')}"

    async def image_present(self, image: str) -> bool:
        # A burst of pods asks this for the same image many times; a recent yes is enough
        # (the engine is the bottleneck in a burst, so every call saved counts).
        loop = asyncio.get_running_loop()
        if self._present.get(image, 0.0) > loop.time():
            return True
        try:
            await self._call(self.api.inspect_image, image)
        except docker.errors.NotFound:
            self._present.pop(image, None)
            return False
        self._present[image] = loop.time() + IMAGE_PRESENT_TTL
        return True

    async def image_id(self, image: str) -> str:
        try:
            info = await self._call(self.api.inspect_image, image)
        except docker.errors.NotFound:
            return ""
        return f"docker://{info.get('Id', '')}"

    async def image_user(self, image: str) -> str:
        try:
            info = await self._call(self.api.inspect_image, image)
        except docker.errors.NotFound:
            return ""
        return str((info.get("Config") or {}).get("User") or "")

    async def pull(self, image: str) -> None:
        repo, tag = parse_repository_tag(image)
        try:
            await self._call(self.api.pull, repo, tag=tag or "latest")
        except docker.errors.NotFound as e:
            raise ImagePullError(f'failed to pull image "{image}": {_explain(e)}') from e
        except RuntimeError_ as e:
            raise ImagePullError(f'failed to pull image "{image}": {e}') from e

    # -- containers ------------------------------------------------------------------------

    def _create_sync(self, spec: ContainerSpec) -> str:
        port_bindings: dict[str, tuple[str, int]] = {}
        exposed: list[Any] = []
        for p in spec.ports:
            key = f"{p.container_port}/{p.protocol.lower()}"
            port_bindings[key] = (p.host_ip, p.host_port)
            exposed.append((p.container_port, p.protocol.lower()))
        host_config_args: dict[str, Any] = {
            "port_bindings": port_bindings or None,
            "binds": [
                bind_spec(m)
                for m in [*spec.mounts, *([spec.termination_log] if spec.termination_log else [])]
            ]
            or None,
        }
        if spec.host_network:
            # The node's own network: the container's ports are the node's already.
            host_config_args["network_mode"] = "host"
            host_config_args["port_bindings"] = None
            exposed = []
        elif spec.network_of:
            # The pod's sandbox holds the network namespace (and its published ports).
            host_config_args["network_mode"] = f"container:{spec.network_of}"
            host_config_args["port_bindings"] = None
            exposed = []
        elif spec.network:
            host_config_args["network_mode"] = spec.network
        optional: dict[str, Any] = {
            "extra_hosts": spec.extra_hosts,
            "group_add": spec.group_add,
            "privileged": spec.privileged,
            "cap_add": spec.cap_add,
            "cap_drop": spec.cap_drop,
            "read_only": spec.read_only_rootfs,
            "security_opt": spec.security_opt,
            "sysctls": spec.sysctls,
        }
        host_config_args.update({k: v for k, v in optional.items() if v})
        if spec.host_pid:
            host_config_args["pid_mode"] = "host"
        elif spec.share_pid and spec.network_of:
            host_config_args["pid_mode"] = f"container:{spec.network_of}"
        if spec.host_ipc:
            host_config_args["ipc_mode"] = "host"
        if spec.nano_cpus:
            host_config_args["nano_cpus"] = spec.nano_cpus
        if spec.memory_bytes:
            host_config_args["mem_limit"] = spec.memory_bytes
        if spec.real_gpus and spec.gpu_uuids:
            host_config_args["device_requests"] = [
                docker.types.DeviceRequest(
                    driver="nvidia", device_ids=list(spec.gpu_uuids), capabilities=[["gpu"]]
                )
            ]
        host_config = self.api.create_host_config(**host_config_args)
        kwargs: dict[str, Any] = {
            "image": spec.image,
            "command": spec.args,
            "entrypoint": spec.command,
            "environment": spec.env,
            "labels": spec.labels,
            "name": spec.name,
            "working_dir": spec.working_dir,
            "host_config": host_config,
            "ports": exposed or None,
            "tty": spec.tty,
            "stdin_open": spec.stdin,
            "hostname": spec.hostname,
            "domainname": spec.domainname,
            "user": spec.user,
        }
        try:
            created = self.api.create_container(**kwargs)
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise
            # A leftover with the same name (a kubelet that died between create and
            # record): it carries no state we need, but only if it is this pod's.
            existing = (self.api.inspect_container(spec.name).get("Config") or {}).get("Labels")
            if not same_pod_container(existing or {}, spec.labels):
                raise
            self.api.remove_container(spec.name, force=True)
            created = self.api.create_container(**kwargs)
        return str(created["Id"])

    async def create(self, spec: ContainerSpec) -> str:
        try:
            return await self._call(self._create_sync, spec)
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    async def start(self, container_id: str) -> None:
        try:
            await self._call(self.api.start, container_id)
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        try:
            if grace_seconds <= 0:
                await self._call(self.api.kill, container_id)
            else:
                await self._call(self.api.stop, container_id, timeout=math.ceil(grace_seconds))
        except docker.errors.NotFound:
            return
        except RuntimeError_ as e:
            if "is not running" in str(e):
                return
            raise

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        try:
            await self._call(self.api.kill, container_id, signal=signal)
        except docker.errors.NotFound:
            return
        except RuntimeError_ as e:
            if "is not running" in str(e):
                return
            raise

    async def remove(self, container_id: str) -> None:
        try:
            await self._call(self.api.remove_container, container_id, force=True, v=True)
        except docker.errors.NotFound:
            return
        except RuntimeError_ as e:
            if "already in progress" in str(e):
                return
            raise

    async def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        rows = await self._call(self.api.containers, all=True, filters=filters)
        out = []
        for r in rows:
            names = r.get("Names") or ["/"]
            out.append(
                ContainerInfo(
                    id=r["Id"],
                    name=names[0].lstrip("/"),
                    labels=r.get("Labels") or {},
                    state=_state(r.get("State", "unknown"), ""),
                    image=r.get("Image", ""),
                    image_id=f"docker://{r.get('ImageID', '')}",
                )
            )
        return out

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        try:
            a = await self._call(self.api.inspect_container, container_id)
        except docker.errors.NotFound:
            return None
        st = a.get("State") or {}
        cfg = a.get("Config") or {}
        error = st.get("Error") or ""
        state = _state(st.get("Status", "unknown"), error)
        exit_code = st.get("ExitCode")
        if state == "exited" and error and not exit_code:
            exit_code = 128  # could not start: Kubernetes reports 128 (StartError)
        return ContainerInfo(
            id=a["Id"],
            name=str(a.get("Name", "")).lstrip("/"),
            labels=cfg.get("Labels") or {},
            state=state,
            image=cfg.get("Image", ""),
            image_id=f"docker://{a.get('Image', '')}",
            exit_code=exit_code if state == "exited" else None,
            started_at=st.get("StartedAt"),
            finished_at=st.get("FinishedAt") if state == "exited" else None,
            created_at=a.get("Created"),
            oom_killed=bool(st.get("OOMKilled")),
            error=error,
            pid=int(st.get("Pid") or 0),
            ip=_address(a),
        )

    # -- the pod network -------------------------------------------------------------------

    def _ensure_network_sync(self, spec: NetworkSpec) -> None:
        try:
            existing = self.api.inspect_network(spec.name)
        except docker.errors.NotFound:
            existing = None
        if existing is not None:
            if spec.subnet in _subnets(existing):
                return
            # A podCIDR never changes, but a network left by an older run of this node may
            # hold another one: replace it while nothing uses it.
            if existing.get("Containers"):
                raise RuntimeError_(
                    f"network {spec.name} has subnet {', '.join(_subnets(existing))}, not "
                    f"{spec.subnet}, and containers still use it; remove them"
                )
            self.api.remove_network(spec.name)
        for other in self.api.networks():
            for subnet in _subnets(other):
                if ipaddress.ip_network(subnet, strict=False).overlaps(
                    ipaddress.ip_network(spec.subnet)
                ):
                    raise RuntimeError_(
                        f"pod subnet {spec.subnet} of network {spec.name} overlaps {subnet} "
                        f"of Docker network {other.get('Name')}: give each cluster on one "
                        "engine its own --cluster-cidr"
                    )
        options = {"com.docker.network.bridge.name": spec.bridge} if spec.bridge else {}
        if not spec.masquerade:
            options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
        pool = docker.types.IPAMPool(subnet=spec.subnet, gateway=spec.gateway)
        self.api.create_network(
            spec.name,
            driver="bridge",
            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
            labels=spec.labels,
            options=options or None,
            check_duplicate=True,
        )

    async def ensure_network(self, spec: NetworkSpec) -> None:
        await self._call(self._ensure_network_sync, spec)

    async def remove_network(self, name: str) -> bool:
        try:
            await self._call(self.api.remove_network, name)
        except docker.errors.NotFound:
            return True
        except RuntimeError_ as e:
            if "active endpoints" in str(e):
                return False
            raise
        return True

    def _build_sandbox_image_sync(self, image: str) -> None:
        repo, tag = parse_repository_tag(image)
        try:
            data = sandbox_tarball()
        except BusyboxMissing as e:
            raise RuntimeError_(f"cannot build the pod sandbox image {image}: {e}") from e
        cmd = ", ".join(f'"{a}"' for a in SANDBOX_COMMAND)
        self.api.import_image_from_data(
            data, repository=repo, tag=tag or "latest", changes=[f"CMD [{cmd}]"]
        )

    async def ensure_sandbox_image(self, image: str) -> None:
        if await self.image_present(image):
            return
        if image == DEFAULT_SANDBOX_IMAGE:
            await self._call(self._build_sandbox_image_sync, image)
            return
        try:
            await self.pull(image)
        except ImagePullError as e:
            raise RuntimeError_(
                f"{e}; the pod sandbox image must be on the engine (leave --pod-infra-image "
                f"at {DEFAULT_SANDBOX_IMAGE} to have it built from busybox)"
            ) from e

    # -- logs and exec ---------------------------------------------------------------------

    async def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> bytes:
        try:
            data = await self._call(
                self.api.logs,
                container_id,
                stdout=True,
                stderr=True,
                timestamps=timestamps,
                tail="all" if tail is None else tail,
                since=since,
            )
        except docker.errors.NotFound:
            return b""
        return data if isinstance(data, bytes) else b""

    async def stream_logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> AsyncIterator[bytes]:
        def open_stream() -> Any:
            return self.api.logs(
                container_id,
                stdout=True,
                stderr=True,
                stream=True,
                follow=True,
                timestamps=timestamps,
                tail="all" if tail is None else tail,
                since=since,
            )

        try:
            stream = await self._call(open_stream)
        except docker.errors.NotFound:
            return
        async for chunk in _threaded(stream):
            yield chunk

    async def exec(
        self, container_id: str, command: Sequence[str], timeout: float | None = None
    ) -> ExecResult:
        def run() -> ExecResult:
            ex = self.api.exec_create(container_id, command, stdout=True, stderr=True)
            out, err = self.api.exec_start(ex["Id"], demux=True)
            code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
            return ExecResult(int(code if code is not None else 126), out or b"", err or b"")

        try:
            return await asyncio.wait_for(self._call(run), timeout)
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    async def exec_stream(
        self, container_id: str, command: Sequence[str], streams: StreamRequest
    ) -> StreamSession:
        try:
            return await docker_streams.exec_stream(
                self._call, self.api, container_id, list(command), streams
            )
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    async def attach(self, container_id: str, streams: StreamRequest) -> StreamSession:
        try:
            return await docker_streams.attach(self._call, self.api, container_id, streams)
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    async def connect_port(
        self, container_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await docker_streams.connect_port(self._call, self.api, container_id, port)
        except docker.errors.NotFound as e:
            raise RuntimeError_(_explain(e)) from e

    # -- events ----------------------------------------------------------------------------

    async def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        filters = {
            "type": "container",
            "event": ["start", "die", "oom"],
            "label": [f"{k}={v}" for k, v in labels.items()],
        }
        stream = await self._call(self.client.events, decode=True, filters=filters)
        async for ev in _threaded(stream):
            actor = ev.get("Actor") or {}
            attrs = actor.get("Attributes") or {}
            action = str(ev.get("Action") or ev.get("status") or "")
            yield RuntimeEvent(action.split(":")[0], str(actor.get("ID") or ev.get("id")), attrs)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


def same_pod_container(existing: dict[str, str], wanted: dict[str, str]) -> bool:
    """Whether a container found under the name we want is an instance of the same pod on
    the same node and cluster (one without a cluster label predates that label), so it
    may be replaced; another cluster's container is never removed."""
    return (
        existing.get(LABEL_NODE) == wanted.get(LABEL_NODE)
        and existing.get(LABEL_POD_UID) == wanted.get(LABEL_POD_UID)
        and existing.get(LABEL_CLUSTER) in (None, "", wanted.get(LABEL_CLUSTER))
    )


def _subnets(network: dict[str, Any]) -> list[str]:
    return [
        str(c["Subnet"])
        for c in ((network.get("IPAM") or {}).get("Config") or [])
        if c.get("Subnet")
    ]


def _address(inspected: dict[str, Any]) -> str:
    """A container's address on its (first) network; "" for host or joined networks."""
    networks = (inspected.get("NetworkSettings") or {}).get("Networks") or {}
    for n in networks.values():
        if (n or {}).get("IPAddress"):
            return str(n["IPAddress"])
    return ""


def _state(status: str, error: str) -> str:
    if status == "created" and error:
        return "exited"  # failed to start: treat like a container that died at once
    if status in ("running", "paused", "restarting"):
        return "running"
    if status in ("exited", "dead"):
        return "exited"
    if status == "created":
        return "created"
    return "unknown"


async def _threaded(stream: Any) -> AsyncIterator[Any]:
    """Read a blocking iterator in its own daemon thread; closing the async iterator closes
    the stream (so the thread ends too)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed

    def pump(it: Iterator[Any]) -> None:
        try:
            for item in it:
                put(item)
        except Exception as e:  # noqa: BLE001 - the stream closed under us, or the engine died
            put(e)
        put(_END)

    thread = threading.Thread(target=pump, args=(iter(stream),), daemon=True, name="docker-stream")
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise RuntimeUnavailable(f"Docker stream ended: {item}")
            yield item
    finally:
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass
