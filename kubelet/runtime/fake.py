"""An in-memory runtime: no containers, every container is Running the moment it starts.

Used for hollow nodes (``--hollow N``) in scale benchmarks and for fast integration tests.
Tests can make a container exit with ``exit(container_id, code)``. What a container's
command does (``echo`` to its log, ``sleep N`` then exit 0, ``false`` exits 1, a server runs
on) comes from the one command model, ``fake_model``, so Jobs complete and ``kl logs``
shows their output as on Docker.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from kubelet.runtime import fake_streams
from kubelet.runtime.base import (
    LABEL_NODE,
    LABEL_POD_UID,
    ContainerInfo,
    ContainerSpec,
    ExecResult,
    ImagePullError,
    NetworkSpec,
    RuntimeError_,
    RuntimeEvent,
    StreamRequest,
    StreamSession,
)
from kubelet.runtime.fake_model import Run, model
from kubelet.timeutil import now_rfc3339

MISSING_IMAGE_MARK = "does-not-exist"


# The labels list() looks containers up by without a scan (most selective first).
_INDEXED = (LABEL_POD_UID, LABEL_NODE)


# (time, line) pairs of a container's log (a module name: FakeRuntime has a list())
LogLines = list[tuple[float, str]]


class FakeRuntime:
    """A ContainerRuntime that only keeps records."""

    name = "fake"
    real_gpus_supported = False

    def __init__(self) -> None:
        self._containers: dict[str, ContainerInfo] = {}
        self._specs: dict[str, ContainerSpec] = {}
        # Container ids by pod uid and by node: pod workers list their own pod's containers
        # on every sync, and each hollow node's housekeeping lists its node's; a hollow
        # kubelet holds thousands, and a scan per call made both quadratic.
        self._by_label: dict[str, dict[str, set[str]]] = {k: {} for k in _INDEXED}
        self._ids = itertools.count(1)
        self._subscribers: list[tuple[dict[str, str], asyncio.Queue[RuntimeEvent]]] = []
        self.images: set[str] = set()
        # Per started container: what its command does, when (Unix time) it started, and
        # the timer of its modelled exit.
        self._runs: dict[str, tuple[Run, float]] = {}
        self._exits: dict[str, asyncio.TimerHandle] = {}
        # The pod networks: no kernel work, only addresses handed out from each subnet,
        # so pod IPs (and the Endpoints built from them) are as on Docker.
        self.networks: dict[str, NetworkSpec] = {}
        self._addresses: dict[str, dict[str, str]] = {}  # network -> ip -> container id

    async def version(self) -> str:
        return "fake://0.1.0"

    async def image_present(self, image: str) -> bool:
        return image in self.images

    async def pull(self, image: str) -> None:
        # Images whose name says so fail, so the pull error paths can be exercised.
        if MISSING_IMAGE_MARK in image:
            raise ImagePullError(
                f'failed to pull image "{image}": repository does not exist (fake runtime)'
            )
        self.images.add(image)

    async def image_id(self, image: str) -> str:
        return f"fake://{image}"

    async def image_user(self, image: str) -> str:
        # A fake image sets no USER, so it runs as root, as busybox does.
        return ""

    async def create(self, spec: ContainerSpec) -> str:
        cid = f"fake{next(self._ids):012d}"
        ip = self._assign(spec.network, cid) if spec.network else ""
        self._specs[cid] = spec
        self._containers[cid] = ContainerInfo(
            ip=ip,
            id=cid,
            name=spec.name,
            labels=dict(spec.labels),
            state="created",
            image=spec.image,
            image_id=f"fake://{spec.image}",
            created_at=now_rfc3339(),
        )
        for key, index in self._by_label.items():
            index.setdefault(spec.labels.get(key, ""), set()).add(cid)
        return cid

    def spec(self, container_id: str) -> ContainerSpec | None:
        """The spec a container was created from (for tests)."""
        return self._specs.get(container_id)

    async def start(self, container_id: str) -> None:
        c = self._containers[container_id]
        self._containers[container_id] = replace(c, state="running", started_at=now_rfc3339())
        self._emit("start", container_id)
        run = model(self._specs[container_id])
        self._runs[container_id] = (run, time.time())
        if run.exit_code is not None:
            # Later, never now: like a real engine, the caller sees it running first.
            self._exits[container_id] = asyncio.get_running_loop().call_later(
                run.after, self.exit, container_id, run.exit_code
            )

    def exit(self, container_id: str, code: int) -> None:
        """Make a running container exit with ``code`` (tests, simulated crashes)."""
        c = self._containers.get(container_id)
        if c is None or c.state != "running":
            return
        timer = self._exits.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        self._containers[container_id] = replace(
            c, state="exited", exit_code=code, finished_at=now_rfc3339()
        )
        self._emit("die", container_id)

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        self.exit(container_id, 0)

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        self.exit(container_id, 137)

    async def remove(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        spec = self._specs.pop(container_id, None)
        if spec is not None and spec.network and c is not None:
            self._addresses.get(spec.network, {}).pop(c.ip, None)
        self._runs.pop(container_id, None)
        timer = self._exits.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        if c is not None:
            for key, index in self._by_label.items():
                value = c.labels.get(key, "")
                ids = index.get(value)
                if ids is not None:
                    ids.discard(container_id)
                    if not ids:
                        del index[value]

    async def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        key = next((k for k in _INDEXED if k in labels), None)
        if key is not None:
            # creation order, as a full scan gives
            ids = sorted(self._by_label[key].get(labels[key], ()))
            candidates = [self._containers[i] for i in ids if i in self._containers]
        else:
            candidates = list(self._containers.values())
        return [c for c in candidates if all(c.labels.get(k) == v for k, v in labels.items())]

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        return self._containers.get(container_id)

    def _assign(self, network: str, container_id: str) -> str:
        """The lowest free host address of the network's subnet, past its gateway."""
        spec = self.networks.get(network)
        if spec is None:
            raise RuntimeError_(f"network {network} not found")
        used = self._addresses.setdefault(network, {})
        for host in ipaddress.ip_network(spec.subnet).hosts():
            ip = str(host)
            if ip != spec.gateway and ip not in used:
                used[ip] = container_id
                return ip
        raise RuntimeError_(f"no free address left in network {network} ({spec.subnet})")

    async def ensure_network(self, spec: NetworkSpec) -> None:
        known = self.networks.get(spec.name)
        if known is not None and known.subnet == spec.subnet:
            return
        if self._addresses.get(spec.name):
            raise RuntimeError_(f"network {spec.name} has another subnet, and containers use it")
        self.networks[spec.name] = spec

    async def remove_network(self, name: str) -> bool:
        if self._addresses.get(name):
            return False
        self.networks.pop(name, None)
        self._addresses.pop(name, None)
        return True

    async def ensure_sandbox_image(self, image: str) -> None:
        self.images.add(image)

    async def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> bytes:
        """What the modelled command wrote so far (``echo``), each line at its time; a
        command the model does not know gets one line saying so."""
        lines = self._log_lines(container_id, timestamps, since, until=time.time())
        if tail is not None:
            lines = lines[-tail:] if tail else []
        return "".join(text for _, text in lines).encode()

    def _log_lines(
        self, container_id: str, timestamps: bool, since: float | None, until: float | None
    ) -> LogLines:
        """(time, line) of the modelled output, those written by ``until`` if it is given
        and the container still runs (a stopped one has written all it ever will)."""
        c = self._containers.get(container_id)
        entry = self._runs.get(container_id)
        if c is None or entry is None:
            return []
        run, started = entry
        written = run.output or (
            () if run.modelled else ((0.0, f"fake runtime: container {c.name} has no output\n"),)
        )
        lines: LogLines = []
        for offset, text in written:
            at = started + offset
            if (until is not None and c.running and at > until) or (
                since is not None and at < since
            ):
                continue
            stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for line in text.splitlines(keepends=True):
                lines.append((at, f"{stamp} {line}" if timestamps else line))
        return lines

    async def stream_logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        timestamps: bool = False,
        since: float | None = None,
    ) -> AsyncIterator[bytes]:
        """The output so far, then each modelled line at its time, until the container
        stops (``kubectl logs -f``)."""
        cut = time.time()
        first = await self.logs(container_id, tail=tail, timestamps=timestamps, since=since)
        if first:
            yield first
        later = [
            (at, text)
            for at, text in self._log_lines(container_id, timestamps, since, until=None)
            if at > cut
        ]

        def running() -> bool:
            c = self._containers.get(container_id)
            return c is not None and c.running

        for at, text in later:
            while running() and time.time() < at:
                await asyncio.sleep(min(0.5, max(0.0, at - time.time())))
            yield text.encode()  # stopped: its log is all it wrote, as logs() shows it
        while running():
            await asyncio.sleep(0.5)

    async def exec(
        self, container_id: str, command: Sequence[str], timeout: float | None = None
    ) -> ExecResult:
        """The command model again (``kl exec POD -- nvidia-smi -L`` lists the pod's GPUs,
        ``echo`` prints, ``false`` fails); a command it does not model succeeds silently,
        and a modelled ``sleep`` longer than ``timeout`` times out, as on Docker."""
        c = self._containers.get(container_id)
        spec = self._specs.get(container_id)
        if c is None or spec is None or not c.running:
            return ExecResult(126, b"", b"container is not running\n")
        run = model(replace(spec, command=list(command), args=None, labels={}))
        if run.exit_code is None:
            return ExecResult(0, b"", b"")
        if timeout is not None and run.after > timeout:
            raise TimeoutError(f"exec {command[0]!r} ran past {timeout:g}s")
        return ExecResult(run.exit_code, "".join(t for _, t in run.output).encode(), b"")

    async def exec_stream(
        self, container_id: str, command: Sequence[str], streams: StreamRequest
    ) -> StreamSession:
        """A live session of the command model (kubelet/runtime/fake_streams.py)."""
        spec = self._running_spec(container_id)
        return fake_streams.exec_session(spec, list(command), streams)

    async def attach(self, container_id: str, streams: StreamRequest) -> StreamSession:
        self._running_spec(container_id)
        run, started = self._runs.get(container_id, (Run(), time.time()))

        def running() -> bool:
            c = self._containers.get(container_id)
            return c is not None and c.running

        return fake_streams.attach_session(run, started, running, streams)

    async def connect_port(
        self, container_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._running_spec(container_id)
        raise RuntimeError_(
            f"the fake runtime runs no processes: nothing listens on port {port} (port-forward "
            "needs the docker runtime)"
        )

    def _running_spec(self, container_id: str) -> ContainerSpec:
        c = self._containers.get(container_id)
        spec = self._specs.get(container_id)
        if c is None or spec is None or not c.running:
            raise RuntimeError_(f"container {container_id} is not running")
        return spec

    async def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        queue: asyncio.Queue[RuntimeEvent] = asyncio.Queue()
        entry = (dict(labels), queue)
        self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(entry)

    def _emit(self, action: str, container_id: str) -> None:
        c = self._containers[container_id]
        for labels, queue in self._subscribers:
            if all(c.labels.get(k) == v for k, v in labels.items()):
                queue.put_nowait(RuntimeEvent(action, container_id, dict(c.labels)))

    async def close(self) -> None:
        for timer in self._exits.values():
            timer.cancel()
        self._exits.clear()
