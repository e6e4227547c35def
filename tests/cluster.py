"""The one test cluster builder: a real apiserver process (HTTPS, uvicorn) and, as asked,
a scheduler, controller managers and kubelets (fake or Docker runtime, any number of nodes,
simulated GPUs), each its own ``kubelab`` subprocess; ``stop`` ends every one of them.

    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        for i in range(2):
            cl.add_kubelet(f"node-{i}", fake_gpus="4")
        cl.wait_nodes_ready()

``Cluster.on(apiserver)`` builds on an apiserver a fixture already runs (its ``stop`` then
leaves that apiserver alone). Every component can be SIGKILLed and started again by its key
(``"apiserver"``, ``"scheduler"``, ``"controllers"``, ``"kubelet/NODE"``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.harness import ApiServer, Component, ComponentExited, start_apiserver
from tests.leftovers import remove_leftovers, remove_unused_routes
from tests.wait import wait_for

# Leader election in seconds (a SIGKILLed copy's lease is free after 3 s, not 15).
FAST_LEADER_FLAGS = (
    "--leader-elect-lease-duration",
    "3",
    "--leader-elect-renew-deadline",
    "2",
    "--leader-elect-retry-period",
    "0.5",
)
# Shortened timings so node failure, leases and Job back-off play out in seconds.
FAST_CONTROLLER_FLAGS = (
    "--node-monitor-grace-period",
    "4",
    "--node-monitor-period",
    "0.5",
    "--pod-eviction-timeout",
    "2",
    "--job-backoff-base",
    "0.2",
    *FAST_LEADER_FLAGS,
)
# Every test cluster's pods tolerate a dead node for 2 s, not Kubernetes' 300: the
# tolerations the apiserver adds to a pod (DefaultTolerationSeconds) decide when the node
# lifecycle controller evicts it, as kube-apiserver's flags of the same names do.
FAST_APISERVER_FLAGS = (
    "--default-not-ready-toleration-seconds",
    "2",
    "--default-unreachable-toleration-seconds",
    "2",
)
# A kubelet that renews its lease and reports status every second (node failure in seconds).
FAST_KUBELET_FLAGS = ("--lease-renew", "1", "--status-report-period", "1")


def pod_cidr_of(api: ApiServer) -> str:
    """The test cluster's ``--cluster-cidr``: a /16 of its own (from its apiserver's port),
    so that test clusters sharing one Docker engine never ask for overlapping bridges."""
    return f"10.{64 + api.port % 160}.0.0/16"


def _with_pod_cidr(api: ApiServer, args: Sequence[str]) -> list[str]:
    return list(args) if "--cluster-cidr" in args else [*args, "--cluster-cidr", pod_cidr_of(api)]


class Cluster:
    """The processes of one test cluster, by key; ``stop`` ends every one it started."""

    def __init__(self, home: Path, *, db: str = "", apiserver_args: Sequence[str] = ()) -> None:
        args = [*FAST_APISERVER_FLAGS, *apiserver_args]
        self._init(start_apiserver(home, db=db, extra_args=args), owns_api=True)

    @classmethod
    def on(cls, api: ApiServer) -> Cluster:
        """Components on an apiserver someone else runs (and stops)."""
        cl = cls.__new__(cls)
        cl._init(api, owns_api=False)
        return cl

    def _init(self, api: ApiServer, owns_api: bool) -> None:
        self.api = api
        self.owns_api = owns_api
        self.client: Any = api.client()
        self.components: dict[str, Component] = {}
        self.kills: list[tuple[float, str]] = []  # (when, key) of every SIGKILL
        self._hollow: dict[str, int] = {}  # kubelet key -> the nodes it simulates
        self._docker_nodes: list[str] = []  # nodes of Docker kubelets, cleaned up at stop

    # -- building ---------------------------------------------------------------------

    def _add(self, key: str, kind: str, *args: str) -> Component:
        """Start ``kubelab KIND ARGS`` as the component ``key``."""
        if key in self.components:
            raise ValueError(f"{key} is already part of this cluster")
        c = self.api.component_proc(kind, *args).start()
        self.components[key] = c
        return c

    def _next_key(self, kind: str) -> str:
        """``kind``, or ``kind-2``, ``kind-3``... when one already runs."""
        key, n = kind, 1
        while key in self.components:
            n += 1
            key = f"{kind}-{n}"
        return key

    def add_scheduler(self, *args: str) -> Component:
        """A scheduler (metrics off unless ``args`` give a port); a second one is
        ``scheduler-2``."""
        if "--metrics-port" not in args:
            args = ("--metrics-port", "0", *args)
        # Fast leases first, so a restart after SIGKILL leads within 3 s; args override them.
        args = (*FAST_LEADER_FLAGS, *args)
        return self._add(self._next_key("scheduler"), "scheduler", *args)

    def add_controllers(self, *args: str) -> Component:
        """A controller manager; a second one is ``controllers-2`` (a leader-election standby)."""
        args = tuple(_with_pod_cidr(self.api, args))
        return self._add(self._next_key("controllers"), "controllers", *args)

    def add_autoscaler(self, *args: str) -> Component:
        """The lab autoscaler under its own identity (system:kubelab-autoscaler, the
        bootstrap policy's role): the apiserver writes HOME/autoscaler.kubeconfig."""
        return self._add(self._next_key("autoscaler"), "autoscaler", *args)

    def add_kubelet(
        self,
        node: str,
        *args: str,
        runtime: str = "fake",
        fake_gpus: str | None = None,
        scheme: str | None = "http",
        port: int = 0,
        root_dir: Path | None = None,
        hollow: int = 0,
    ) -> Component:
        """A kubelet for ``node`` (``hollow`` > 0: that many simulated nodes ``node-0``...),
        state in the apiserver's home; ``args`` are further kubelet flags. Its server is
        plain HTTP on a free port unless told otherwise (``scheme=None``: the kubelet's
        own default, HTTPS), so a test needs no kubelet certificate."""
        flags = ["--home", str(self.api.home), "--runtime", runtime, "--node-name", node]
        flags += ["--port", str(port)]
        if scheme:
            flags += ["--scheme", scheme]
        if fake_gpus:
            flags += ["--fake-gpus", fake_gpus]
        if root_dir is not None:
            flags += ["--root-dir", str(root_dir)]
        if hollow:
            flags += ["--hollow", str(hollow)]
            self._hollow[f"kubelet/{node}"] = hollow
        if runtime == "docker" and node not in self._docker_nodes:
            self._docker_nodes.append(node)
        return self._add(f"kubelet/{node}", "kubelet", *flags, *_with_pod_cidr(self.api, args))

    # -- hurting and healing ----------------------------------------------------------

    @property
    def targets(self) -> list[str]:
        """Everything that can be killed: 'apiserver' (when this cluster runs it) and the
        component keys."""
        return (["apiserver"] if self.owns_api else []) + list(self.components)

    def kill(self, target: str) -> None:
        """SIGKILL one process, the way a crash or a power cut ends it."""
        self.kills.append((time.time(), target))
        if target == "apiserver":
            self.api.kill()
        else:
            self.components[target].kill()

    def start(self, target: str, new_log: bool = False) -> None:
        """Start a stopped or killed process again (the apiserver on its port and home);
        ``new_log``: into a log file of its own, so its log shows only this run."""
        if target == "apiserver":
            if not (self.api.component and self.api.component.alive()):
                self.api.start(timeout=60)
            return
        old = self.components[target]
        if old.alive():
            return
        if new_log:
            old = self.components[target] = old.with_new_log()
        old.start()

    def ensure_all_running(self) -> None:
        for t in self.targets:
            self.start(t)

    # -- observing ------------------------------------------------------------------

    def node_names(self) -> list[str]:
        """The nodes this cluster's kubelets register."""
        out = []
        for key in self.components:
            if key.startswith("kubelet/"):
                node = key.split("/", 1)[1]
                n = self._hollow.get(key, 0)
                out += [f"{node}-{i}" for i in range(n)] if n else [node]
        return out

    def ready_nodes(self) -> list[str]:
        out = []
        for node in self.client.list("nodes")["items"]:
            for c in (node.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready" and c.get("status") == "True":
                    out.append(node["metadata"]["name"])
        return out

    @property
    def node_name(self) -> str:
        """The node of a one-node cluster."""
        (name,) = self.node_names()
        return name

    def _of_kind(self, kind: str) -> list[str]:
        return [k for k in self.components if k == kind or k.startswith(f"{kind}/")]

    def has(self, *kinds: str) -> bool:
        """Whether a live component of each kind ("scheduler", "kubelet", ...) runs."""
        return all(
            self._of_kind(k) and all(self.components[x].alive() for x in self._of_kind(k))
            for k in kinds
        )

    def require(self, *kinds: str) -> None:
        """Skip a test that needs a kind of component this cluster does not run; fail it
        when one that runs has exited."""
        missing = [k for k in kinds if not self._of_kind(k)]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}, which this cluster does not run")
        for k in kinds:
            self.check_alive(*self._of_kind(k))

    def check_alive(self, *keys: str) -> None:
        """Raise ``ComponentExited`` if one of ``keys`` (default: all) has ended."""
        for key in keys or tuple(self.components):
            self.components[key].check_alive()

    def wait_nodes_ready(self, *names: str, timeout: float = 60) -> None:
        """Wait until ``names`` (default: every node of this cluster's kubelets) are Ready;
        a kubelet that exits meanwhile fails at once."""
        want = set(names or self.node_names())
        kubelets = [k for k in self.components if k.startswith("kubelet/")]

        def ready() -> bool:
            self.check_alive(*kubelets)
            return want <= set(self.ready_nodes())

        wait_for(
            ready,
            f"nodes {sorted(want)} Ready",
            timeout,
            give_up_on=(ComponentExited,),
            diagnostics=self.logs,
        )

    def logs(self, tail: int = 3000) -> str:
        """The end of every process's log, for a failure message."""
        api = self.api.component.tail(tail) if self.api.component else ""
        parts = [f"==== apiserver\n{api}"]
        parts += [f"==== {k}\n{c.tail(tail)}" for k, c in self.components.items()]
        return "\n".join(parts)

    # -- ending -----------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM every component (newest first), then the apiserver if this cluster runs it."""
        uid = self._cluster_uid() if self._docker_nodes else ""
        for c in reversed(list(self.components.values())):
            c.stop(5)
        if any(key.startswith("kubelet/") for key in self.components):
            remove_unused_routes()
        if uid:
            # What the Docker kubelets left (pods still running as they stopped): their
            # containers, pod bridges and routes; the cluster is over. Only this
            # cluster's: another may use the same node names on this engine.
            import docker

            engine = docker.from_env(timeout=30)
            try:
                for node in self._docker_nodes:
                    remove_leftovers(
                        engine, f"io.kubelab.node={node}", f"io.kubelab.cluster.uid={uid}"
                    )
            finally:
                engine.close()
        if self.owns_api:
            self.api.stop()

    def _cluster_uid(self) -> str:
        try:
            return str(self.client.get("namespaces", "kube-system")["metadata"]["uid"])
        except Exception:  # noqa: BLE001 - the apiserver is gone: nothing is known to remove
            return ""

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_cluster(
    home: Path,
    *,
    nodes: int = 2,
    controller_flags: Sequence[str] | None = FAST_CONTROLLER_FLAGS,
    kubelet_flags: Sequence[str] = FAST_KUBELET_FLAGS,
    fake_gpus: str | None = None,
    apiserver_args: Sequence[str] = (),
) -> Cluster:
    """The usual small cluster: apiserver, scheduler, ``nodes`` fake-runtime kubelets
    ``node-0``... and (unless ``controller_flags`` is None) a controller manager. Everything
    started is stopped again if a later part fails to start."""
    cl = Cluster(home, apiserver_args=apiserver_args)
    try:
        cl.add_scheduler()
        for i in range(nodes):
            cl.add_kubelet(f"node-{i}", *kubelet_flags, fake_gpus=fake_gpus)
        if controller_flags is not None:
            cl.add_controllers(*controller_flags)
    except BaseException:
        cl.stop()
        raise
    return cl
