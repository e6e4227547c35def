"""A cluster to hurt, and the checks that say nothing was lost.

Used by the SIGKILL recovery test (tests/integration/test_crash_recovery.py) and the chaos
soak (tests/chaos/). Every component is its own process, killed with SIGKILL the way a
crash or a power cut ends it (the cluster is tests/cluster.py's, built by
``start_fault_cluster``); a ``Recorder`` samples every pod all along so a pod that
changed node or a GPU held by two live pods is seen even if it lasted a moment; a
``Workload`` keeps writing (scales, rollouts, GPU pods, Jobs, ConfigMaps) and remembers
which writes the API acknowledged.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelet.runtime.base import LABEL_CLUSTER
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.integration.ctrl_cluster import is_ready, rollout_done
from tests.leftovers import remove_leftovers
from tests.wait import WaitTimeout, wait_for

NS = "default"
GPU_ANN = "kubelab.io/gpu-uuids"
NODE_LABEL = "io.kubelab.node"
POD_UID_LABEL = "io.kubelab.pod.uid"
# The fake-runtime nodes carry this label and the workloads select it, so that only pods
# made for it (with a real image) land on a Docker node.
FAKE_NODES = {"kubelab.io/runtime": "fake"}


# One name per test process: two fault clusters on one Docker engine (two soaks, or a soak
# beside a CI run) must not see, kill or remove each other's containers by node label.
DOCKER_NODE = f"docker-{uuid.uuid4().hex[:6]}"


def start_fault_cluster(
    home: Path, nodes: int = 2, gpus: str = "4", docker: bool = False
) -> Cluster:
    """apiserver, scheduler, controller manager and fake-runtime kubelets with simulated
    GPUs (plus, optionally, one Docker kubelet ``DOCKER_NODE``), each restartable after a
    SIGKILL; short resync and backoff so recovery plays out in seconds."""
    cl = Cluster(home)
    try:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        for i in range(nodes):
            _add_kubelet(cl, f"node-{i}", "fake", gpus)
        if docker:
            _add_kubelet(cl, DOCKER_NODE, "docker", gpus)
    except BaseException:
        cl.stop()
        raise
    return cl


def _add_kubelet(cl: Cluster, node: str, runtime: str, gpus: str) -> None:
    cl.add_kubelet(
        node,
        *FAST_KUBELET_FLAGS,
        "--resync-period", "1",
        "--backoff-initial", "1",
        "--backoff-max", "4",
        "--no-proxy",
        "--node-labels", f"kubelab.io/runtime={runtime}",
        runtime=runtime,
        fake_gpus=gpus,
    )  # fmt: skip


def docker_node_of(cl: Cluster) -> str:
    """The Docker kubelet's node of a fault cluster, or "" when it has none."""
    return DOCKER_NODE if f"kubelet/{DOCKER_NODE}" in cl.components else ""


# ---------------------------------------------------------------------------------------
# Watching for what must never happen.


def _live(p: dict[str, Any]) -> bool:
    """Bound and not finished: a pod that holds its node's resources (terminating included)."""
    return bool((p.get("spec") or {}).get("nodeName")) and (p.get("status") or {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


def gpu_double_holders(pods: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """(node, GPU UUID) held by more than one live pod in this snapshot."""
    holders: dict[tuple[str, str], list[str]] = {}
    for p in pods:
        if not _live(p):
            continue
        ann = (p["metadata"].get("annotations") or {}).get(GPU_ANN) or ""
        for u in filter(None, (x.strip() for x in ann.split(","))):
            holders.setdefault((p["spec"]["nodeName"], u), []).append(
                f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            )
    return {k: v for k, v in holders.items() if len(v) > 1}


@dataclass
class Recorder:
    """Samples every pod a few times a second, through restarts of the API."""

    client: Any
    interval: float = 0.3
    nodes_of: dict[str, set[str]] = field(default_factory=dict)  # pod uid -> nodes seen
    names: dict[str, str] = field(default_factory=dict)  # pod uid -> ns/name
    gpu_violations: list[str] = field(default_factory=list)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._run, daemon=True, name="recorder")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # the API is down for a moment: sample again later
                pass
            self._stop.wait(self.interval)

    def sample(self) -> list[dict[str, Any]]:
        pods = self.client.list("pods")["items"]
        self.samples += 1
        for p in pods:
            uid = p["metadata"]["uid"]
            self.names[uid] = f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            node = (p.get("spec") or {}).get("nodeName")
            if node:
                self.nodes_of.setdefault(uid, set()).add(node)
        for (node, u), who in gpu_double_holders(pods).items():
            self.gpu_violations.append(f"GPU {u} on {node} held by {who} at {time.time():.1f}")
        return pods

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def bound_twice(self) -> dict[str, set[str]]:
        """Pods seen on more than one node."""
        return {self.names[u]: n for u, n in self.nodes_of.items() if len(n) > 1}


# ---------------------------------------------------------------------------------------
# Writing all along, remembering what was acknowledged.


def deployment(name: str, replicas: int, gpus: int = 0, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "app:1"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    spec: dict[str, Any] = {
        "containers": [container],
        "terminationGracePeriodSeconds": 0,
        "nodeSelector": dict(FAKE_NODES),
    }
    spec.update(extra.pop("pod_spec", {}))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            **extra,
        },
    }


def gpu_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"role": "gpu-bare"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": dict(FAKE_NODES),
            "containers": [
                {"name": "main", "image": "app:1", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
            ],
        },
    }


def job(name: str, parallelism: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "parallelism": parallelism,
            "completions": 10,
            "backoffLimit": 100,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 0,
                    "nodeSelector": dict(FAKE_NODES),
                    "containers": [{"name": "work", "image": "app:1"}],
                }
            },
        },
    }


@dataclass
class Workload:
    """Writes on a thread: scales and rolls Deployments, makes and removes GPU pods, writes
    ConfigMaps. ``acked`` holds every ConfigMap write the API answered with success."""

    client: Any
    deployments: dict[str, tuple[int, int]]  # name -> (min, max) replicas
    seed: int = 0
    gpu_pods_max: int = 2
    pause: float = 0.2
    acked: dict[str, str] = field(default_factory=dict)  # ConfigMap name -> data value
    counter_acked: int = 0  # the last acknowledged value of the counter ConfigMap
    writes_ok: int = 0
    writes_failed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Workload:
        self.rng = random.Random(self.seed)
        self._n = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="workload")
        self._thread.start()
        return self

    def _run(self) -> None:
        actions: list[Callable[[], None]] = [
            self._scale,
            self._scale,
            self._roll,
            self._configmap,
            self._configmap,
            self._counter,
            self._gpu_pod,
        ]
        while not self._stop.is_set():
            try:
                self.rng.choice(actions)()
                self.writes_ok += 1
            except Exception:  # the API is down or said no: not acknowledged
                self.writes_failed += 1
            self._stop.wait(self.pause)

    def _scale(self) -> None:
        name = self.rng.choice(sorted(self.deployments))
        lo, hi = self.deployments[name]
        n = self.rng.randint(lo, hi)
        self.client.patch("deployments", name, {"spec": {"replicas": n}}, NS, subresource="scale")

    def _roll(self) -> None:
        name = self.rng.choice(sorted(self.deployments))
        self._n += 1
        self.client.patch(
            "deployments",
            name,
            {"spec": {"template": {"metadata": {"annotations": {"rev": str(self._n)}}}}},
            NS,
        )

    def _configmap(self) -> None:
        self._n += 1
        name, value = f"ack-{self.seed}-{self._n}", f"v{self._n}-{self.rng.random()}"
        self.client.create(
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name},
                "data": {"v": value},
            },
            NS,
        )
        self.acked[name] = value

    def _counter(self) -> None:
        value = self.counter_acked + 1
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"counter-{self.seed}"},
            "data": {"n": str(value)},
        }
        try:
            self.client.replace("configmaps", f"counter-{self.seed}", body, NS)
        except Exception as e:
            if getattr(e, "code", None) != 404:
                raise
            self.client.create("configmaps", body, NS)
        self.counter_acked = value

    def _gpu_pod(self) -> None:
        pods = self.client.list("pods", NS, label_selector="role=gpu-bare")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(live) >= self.gpu_pods_max:
            victim = self.rng.choice(live)["metadata"]["name"]
            self.client.delete("pods", victim, NS)
        else:
            self._n += 1
            self.client.create("pods", gpu_pod(f"gpu-{self.seed}-{self._n}"), NS)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def check_acknowledged(self) -> list[str]:
        """Every acknowledged ConfigMap write is there; the counter is at least as new."""
        lost = []
        have = {
            cm["metadata"]["name"]: cm.get("data") or {}
            for cm in self.client.list("configmaps", NS)["items"]
        }
        for name, value in self.acked.items():
            if have.get(name, {}).get("v") != value:
                lost.append(f"ConfigMap {name}: acknowledged {value!r}, found {have.get(name)}")
        if self.counter_acked:
            n = int(have.get(f"counter-{self.seed}", {}).get("n", "0"))
            if n < self.counter_acked:
                lost.append(f"counter: acknowledged {self.counter_acked}, found {n}")
        return lost


# ---------------------------------------------------------------------------------------
# The end state.


def settle(client: Any, replicas: dict[str, int]) -> None:
    """Set each Deployment's replicas once more (an acknowledged write to converge to)."""
    for name, n in replicas.items():
        wait_for(
            lambda name=name, n=n: client.patch(
                "deployments", name, {"spec": {"replicas": n}}, NS, subresource="scale"
            ),
            f"scale of {name}",
        )


def converge(problems: Callable[[], list[str]], timeout: float) -> list[str]:
    """Wait until ``problems()`` is empty; ``[]`` then, else the last problems seen."""
    last: list[str] = ["never checked"]

    def none_left() -> bool:
        nonlocal last
        try:
            last = problems()
        except Exception as e:  # the API may still be starting
            last = [f"error: {e}"]
        return not last

    try:
        wait_for(none_left, "no problems left", timeout, interval=0.5)
    except WaitTimeout:
        return last
    return []


def deployment_problems(client: Any) -> list[str]:
    """Deployments not at their replicas: rollout not done, or live pods != replicas."""
    out = []
    pods = client.list("pods", NS)["items"]
    for d in client.list("deployments", NS)["items"]:
        name, n = d["metadata"]["name"], d["spec"]["replicas"]
        mine = [
            p
            for p in pods
            if (p["metadata"].get("labels") or {}).get("app") == name
            and not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        ready = [p for p in mine if is_ready(p)]
        st = d.get("status") or {}
        if not rollout_done(d) or len(mine) != n or len(ready) != n:
            # Where each unready pod is and what it says, for whoever reads a failure.
            unready = "; ".join(
                f"{p['metadata']['name']} on {p['spec'].get('nodeName') or '-'}: "
                f"{(p.get('status') or {}).get('phase')}, conditions "
                + ",".join(
                    # The reason says who wrote it: ContainersNotReady is the kubelet's,
                    # NodeNotReady the node lifecycle controller's.
                    f"{c.get('type')}={c.get('status')}"
                    + (f"({c['reason']})" if c.get("reason") else "")
                    for c in (p.get("status") or {}).get("conditions") or []
                )
                for p in mine
                if not is_ready(p)
            )
            out.append(
                f"{name}: want {n}, {len(mine)} live pods, {len(ready)} ready, status "
                f"ready={st.get('readyReplicas')} updated={st.get('updatedReplicas')} "
                f"available={st.get('availableReplicas')}" + (f" [{unready}]" if unready else "")
            )
    return out


def job_problems(client: Any) -> list[str]:
    """Running Jobs with more live pods than their parallelism, or none at all."""
    out = []
    pods = client.list("pods", NS)["items"]
    for j in client.list("jobs", NS)["items"]:
        name, par = j["metadata"]["name"], j["spec"].get("parallelism", 1)
        mine = [
            p
            for p in pods
            if (p["metadata"].get("labels") or {}).get("job-name") == name
            and not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        if len(mine) != par:
            out.append(f"job {name}: parallelism {par}, {len(mine)} live pods")
    return out


def orphan_containers(client: Any, node: str) -> list[str]:
    """Docker containers of ``node`` in this cluster whose pod is gone (only for the Docker
    kubelet). Another test cluster on the same engine may use the same node name (two
    soaks at once): its containers carry its own cluster uid and are not ours to judge."""
    import docker

    cluster_uid = client.get("namespaces", "kube-system")["metadata"]["uid"]
    uids = {p["metadata"]["uid"] for p in client.list("pods")["items"]}
    labels = [f"{NODE_LABEL}={node}", f"{LABEL_CLUSTER}={cluster_uid}"]
    dc = docker.from_env(timeout=10)
    try:
        return [
            f"{c.name} (pod uid {c.labels.get(POD_UID_LABEL)})"
            for c in dc.containers.list(filters={"label": labels})
            if c.labels.get(POD_UID_LABEL) not in uids
        ]
    finally:
        dc.close()


def remove_node_containers(node: str) -> None:
    """Remove every container a Docker kubelet of ``node`` left (test cleanup)."""
    import docker

    dc = docker.from_env(timeout=10)
    try:
        remove_leftovers(dc, f"{NODE_LABEL}={node}")
    finally:
        dc.close()
