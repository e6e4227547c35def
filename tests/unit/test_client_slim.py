"""client.slim: the pod transform the scheduler and the controller manager cache with."""

from __future__ import annotations

import copy
from typing import Any

from client.slim import LAST_APPLIED, pod_slimmer, slim_pod
from controllers.base import POD_ANNOTATIONS_READ
from controllers.endpoints import HOST_PORTS, resolve_port
from scheduler.podinfo import GPU_UUIDS_ANNOTATION, gpu_uuids_of, pod_info

Obj = dict[str, Any]


def full_pod() -> Obj:
    probe = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}
    container = {
        "name": "main",
        "image": "nginx:1.27",
        "command": ["sh"],
        "args": ["-c", "sleep 1"],
        "workingDir": "/w",
        "env": [{"name": "A", "value": "1"}],
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "livenessProbe": probe,
        "readinessProbe": probe,
        "startupProbe": probe,
        "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
        "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP", "hostPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "nvidia.com/gpu": "1"}, "limits": {}},
        "imagePullPolicy": "IfNotPresent",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "prod",
            "uid": "u-1",
            "resourceVersion": "42",
            "labels": {"app": "web"},
            "annotations": {
                LAST_APPLIED: "{...}",
                "user/note": "x" * 100,
                GPU_UUIDS_ANNOTATION: "GPU-a,GPU-b",
                HOST_PORTS: '{"main/80": 31000}',
            },
            "managedFields": [{"manager": "kl", "operation": "Apply"}],
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "uid": "rs-1"}],
            "deletionTimestamp": "2025-01-01T00:00:00Z",
        },
        "spec": {
            "nodeName": "node-1",
            "schedulerName": "default-scheduler",
            "priority": 7,
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
            "containers": [container],
            "initContainers": [copy.deepcopy(container)],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


DROPPED = (
    "command args workingDir env envFrom volumeMounts livenessProbe readinessProbe "
    "startupProbe lifecycle"
).split()


def test_slim_pod_drops_what_no_component_reads_and_keeps_the_rest() -> None:
    pod = full_pod()
    before = copy.deepcopy(pod)
    slim = slim_pod(pod, frozenset({GPU_UUIDS_ANNOTATION}))
    assert pod == before  # the served object is not modified
    meta, spec = slim["metadata"], slim["spec"]
    assert "managedFields" not in meta
    assert meta["annotations"] == {GPU_UUIDS_ANNOTATION: "GPU-a,GPU-b"}
    assert "volumes" not in spec
    for c in spec["containers"] + spec["initContainers"]:
        assert not [f for f in DROPPED if f in c]
        assert c["ports"] == before["spec"]["containers"][0]["ports"]
        assert c["resources"] == before["spec"]["containers"][0]["resources"]
        assert c["name"] == "main" and c["image"] == "nginx:1.27"
    for k in ("name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences"):
        assert meta[k] == before["metadata"][k]
    assert meta["deletionTimestamp"] == before["metadata"]["deletionTimestamp"]
    for k in ("nodeName", "priority", "nodeSelector", "tolerations", "affinity"):
        assert spec[k] == before["spec"][k]
    assert slim["status"] == before["status"]
    assert slim["apiVersion"] == "v1" and slim["kind"] == "Pod"


def test_slim_pod_drops_annotations_entirely_when_none_is_kept() -> None:
    slim = slim_pod(full_pod())
    assert "annotations" not in slim["metadata"]
    assert slim_pod({"metadata": {"name": "a"}}) == {"metadata": {"name": "a"}}


def test_slim_pod_interns_recurring_strings() -> None:
    a, b = full_pod(), full_pod()
    # Distinct string objects, as two JSON decodes give.
    b["metadata"]["namespace"] = "".join(["pr", "od"])
    b["spec"]["nodeName"] = "".join(["node", "-1"])
    sa, sb = slim_pod(a), slim_pod(b)
    assert sa["metadata"]["namespace"] is sb["metadata"]["namespace"]
    assert sa["spec"]["nodeName"] is sb["spec"]["nodeName"]


def test_scheduler_view_is_unchanged_by_slimming() -> None:
    pod = full_pod()
    slim = pod_slimmer((GPU_UUIDS_ANNOTATION,))(pod)
    full_info, slim_info = pod_info(pod), pod_info(slim)
    for f in ("key", "uid", "priority", "node_name", "cpu", "memory", "gpus", "gpu_uuids"):
        assert getattr(slim_info, f) == getattr(full_info, f), f
    assert slim_info.tolerations == full_info.tolerations
    assert slim_info.node_selector == full_info.node_selector
    assert slim_info.signature == full_info.signature
    assert gpu_uuids_of(slim) == ("GPU-a", "GPU-b")


def test_controllers_keep_the_annotations_they_read() -> None:
    assert HOST_PORTS in POD_ANNOTATIONS_READ
    slim = pod_slimmer(POD_ANNOTATIONS_READ)(full_pod())
    assert resolve_port(slim, "http") == resolve_port(full_pod(), "http") == 31000
