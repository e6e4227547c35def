"""Kubernetes defaulting on plain dicts."""

import base64
from typing import Any

import pytest

from api.defaults import apply_defaults, generate_job_selector, image_pull_policy


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:0123abcd", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_pod_defaults() -> None:
    pod = _pod()
    c = pod["spec"]["containers"][0]
    c["ports"] = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    c["readinessProbe"] = {"httpGet": {"port": 80}}
    c["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 3}
    apply_defaults("Pod", pod)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert [p["protocol"] for p in c["ports"]] == ["TCP", "UDP"]
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["livenessProbe"]["periodSeconds"] == 3  # a given value is kept
    assert c["livenessProbe"]["failureThreshold"] == 3
    assert pod["status"] == {"phase": "Pending"}


def test_defaults_never_overwrite() -> None:
    pod = _pod(restartPolicy="Never", terminationGracePeriodSeconds=5, dnsPolicy="Default")
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    pod["status"] = {"phase": "Running"}
    apply_defaults("Pod", pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 5
    assert pod["spec"]["dnsPolicy"] == "Default"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["status"]["phase"] == "Running"


def test_defaults_are_idempotent() -> None:
    pod = _pod()
    apply_defaults("Pod", pod)
    import copy

    once = copy.deepcopy(pod)
    apply_defaults("Pod", pod)
    assert pod == once


def test_resources_numbers_become_strings_and_limits_set_requests() -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": 2, "memory": "1Gi", "nvidia.com/gpu": 1},
        "requests": {"cpu": 0.5},
    }
    apply_defaults("Pod", pod)
    res = pod["spec"]["containers"][0]["resources"]
    assert res["limits"] == {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}
    assert res["requests"] == {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}


def test_deployment_defaults() -> None:
    dep = {
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }
    apply_defaults("Deployment", dep)
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always"
    assert tspec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "status" not in spec["template"]  # templates get no pod status


def test_recreate_strategy_gets_no_rolling_update() -> None:
    dep = {"kind": "Deployment", "spec": {"strategy": {"type": "Recreate"}, "replicas": 0}}
    apply_defaults("Deployment", dep)
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert dep["spec"]["replicas"] == 0


def test_replicaset_defaults() -> None:
    rs = {
        "kind": "ReplicaSet",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    apply_defaults("ReplicaSet", rs)
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_job_defaults_leave_restart_policy_to_the_user() -> None:
    job = {
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    apply_defaults("Job", job)
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["completions"], spec["parallelism"]) == (6, 1, 1)
    assert "restartPolicy" not in spec["template"]["spec"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert "selector" not in spec  # no uid yet: the server generates it once it has one


def test_job_work_queue_keeps_completions_unset() -> None:
    job = {"kind": "Job", "spec": {"parallelism": 4, "template": {"spec": {"containers": []}}}}
    apply_defaults("Job", job)
    assert job["spec"]["parallelism"] == 4 and "completions" not in job["spec"]


def test_job_selector_generated_from_uid() -> None:
    job = {
        "kind": "Job",
        "metadata": {"name": "train", "uid": "u-1"},
        "spec": {"template": {"spec": {"containers": []}}},
    }
    apply_defaults("Job", job)
    assert "selector" not in job["spec"]  # immutable: only ever generated on create
    generate_job_selector(job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == "u-1"
    assert labels["batch.kubernetes.io/job-name"] == "train"
    manual = {
        "kind": "Job",
        "metadata": {"uid": "u"},
        "spec": {"manualSelector": True, "template": {}},
    }
    generate_job_selector(manual)
    assert "selector" not in manual["spec"]


def test_service_defaults() -> None:
    svc = {
        "kind": "Service",
        "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}]},
    }
    apply_defaults("Service", svc)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 443, "targetPort": "https", "protocol": "TCP"},
    ]


def test_namespace_secret_node_defaults() -> None:
    ns = {"kind": "Namespace", "metadata": {"name": "x"}}
    apply_defaults("Namespace", ns)
    assert ns["status"] == {"phase": "Active"}

    secret = {"kind": "Secret", "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}}
    apply_defaults("Secret", secret)
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["data"]["user"] == "YWRtaW4="

    node = {
        "kind": "Node",
        "status": {"capacity": {"cpu": 8, "nvidia.com/gpu": 2, "memory": "32Gi"}},
    }
    apply_defaults("Node", node)
    assert node["status"]["capacity"] == {"cpu": "8", "nvidia.com/gpu": "2", "memory": "32Gi"}
    assert node["status"]["allocatable"] == node["status"]["capacity"]


def test_unknown_kind_and_malformed_input_are_left_alone() -> None:
    obj = {"kind": "ConfigMap", "data": {"a": "b"}}
    apply_defaults("ConfigMap", obj)
    assert obj == {"kind": "ConfigMap", "data": {"a": "b"}}
    bad = {"kind": "Pod", "spec": "nonsense"}
    apply_defaults("Pod", bad)  # validation reports it; defaulting must not crash
    assert bad["spec"] == "nonsense"
