"""`kubelab up` (fake runtime) shows its own processes in kube-system as mirror pods, as a
kubeadm control plane's static pods: one per process, bound to the node and owned by its
Node, Running and Ready with the process's pid as containerID; a killed process shows its
restart and exit code; a mirror pod deleted through the API comes back; none is run by
the kubelet; stopping `kubelab up` removes them."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.up_cluster import UpCluster
from tests.wait import wait_for

COMPONENTS = {
    "apiserver": "kube-apiserver",
    "scheduler": "kube-scheduler",
    "controllers": "kube-controller-manager",
    "dns": "kube-dns",
    "autoscaler": "kubelab-autoscaler",
}


def _node(up: UpCluster) -> dict[str, Any]:
    (node,) = [
        n for n in up.client().list("nodes")["items"] if not n["metadata"]["name"].startswith("sim")
    ]
    return node


def _mirror(up: UpCluster, name: str) -> dict[str, Any] | None:
    pods = up.client().list("pods", "kube-system")["items"]
    return next((p for p in pods if p["metadata"]["name"] == name), None)


def _running_as(up: UpCluster, name: str, pid: int) -> dict[str, Any] | None:
    """The mirror pod ``name`` once it says Ready with process ``pid``."""
    pod = _mirror(up, name)
    if pod is None:
        return None
    conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    if conds.get("Ready") != "True" or statuses[0].get("containerID") != f"process://{pid}":
        return None
    return pod


def test_up_keeps_mirror_pods_of_its_processes(tmp_path: Path) -> None:
    # DNS on a free port: 53 may be held by another cluster on this machine.
    up = UpCluster(tmp_path / "home", ["--runtime", "fake", "--dns-port", "0"])
    try:
        up.start()
        node = _node(up)
        nname = node["metadata"]["name"]
        pods: dict[str, dict[str, Any]] = {}
        for child, component in COMPONENTS.items():
            name = f"{component}-{nname}"
            pid = up.child_pid(child)
            pods[child] = wait_for(
                lambda n=name, p=pid: _running_as(up, n, p),  # type: ignore[misc]
                f"{name} Running and Ready as pid {pid}",
                60,
            )
        for child, pod in pods.items():
            meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
            assert meta["annotations"]["kubernetes.io/config.mirror"]
            assert meta["annotations"]["kubernetes.io/config.source"] == "kubelab-up"
            assert meta["ownerReferences"] == [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": nname,
                    "uid": node["metadata"]["uid"],
                    "controller": True,
                }
            ]
            assert spec["nodeName"] == nname and spec["hostNetwork"] is True
            assert spec["priorityClassName"] == "system-node-critical"
            assert spec["containers"][0]["command"][:2] == ["kubelab", child]
            assert "serviceAccountName" not in spec or not spec.get("volumes")  # no token
            assert status["phase"] == "Running" and status["podIP"] == status["hostIP"]
            (cs,) = status["containerStatuses"]
            assert cs["ready"] is True and cs["restartCount"] == 0 and "running" in cs["state"]
        assert pods["dns"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}
        assert pods["apiserver"]["metadata"]["labels"]["component"] == "kube-apiserver"

        # A killed process: its supervisor restarts it, and the pod shows the restart.
        old = up.child_pid("scheduler")
        os.kill(old, signal.SIGKILL)
        sched = f"kube-scheduler-{nname}"
        new = wait_for(lambda: (p := up.child_pid("scheduler")) != old and p, "restarted")
        restarted = wait_for(lambda: _running_as(up, sched, new), "the pod shows the new pid", 60)
        (cs,) = restarted["status"]["containerStatuses"]
        assert cs["restartCount"] == 1
        last = cs["lastState"]["terminated"]
        assert last["exitCode"] == 137 and last["reason"] == "Error"
        assert last["containerID"] == f"process://{old}"
        # The same object all along: a restart is no new pod.
        assert restarted["metadata"]["uid"] == pods["scheduler"]["metadata"]["uid"]

        # Deleted through the API (gracefully: no kubelet would finish it), it comes back.
        dns = f"kube-dns-{nname}"
        c = up.client()
        c.delete("pods", dns, "kube-system")
        back = wait_for(
            lambda: (
                (p := _running_as(up, dns, up.child_pid("dns")))
                and p["metadata"]["uid"] != pods["dns"]["metadata"]["uid"]
                and p
            ),
            "the deleted mirror pod made again",
            30,
        )
        assert not back["metadata"].get("deletionTimestamp")
        # No kubelet ran any of them: no event of a pod worker names them.
        events = c.list("events", "kube-system")["items"]
        assert not [e for e in events if e.get("reason") in ("Pulling", "Pulled", "Started")]

        uids = {p["metadata"]["uid"] for p in c.list("pods", "kube-system")["items"]}
        assert up.stop() == 0
        # Started again: the pods of the last run were removed at its stop, so every one
        # is a new object.
        up.args = []
        up.start()
        apiserver = f"kube-apiserver-{nname}"
        again = wait_for(
            lambda: _running_as(up, apiserver, up.child_pid("apiserver")), "mirror pods again", 60
        )
        assert again["metadata"]["uid"] not in uids
    finally:
        up.stop()
