"""Mirror pods for the cluster's own processes: what ``kubelab up`` runs on this machine
(apiserver, scheduler, controller manager, DNS, autoscaler) shown in ``kube-system`` as
Kubernetes' kubelet shows the static pods of a kubeadm control plane: one pod per process
named ``COMPONENT-NODE``, bound to the node, owned by its Node, annotated
``kubernetes.io/config.mirror``, its status from the process (running, or dead and
waiting for its restart, with the restart count and the last exit code).

They are host processes, not containers: ``containerID`` is ``process://PID`` and the
image is the kubelab installation that runs them. Pure: the keeper
(``kubelab/mirror_keeper.py``) does the API calls.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from api.mirror import CONFIG_SOURCE_ANNOTATION, MIRROR_ANNOTATION
from kubelet.runtime.base import ContainerInfo
from kubelet.status import ContainerView, pod_status

Obj = dict[str, Any]

NAMESPACE = "kube-system"
CONFIG_SOURCE = "kubelab-up"  # the "file" of a kubeadm static pod: whoever runs it
COMMAND_ANNOTATION = "kubelab.io/host-process"
RUNTIME = "process"  # containerID scheme: process://PID


@dataclass(frozen=True)
class Component:
    """How one supervised child appears in kube-system."""

    name: str  # the pod's name before -NODE, and its container's
    labels: tuple[tuple[str, str], ...]


# By the supervisor's child name. The kubelets are no pods (as in Kubernetes); the
# metrics API (metrics.k8s.io) is served by the apiserver process, so it shows as
# kube-apiserver's pod, not as a metrics-server that does not run.
COMPONENTS: dict[str, Component] = {
    "apiserver": Component(
        "kube-apiserver", (("component", "kube-apiserver"), ("tier", "control-plane"))
    ),
    "scheduler": Component(
        "kube-scheduler", (("component", "kube-scheduler"), ("tier", "control-plane"))
    ),
    "controllers": Component(
        "kube-controller-manager",
        (("component", "kube-controller-manager"), ("tier", "control-plane")),
    ),
    "dns": Component("kube-dns", (("k8s-app", "kube-dns"),)),
    "autoscaler": Component(
        "kubelab-autoscaler", (("component", "kubelab-autoscaler"), ("tier", "control-plane"))
    ),
}


@dataclass(frozen=True)
class ProcessState:
    """What the supervisor knows of one child's current and previous process."""

    pid: int
    running: bool
    started_at: str | None  # RFC 3339
    restarts: int
    exit_code: int | None = None  # of the current process, once it died
    finished_at: str | None = None
    previous_pid: int = 0  # the process before it (0: none)
    previous_exit_code: int | None = None
    previous_started_at: str | None = None
    previous_finished_at: str | None = None


def image() -> str:
    """The installation that runs the processes (there is no container image)."""
    try:
        return f"kubelab:{version('kubelab')}"
    except PackageNotFoundError:
        return "kubelab:dev"


def pod_name(component: Component, node: str) -> str:
    return f"{component.name}-{node}"


SECRET_FLAGS = ("--db",)  # their values may hold a password: a pod spec is no place for it


def shown_command(argv: list[str]) -> list[str]:
    """``argv`` as the pod shows it: ``kubelab ARGS``, secret-bearing values left out."""
    args = argv[argv.index("kubelab") + 1 :] if "kubelab" in argv else list(argv)
    out = ["kubelab"]
    hide = False
    for a in args:
        out.append("<hidden>" if hide else a)
        hide = a in SECRET_FLAGS
    return out


def desired_pod(component: Component, node: Obj, argv: list[str]) -> Obj:
    """The mirror pod of ``component`` on ``node`` (the Node object, for its uid), whose
    process runs ``argv``."""
    node_name = str(node["metadata"]["name"])
    spec: Obj = {
        "nodeName": node_name,
        "hostNetwork": True,
        "restartPolicy": "Always",
        "priorityClassName": "system-node-critical",
        # As kubeadm's static pods: a node going NotReady evicts none of them.
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "containers": [{"name": component.name, "image": image(), "command": shown_command(argv)}],
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(component, node_name),
            "namespace": NAMESPACE,
            "labels": dict(component.labels),
            "annotations": {
                MIRROR_ANNOTATION: digest,
                CONFIG_SOURCE_ANNOTATION: CONFIG_SOURCE,
                COMMAND_ANNOTATION: "run by kubelab up on the host, not in a container",
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": node_name,
                    "uid": node["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": spec,
    }


def next_step(existing: Obj | None, desired: Obj) -> str:
    """``create`` (none), ``replace`` (deleted by someone, another spec, or owned by a
    Node since recreated: delete it now, make it again), or ``keep``."""
    if existing is None:
        return "create"
    meta = existing.get("metadata") or {}
    want = desired["metadata"]
    if meta.get("deletionTimestamp"):
        return "replace"  # as the kubelet does for a mirror pod deleted through the API
    if (meta.get("annotations") or {}).get(MIRROR_ANNOTATION) != want["annotations"][
        MIRROR_ANNOTATION
    ]:
        return "replace"
    owners = [o.get("uid") for o in meta.get("ownerReferences") or []]
    if owners != [want["ownerReferences"][0]["uid"]]:
        return "replace"
    return "keep"


def desired_status(pod: Obj, state: ProcessState, host_ip: str, now: str) -> Obj:
    """The mirror pod's status from its process, through the kubelet's own status rules
    (so its conditions and container state read as any pod's)."""
    name = pod["spec"]["containers"][0]["name"]
    current = ContainerInfo(
        str(state.pid),
        name,
        {},
        "running" if state.running else "exited",
        exit_code=None if state.running else state.exit_code,
        started_at=state.started_at,
        finished_at=None if state.running else state.finished_at,
    )
    previous = None
    if state.previous_pid:
        previous = ContainerInfo(
            str(state.previous_pid),
            name,
            {},
            "exited",
            exit_code=state.previous_exit_code,
            started_at=state.previous_started_at,
            finished_at=state.previous_finished_at,
        )
    view = ContainerView(
        name=name,
        image=str(pod["spec"]["containers"][0]["image"]),
        current=current,
        previous=previous,
        restart_count=state.restarts,
        # Dead, and restarted by the supervisor after its backoff, as a crash loop.
        waiting_reason=None if state.running else "CrashLoopBackOff",
        waiting_message="" if state.running else f"the {name} process exited; restarting",
        ready=state.running,
        started=state.running,
    )
    return pod_status(pod, [view], runtime=RUNTIME, host_ip=host_ip, now=now)
