"""Every field a consumer reads survives its cache transform.

The scheduler's and the controllers' code that reads cached pods runs here twice, on pods
as the API serves them and on the same pods through the component's transform
(``scheduler.cached_pod``, ``controllers.cached_pod``), and must give the same answers.
The pods cover the states those readers branch on: pending and unschedulable, bound,
running and ready or not, restarted, failed and succeeded, being deleted, orphaned,
with GPUs, init containers, overhead, tolerations, selectors and affinity.
"""

from __future__ import annotations

import copy
import random
from types import SimpleNamespace
from typing import Any

import pytest

from client.eventcorrelation import event_body, involved_object
from controllers import endpoints, job, nodelifecycle, podgc, replicaset
from controllers import garbagecollector as gc
from controllers.actions import Action
from controllers.cached_pod import POD_ANNOTATIONS_READ
from controllers.cached_pod import cached_pod_transform as controllers_transform
from controllers.claim import claim
from controllers.deployment import controller as deployment
from controllers.objutil import selector_matches
from controllers.podutil import (
    deletion_rank,
    is_active,
    is_available,
    is_ready,
    ready_since,
    restart_count,
    sort_for_deletion,
)
from scheduler import reporting
from scheduler.cached_pod import cached_pod_transform as scheduler_transform
from scheduler.plugins.preemption import may_preempt
from scheduler.podinfo import (
    GPU_UUIDS_ANNOTATION,
    REASONS_ANNOTATION,
    gpu_uuids_of,
    is_finished,
    is_terminal,
    pod_info,
    pod_key,
    pod_priority,
)
from scheduler.scheduler import DEFAULT_SCHEDULER_NAMES, Scheduler

Obj = dict[str, Any]
NOW = 1_700_000_100.0
T0 = "2023-11-14T22:13:20Z"  # NOW - 100 s
T1 = "2023-11-14T22:14:55Z"  # NOW - 5 s
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1"}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "name": "batch", "uid": "job-1"}


def _container(name: str = "main") -> Obj:
    probe = {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "periodSeconds": 5}
    return {
        "name": name,
        "image": "nginx:1.27",
        "command": ["sh", "-c", "sleep 1"],
        "env": [{"name": "A", "value": "1"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "readinessProbe": probe,
        "livenessProbe": probe,
        "ports": [
            {"containerPort": 80, "name": "http", "protocol": "TCP"},
            {"containerPort": 9090, "name": "metrics", "protocol": "TCP", "hostPort": 9090},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "128Mi"},
        },
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
    }


def _conditions(ready: bool, since: str = T0) -> list[Obj]:
    status = "True" if ready else "False"
    return [
        {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": since}
        for t, s in (
            ("Initialized", "True"),
            ("Ready", status),
            ("ContainersReady", status),
            ("PodScheduled", "True"),
        )
    ]


def served_pod(name: str, **kw: Any) -> Obj:
    """A pod as the apiserver serves it (defaults, managedFields, annotations...)."""
    labels = kw.get("labels", {"app": "web", "pod-template-hash": "abc"})
    meta: Obj = {
        "name": name,
        "namespace": "prod",
        "uid": f"uid-{name}",
        "resourceVersion": str(100 + len(name)),
        "generation": 1,
        "creationTimestamp": kw.get("created", T0),
        "labels": labels,
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "user/note": "n" * 80,
            **kw.get("annotations", {}),
        },
        "managedFields": [{"manager": "kl", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
    }
    if "owner" in kw:
        meta["ownerReferences"] = [{**kw["owner"], "controller": True, "blockOwnerDeletion": True}]
    if kw.get("deleting"):
        meta["deletionTimestamp"] = T1
        meta["deletionGracePeriodSeconds"] = 30
        meta["finalizers"] = ["foregroundDeletion"]
    spec: Obj = {
        "containers": [_container()],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "restartPolicy": kw.get("restart", "Always"),
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": kw.get("scheduler", "default-scheduler"),
        "enableServiceLinks": True,
        "tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
            | ({"tolerationSeconds": kw["tolerate"]} if "tolerate" in kw else {}),
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        ],
        **kw.get("spec", {}),
    }
    if kw.get("node"):
        spec["nodeName"] = kw["node"]
    status: Obj = {"phase": kw.get("phase", "Pending"), "qosClass": "Burstable"}
    if kw.get("node"):
        status |= {"hostIP": "10.0.0.1", "podIP": "10.0.0.1", "startTime": T0}
    if "conditions" in kw:
        status["conditions"] = kw["conditions"]
    if "container_status" in kw:
        status["containerStatuses"] = [
            {
                "name": "main",
                "image": "nginx:1.27",
                "imageID": "docker-pullable://nginx@sha256:0123",
                "containerID": f"docker://{name}",
                "ready": kw["phase"] == "Running",
                "started": True,
                **kw["container_status"],
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def served_pods() -> list[Obj]:
    running = {"restartCount": 2, "state": {"running": {"startedAt": T0}}}
    failed = {
        "restartCount": 1,
        "state": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": T1}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": T0}},
    }
    done = {"restartCount": 0, "state": {"terminated": {"exitCode": 0, "finishedAt": T0}}}
    unschedulable = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available",
            "lastProbeTime": None,
            "lastTransitionTime": T0,
        }
    ]
    gpu_spec = {
        "containers": [
            _container() | {"resources": {"limits": {"nvidia.com/gpu": "2", "cpu": "2"}}}
        ],
        "priority": 1000,
        "preemptionPolicy": "Never",
        "nodeSelector": {"gpu-model": "H100"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            },
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
        },
    }
    init_spec = {
        "initContainers": [
            _container("init") | {"resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}
        ],
        "overhead": {"cpu": "50m", "memory": "10Mi"},
        "priorityClassName": "system-node-critical",
    }
    host_ports = {endpoints.HOST_PORTS: '{"main/80": 31000}'}
    ip_only = served_pod(
        "ip-only", owner=RS, node="node-9", phase="Running", conditions=_conditions(True)
    )
    ip_only["status"] = {k: v for k, v in ip_only["status"].items() if k != "hostIP"}
    ip_only["status"]["podIP"] = "10.9.9.9"
    return [
        ip_only,
        served_pod(
            "ready",
            owner=RS,
            node="node-1",
            phase="Running",
            tolerate=30,
            conditions=_conditions(True),
            container_status=running,
            annotations=host_ports,
        ),
        served_pod(
            "ready-new",
            owner=RS,
            node="node-2",
            phase="Running",
            created=T1,
            conditions=_conditions(True, T1),
            container_status=running,
            annotations=host_ports,
        ),
        served_pod(
            "not-ready",
            owner=RS,
            node="node-1",
            phase="Running",
            conditions=_conditions(False),
            container_status=running,
        ),
        served_pod(
            "pending",
            owner=RS,
            conditions=unschedulable,
            spec=gpu_spec,
            annotations={REASONS_ANNOTATION: '{"nodes": 3}'},
        ),
        served_pod("init", owner=RS, spec=init_spec),
        served_pod(
            "deleting",
            owner=RS,
            node="node-1",
            phase="Running",
            deleting=True,
            conditions=_conditions(True),
            container_status=running,
            spec=gpu_spec,
            annotations={GPU_UUIDS_ANNOTATION: "GPU-a, GPU-b"},
        ),
        served_pod("orphan", node="node-1", phase="Running", conditions=_conditions(True)),
        served_pod("stray", owner=RS, labels={"app": "other"}, node="node-2", phase="Running"),
        served_pod("other-scheduler", scheduler="bench-none"),
        served_pod(
            "job-failed",
            owner=JOB,
            labels={"job-name": "batch"},
            node="node-1",
            phase="Failed",
            restart="Never",
            container_status=failed,
        ),
        served_pod(
            "job-done",
            owner=JOB,
            labels={"job-name": "batch"},
            node="node-2",
            phase="Succeeded",
            restart="Never",
            container_status=done,
        ),
        served_pod(
            "job-running",
            owner=JOB,
            labels={"job-name": "batch"},
            node="node-2",
            phase="Running",
            restart="OnFailure",
            container_status=failed,
            conditions=_conditions(True),
        ),
    ]


@pytest.fixture
def full() -> list[Obj]:
    return served_pods()


@pytest.fixture
def for_controllers() -> list[Obj]:
    transform = controllers_transform()
    return [transform(copy.deepcopy(p)) for p in served_pods()]


@pytest.fixture
def for_scheduler() -> list[Obj]:
    transform = scheduler_transform()
    return [transform(copy.deepcopy(p)) for p in served_pods()]


def _norm(actions: list[Action]) -> list[Any]:
    """Actions comparable across full and slim pods: an event's body is the pod itself,
    of which only the involved-object reference is written."""
    return [
        (a.verb, a.resource, a.namespace, a.name, involved_object(a.body or {}), a.reason)
        if a.verb == "event"
        else a
        for a in actions
    ]


# -- the transforms themselves ---------------------------------------------------------------


def test_transforms_drop_what_nobody_reads(for_controllers: list[Obj], for_scheduler: list[Obj]):
    for pod in for_controllers + for_scheduler:
        meta, spec = pod["metadata"], pod["spec"]
        assert "managedFields" not in meta and "generation" not in meta
        assert set(meta.get("annotations") or {}) <= POD_ANNOTATIONS_READ | {
            GPU_UUIDS_ANNOTATION,
            REASONS_ANNOTATION,
        }
        assert "restartPolicy" not in spec
        # Of the volumes only the claims they mount (pvc-protection, VolumeBinding).
        assert all(set(v) <= {"persistentVolumeClaim"} for v in spec.get("volumes") or [])
        for c in spec["containers"]:
            assert set(c) <= {"name", "resources", "ports"}
        assert "qosClass" not in pod["status"]
    # The HPA's CPU initialization window opens at a pod's start: the controllers keep it.
    assert any("startTime" in p["status"] for p in for_controllers)
    bound = [p for p in for_scheduler if p["spec"].get("nodeName")]
    assert bound and all("conditions" not in p["status"] for p in bound)


def test_pods_of_one_template_share_everything_but_their_identity() -> None:
    for transform in (controllers_transform(), scheduler_transform()):
        a = transform(served_pod("a", owner=RS, node="n", phase="Running"))
        b = transform(served_pod("b", owner=RS, node="n", phase="Running"))
        assert a["spec"] is b["spec"] and a["status"] is b["status"]
        assert a["metadata"] is not b["metadata"]
        assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    c = controllers_transform()
    a, b = c(served_pod("a", owner=RS)), c(served_pod("b", owner=RS))
    assert a["metadata"]["labels"] is b["metadata"]["labels"]
    assert a["metadata"]["ownerReferences"] is b["metadata"]["ownerReferences"]


def test_the_served_pod_is_not_modified() -> None:
    for transform in (controllers_transform(), scheduler_transform()):
        for pod in served_pods():
            before = copy.deepcopy(pod)
            transform(pod)
            assert pod == before


# -- the scheduler's readers ------------------------------------------------------------------


def test_scheduler_reads_the_same_on_cached_pods(full: list[Obj], for_scheduler: list[Obj]):
    sched = SimpleNamespace(scheduler_names=frozenset(DEFAULT_SCHEDULER_NAMES))
    for f, s in zip(full, for_scheduler, strict=True):
        fi, si = pod_info(f), pod_info(s)
        for slot in type(fi).__slots__:
            if slot != "pod":
                assert getattr(si, slot) == getattr(fi, slot), (pod_key(f), slot)
        assert pod_key(s) == pod_key(f)
        assert pod_priority(s) == pod_priority(f)
        assert is_terminal(s) == is_terminal(f) and is_finished(s) == is_finished(f)
        assert gpu_uuids_of(s) == gpu_uuids_of(f)
        assert may_preempt(si) == may_preempt(fi)
        responsible = Scheduler.responsible_for(sched, f)  # type: ignore[arg-type]
        assert Scheduler.responsible_for(sched, s) == responsible  # type: ignore[arg-type]
        f_ann, s_ann = f["metadata"]["annotations"], s["metadata"].get("annotations") or {}
        assert (REASONS_ANNOTATION in s_ann) == (REASONS_ANNOTATION in f_ann)
        fe, se = (
            event_body(f, "Normal", "R", "m", "c", "i"),
            event_body(s, "Normal", "R", "m", "c", "i"),
        )
        assert se["involvedObject"] == fe["involvedObject"]
        if responsible:  # only pods it schedules are reported unschedulable
            assert reporting.scheduled_condition(s, "x") == reporting.scheduled_condition(f, "x")
    assert any(Scheduler.responsible_for(sched, p) for p in full)  # type: ignore[arg-type]


# -- the controllers' readers -----------------------------------------------------------------


def test_pod_facts_are_the_same_on_cached_pods(full: list[Obj], for_controllers: list[Obj]):
    for f, s in zip(full, for_controllers, strict=True):
        assert is_active(s) == is_active(f) and is_ready(s) == is_ready(f)
        assert ready_since(s) == ready_since(f)
        assert is_available(s, 10, NOW) == is_available(f, 10, NOW)
        assert restart_count(s) == restart_count(f)
        assert deletion_rank(s, NOW) == deletion_rank(f, NOW)
        assert involved_object(s) == involved_object(f)
        assert nodelifecycle.toleration_seconds(s, 300) == nodelifecycle.toleration_seconds(f, 300)
        assert job._finish_time(s) == job._finish_time(f)
    names = [p["metadata"]["name"] for p in sort_for_deletion(for_controllers, NOW)]
    assert names == [p["metadata"]["name"] for p in sort_for_deletion(full, NOW)]


def _rs(replicas: int, min_ready: int = 0) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "prod", "uid": "rs-1", "generation": 3},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
        "status": {},
    }


@pytest.mark.parametrize("replicas", [0, 2, 4, 9])
@pytest.mark.parametrize("min_ready", [0, 10, 1000])
def test_replicaset_decides_the_same(
    full: list[Obj], for_controllers: list[Obj], replicas: int, min_ready: int
) -> None:
    rs = _rs(replicas, min_ready)
    random.seed(7)
    want = replicaset.reconcile(rs, full, NOW)
    random.seed(7)
    got = replicaset.reconcile(rs, for_controllers, NOW)
    assert _norm(got.actions) == _norm(want.actions)
    assert got.requeue_after == want.requeue_after
    assert replicaset.compute_status(rs, for_controllers, NOW) == replicaset.compute_status(
        rs, full, NOW
    )
    adopt = claim(
        rs,
        for_controllers,
        "pods",
        lambda lb: selector_matches({"matchLabels": {"app": "web"}}, lb),
    )
    assert _norm(adopt.actions) == _norm(
        claim(
            rs, full, "pods", lambda lb: selector_matches({"matchLabels": {"app": "web"}}, lb)
        ).actions
    )


@pytest.mark.parametrize("restart", ["Never", "OnFailure"])
@pytest.mark.parametrize("completions", [1, 3])
def test_job_decides_the_same(
    full: list[Obj], for_controllers: list[Obj], restart: str, completions: int
) -> None:
    batch = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch", "namespace": "prod", "uid": "job-1"},
        "spec": {
            "completions": completions,
            "parallelism": 2,
            "backoffLimit": 1,
            "template": {"spec": {"restartPolicy": restart, "containers": []}},
        },
        "status": {"startTime": T0},
    }
    random.seed(3)
    want = job.reconcile(batch, full, NOW)
    random.seed(3)
    got = job.reconcile(batch, for_controllers, NOW)
    assert _norm(got.actions) == _norm(want.actions)
    assert got.requeue_after == want.requeue_after


@pytest.mark.parametrize("publish_not_ready", [False, True])
def test_endpoints_are_the_same(
    full: list[Obj], for_controllers: list[Obj], publish_not_ready: bool
) -> None:
    svc = {
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {
            "selector": {"app": "web"},
            "publishNotReadyAddresses": publish_not_ready,
            "ports": [
                {"name": "web", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9090, "targetPort": 9090},
                {"name": "num", "port": 81, "targetPort": 80},
            ],
        },
    }
    addresses = {"node-1": "192.168.1.1", "node-2": "192.168.1.2"}
    want = endpoints.desired_endpoints(svc, full, addresses)
    assert want["subsets"]  # the test looks at real addresses
    assert endpoints.desired_endpoints(svc, for_controllers, addresses) == want


@pytest.mark.parametrize("tainted_ago", [1.0, 100.0, 1000.0])
def test_node_lifecycle_decides_the_same(
    full: list[Obj], for_controllers: list[Obj], tainted_ago: float
) -> None:
    added = nodelifecycle.format_time(NOW - tainted_ago)
    node = {
        "metadata": {"name": "node-1"},
        "spec": {
            "taints": [
                {"key": nodelifecycle.UNREACHABLE, "effect": "NoExecute", "timeAdded": added}
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }
    timing = nodelifecycle.Timing(40.0, 300.0)
    want = nodelifecycle.reconcile(node, NOW - 100, [p for p in full if is_active(p)], NOW, timing)
    got = nodelifecycle.reconcile(
        node, NOW - 100, [p for p in for_controllers if is_active(p)], NOW, timing
    )
    assert _norm(got.actions) == _norm(want.actions)
    assert any(a.resource == "pods" and a.subresource == "status" for a in want.actions)
    assert got.requeue_after == want.requeue_after


def test_deployment_and_garbage_collector_decide_the_same(
    full: list[Obj], for_controllers: list[Obj]
) -> None:
    old_rs = {"metadata": {"uid": "rs-1"}}
    assert deployment.old_pods_exist([old_rs], for_controllers) is deployment.old_pods_exist(
        [old_rs], full
    )
    for f, s in zip(full, for_controllers, strict=True):
        ref = gc.Ref("pods", "prod", f["metadata"]["name"])
        for state in gc.OwnerState:
            owners = {"rs-1": state, "job-1": state}
            want = gc.reconcile_dependent(f, ref, owners)
            assert _norm(gc.reconcile_dependent(s, ref, owners).actions) == _norm(want.actions)
        want = gc.reconcile_owner(f, ref, [(p, ref) for p in full])
        got = gc.reconcile_owner(s, ref, [(p, ref) for p in for_controllers])
        assert _norm(got.actions) == _norm(want.actions)


def test_pod_gc_decides_the_same(full: list[Obj], for_controllers: list[Obj]) -> None:
    nodes = {"node-2"}
    want = podgc.missing_nodes(full, nodes, {}, NOW)
    assert want and podgc.missing_nodes(for_controllers, nodes, {}, NOW) == want
    gone = set(want)
    assert podgc.orphan_deletions(for_controllers, gone) == podgc.orphan_deletions(full, gone)
    for threshold in (0, 1, 2):
        got = podgc.terminated_deletions(for_controllers, threshold)
        assert got == podgc.terminated_deletions(full, threshold)
