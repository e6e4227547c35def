"""Validation: every message names the field, says what is wrong and how to fix it."""

import copy
from typing import Any

import pytest

from api.defaults import apply_defaults
from api.errors import invalid
from api.validation import drop_unknown_fields, unknown_fields, validate


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
            ],
            **spec,
        },
    }


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def _job(restart: str | None = "Never") -> dict[str, Any]:
    tspec: dict[str, Any] = {
        "containers": [
            {
                "name": "train",
                "image": "pytorch/pytorch",
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            }
        ]
    }
    if restart:
        tspec["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "ml"},
        "spec": {"template": {"spec": tspec}},
    }


def _service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], **spec},
    }


def errors(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    """Default (as the apiserver does), validate, and index messages by field."""
    apply_defaults(kind, obj)
    if old is not None:
        apply_defaults(kind, old)
    out: dict[str, str] = {}
    for c in validate(kind, obj, old):
        out.setdefault(c.field, c.message)
    return out


@pytest.mark.parametrize(
    "obj",
    [
        _pod(),
        _deployment(),
        _job(),
        _job("OnFailure"),
        _service(),
        _service(clusterIP="None", ports=[]),
    ],
    ids=["pod", "deployment", "job", "job-onfailure", "service", "headless"],
)
def test_valid_objects_pass(obj: dict[str, Any]) -> None:
    assert errors(obj["kind"], obj) == {}


def test_other_kinds_valid() -> None:
    assert errors("Namespace", {"metadata": {"name": "ml-team"}}) == {}
    assert (
        errors("ConfigMap", {"metadata": {"name": "cfg"}, "data": {"app.conf": "x", "KEY_1": "y"}})
        == {}
    )
    assert errors("Secret", {"metadata": {"name": "s"}, "data": {"pw": "aHVudGVyMg=="}}) == {}
    node = {
        "metadata": {"name": "gpu-box-1"},
        "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]},
        "status": {"gpus": [{"index": 0, "uuid": "GPU-a"}, {"index": 1, "uuid": "GPU-b"}]},
    }
    assert errors("Node", node) == {}
    assert (
        errors("Event", {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}})
        == {}
    )
    assert errors("Lease", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 40}}) == {}


# --- metadata ----------------------------------------------------------------------------


def test_bad_name_message_names_the_rule_and_a_fix() -> None:
    pod = _pod()
    pod["metadata"]["name"] = "Web_1"
    errs = errors("Pod", pod)
    assert errs["metadata.name"].startswith(
        'Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
    )
    assert 'try "web-1"' in errs["metadata.name"]


def test_name_required_unless_generate_name() -> None:
    pod = _pod()
    del pod["metadata"]["name"]
    assert "name or generateName is required" in errors("Pod", pod)["metadata.name"]
    pod = _pod()
    del pod["metadata"]["name"]
    pod["metadata"]["generateName"] = "web-"
    assert errors("Pod", pod) == {}
    assert "metadata" in errors("Pod", {"spec": _pod()["spec"]})


def test_name_length_and_style_per_kind() -> None:
    assert (
        "no more than 253"
        in errors("ConfigMap", {"metadata": {"name": "a" * 254}})["metadata.name"]
    )
    assert errors("ConfigMap", {"metadata": {"name": "a.b.c"}}) == {}
    assert "RFC 1123 label" in errors("Namespace", {"metadata": {"name": "a.b"}})["metadata.name"]
    assert (
        "no more than 63" in errors("Namespace", {"metadata": {"name": "a" * 64}})["metadata.name"]
    )
    svc = _service()
    svc["metadata"]["name"] = "1web"
    assert "DNS-1035 label" in errors("Service", svc)["metadata.name"]


def test_label_syntax() -> None:
    pod = _pod()
    pod["metadata"]["labels"] = {"bad key!": "x", "ok": "-bad-", "example.com/team": "ml", "n": 1}
    errs = validate("Pod", pod)
    msgs = [c.message for c in errs if c.field.startswith("metadata.labels")]
    assert any('"bad key!"' in m and "name part must consist of alphanumeric" in m for m in msgs)
    assert any('"-bad-"' in m and "a valid label must be an empty string" in m for m in msgs)
    assert any("label values must be strings; quote it" in m for m in msgs)
    assert len(msgs) == 3


def test_annotation_size_limit() -> None:
    pod = _pod()
    pod["metadata"]["annotations"] = {"big": "x" * (256 * 1024 + 1)}
    assert "Too long" in errors("Pod", pod)["metadata.annotations"]


# --- pods --------------------------------------------------------------------------------


def test_containers_required() -> None:
    msg = errors("Pod", _pod(containers=[]))["spec.containers"]
    assert msg.startswith("Required value:") and "add one" in msg


def test_container_names_unique_and_image_required() -> None:
    pod = _pod(containers=[{"name": "web", "image": "nginx"}, {"name": "web"}])
    errs = errors("Pod", pod)
    assert errs["spec.containers[1].name"].startswith('Duplicate value: "web"')
    assert "rename" in errs["spec.containers[1].name"]
    assert "set the container image" in errs["spec.containers[1].image"]
    init = _pod(initContainers=[{"name": "web", "image": "busybox"}])
    assert "spec.containers[0].name" in errors("Pod", init)


@pytest.mark.parametrize("port", [0, 65536, -1, "80"])
def test_container_port_range(port: Any) -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": port}]
    assert "spec.containers[0].ports[0].containerPort" in errors("Pod", pod)


def test_restart_policy_enum() -> None:
    msg = errors("Pod", _pod(restartPolicy="Sometimes"))["spec.restartPolicy"]
    assert msg == 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'


def test_resources() -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "2", "memory": "lots"},
        "limits": {"cpu": "1"},
    }
    errs = errors("Pod", pod)
    assert (
        "must be less than or equal to cpu limit of 1"
        in errs["spec.containers[0].resources.requests"]
    )
    assert "raise limits[cpu]" in errs["spec.containers[0].resources.requests"]
    assert "invalid quantity 'lots'" in errs["spec.containers[0].resources.requests[memory]"]


def test_gpu_resources() -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"requests": {"nvidia.com/gpu": "1"}}
    assert (
        "must have a limit equal to its request"
        in errors("Pod", pod)["spec.containers[0].resources.limits[nvidia.com/gpu]"]
    )
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "0.5"}}
    assert (
        "whole number" in errors("Pod", pod)["spec.containers[0].resources.limits[nvidia.com/gpu]"]
    )
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"gpu": "1"}}
    assert "nvidia.com/gpu" in errors("Pod", pod)["spec.containers[0].resources.limits[gpu]"]
    # Part of a GPU by memory is fine alone, never together with whole GPUs.
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"kubelab.io/gpu-memory": "10Gi"}}
    assert errors("Pod", pod) == {}
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"
    assert (
        "not both"
        in errors("Pod", pod)["spec.containers[0].resources.limits[kubelab.io/gpu-memory]"]
    )


def test_probe_needs_exactly_one_handler() -> None:
    pod = _pod()
    c = pod["spec"]["containers"][0]
    c["livenessProbe"] = {"periodSeconds": 5}
    c["readinessProbe"] = {"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}
    c["startupProbe"] = {"tcpSocket": {"port": 80}, "successThreshold": 2}
    errs = errors("Pod", pod)
    assert (
        "exactly one of exec, httpGet, tcpSocket or grpc"
        in errs["spec.containers[0].livenessProbe"]
    )
    assert "more than 1 handler type" in errs["spec.containers[0].readinessProbe.tcpSocket"]
    assert "must be 1" in errs["spec.containers[0].startupProbe.successThreshold"]
    c["livenessProbe"] = {"httpGet": {"port": 99999}, "periodSeconds": 0}
    errs = errors("Pod", pod)
    assert "spec.containers[0].livenessProbe.httpGet.port" in errs
    assert "spec.containers[0].livenessProbe.periodSeconds" in errs


def test_volumes_and_mounts() -> None:
    pod = _pod(
        volumes=[
            {"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}},
            {"name": "data", "emptyDir": {}},
            {"name": "none"},
        ]
    )
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "missing", "mountPath": "/m"}]
    errs = errors("Pod", pod)
    assert "more than 1 volume type" in errs["spec.volumes[0].hostPath"]
    assert errs["spec.volumes[1].name"].startswith('Duplicate value: "data"')
    assert "must specify a volume type" in errs["spec.volumes[2]"]
    assert "not found in spec.volumes" in errs["spec.containers[0].volumeMounts[0].name"]


def test_tolerations_and_affinity() -> None:
    pod = _pod(
        tolerations=[
            {"key": "gpu", "operator": "Exists", "value": "x"},
            {"operator": "Equal", "value": "v"},
            {"key": "a", "effect": "Sometimes"},
        ],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "gpus", "operator": "Gt", "values": ["two"]},
                                {"key": "z", "operator": "In"},
                            ]
                        }
                    ]
                }
            }
        },
    )
    errs = errors("Pod", pod)
    assert "value must be empty" in errs["spec.tolerations[0].operator"]
    assert "operator must be Exists" in errs["spec.tolerations[1].operator"]
    assert "Unsupported value" in errs["spec.tolerations[2].effect"]
    base = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions"
    assert "single integer" in errs[f"{base}[0].values"]
    assert "Required value" in errs[f"{base}[1].values"]


# --- workloads ---------------------------------------------------------------------------


def test_deployment_selector_must_match_template() -> None:
    dep = _deployment()
    dep["spec"]["selector"] = {"matchLabels": {"app": "api"}}
    msg = errors("Deployment", dep)["spec.template.metadata.labels"]
    assert msg.startswith(
        'Invalid value: {"app":"web"}: `selector` does not match template `labels`'
    )
    assert "app=api" in msg


def test_deployment_rules() -> None:
    dep = _deployment()
    dep["spec"]["replicas"] = -1
    dep["spec"]["selector"] = {}
    dep["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    dep["spec"]["strategy"] = {
        "type": "Rolling",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0},
    }
    errs = errors("Deployment", dep)
    assert errs["spec.replicas"] == "Invalid value: -1: must be greater than or equal to 0"
    assert "non-empty selector is required" in errs["spec.selector"]
    assert (
        errs["spec.template.spec.restartPolicy"]
        == 'Unsupported value: "Never": supported values: "Always"'
    )
    assert "RollingUpdate" in errs["spec.strategy.type"]
    dep = _deployment()
    dep["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": 0},
    }
    assert (
        "may not be 0 when `maxSurge` is 0"
        in errors("Deployment", dep)["spec.strategy.rollingUpdate.maxUnavailable"]
    )
    dep = _deployment()
    dep["spec"]["strategy"] = {"rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "lots"}}
    errs = errors("Deployment", dep)
    assert "100%" in errs["spec.strategy.rollingUpdate.maxUnavailable"]
    assert "percentage" in errs["spec.strategy.rollingUpdate.maxSurge"]


def test_replicaset_needs_selector_and_template() -> None:
    errs = errors("ReplicaSet", {"metadata": {"name": "rs"}, "spec": {"replicas": 1}})
    assert "spec.selector" in errs and "spec.template" in errs


def test_job_restart_policy() -> None:
    assert (
        "OnFailure or Never"
        in errors("Job", _job(restart=None))["spec.template.spec.restartPolicy"]
    )
    assert errors("Job", _job("Always"))["spec.template.spec.restartPolicy"] == (
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    )
    job = _job()
    job["spec"].update(completions=-1, parallelism=-2, backoffLimit=-3)
    errs = errors("Job", job)
    assert {"spec.completions", "spec.parallelism", "spec.backoffLimit"} <= set(errs)


# --- services ----------------------------------------------------------------------------


def test_service_ports() -> None:
    assert "add at least one port" in errors("Service", _service(ports=[]))["spec.ports"]
    svc = _service(ports=[{"port": 80, "nodePort": 30080}])
    assert (
        "may not be used when `type` is 'ClusterIP'"
        in errors("Service", svc)["spec.ports[0].nodePort"]
    )
    svc = _service(type="NodePort", ports=[{"port": 80, "nodePort": 80}])
    assert "30000-32767" in errors("Service", svc)["spec.ports[0].nodePort"]
    svc = _service(ports=[{"port": 70000, "targetPort": "Not_A_Name"}, {"port": 81}])
    errs = errors("Service", svc)
    assert "spec.ports[0].port" in errs and "spec.ports[0].targetPort" in errs
    assert "every port needs a name" in errs["spec.ports[0].name"]
    assert "Unsupported value" in errors("Service", _service(type="Magic"))["spec.type"]
    assert "valid IP" in errors("Service", _service(clusterIP="banana"))["spec.clusterIP"]


# --- other kinds -------------------------------------------------------------------------


def test_node_gpus_and_taints() -> None:
    node = {
        "metadata": {"name": "n"},
        "spec": {"taints": [{"key": "k", "effect": "Never"}]},
        "status": {
            "gpus": [{"index": 0, "uuid": "GPU-a"}, {"index": -1, "uuid": "GPU-a"}, {"index": 2}]
        },
    }
    errs = errors("Node", node)
    assert "Unsupported value" in errs["spec.taints[0].effect"]
    assert "status.gpus[1].index" in errs
    assert errs["status.gpus[1].uuid"].startswith('Duplicate value: "GPU-a"')
    assert "status.gpus[2].uuid" in errs


def test_configmap_and_secret() -> None:
    errs = errors("ConfigMap", {"metadata": {"name": "c"}, "data": {"bad key": "x", "n": 3}})
    assert "a valid config key" in errs["data"]
    assert "quote it" in errs["data[n]"]
    errs = errors("Secret", {"metadata": {"name": "s"}, "data": {"pw": "not base64!"}})
    assert "base64" in errs["data[pw]"] and "stringData" in errs["data[pw]"]
    assert "not base64!" not in errs["data[pw]"]  # secret values never echoed


# --- updates -----------------------------------------------------------------------------


def test_pod_update_rules() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["tolerations"] = [{"key": "a", "operator": "Exists"}]
    new["metadata"]["labels"]["extra"] = "yes"
    assert errors("Pod", new, old) == {}

    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 81}]
    msg = errors("Pod", new, old)["spec"]
    assert msg.startswith(
        "Forbidden: pod updates may not change fields other than spec.containers[*].image"
    )
    assert "changed: spec.containers[0].ports" in msg

    bound = copy.deepcopy(old)
    bound["spec"]["nodeName"] = "node-a"
    assert errors("Pod", bound, old) == {}  # binding sets nodeName once
    moved = copy.deepcopy(bound)
    moved["spec"]["nodeName"] = "node-b"
    assert "spec" in errors("Pod", moved, bound)

    with_tol = _pod(tolerations=[{"key": "a", "operator": "Exists"}])
    assert "only added to" in errors("Pod", _pod(), with_tol)["spec.tolerations"]


def test_immutable_fields() -> None:
    old = _deployment()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert "field is immutable" in errors("Deployment", new, old)["spec.selector"]

    new = copy.deepcopy(old)
    new["metadata"]["name"] = "other"
    assert "to rename, create a new object" in errors("Deployment", new, old)["metadata.name"]
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert errors("Deployment", new, old) == {}

    job, job2 = _job(), _job()
    job2["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    assert "field is immutable" in errors("Job", job2, job)["spec.template"]

    svc, svc2 = _service(clusterIP="10.96.0.1"), _service(clusterIP="10.96.0.2")
    assert "field is immutable" in errors("Service", svc2, svc)["spec.clusterIP"]
    assert errors("Service", _service(), _service(clusterIP="10.96.0.1")) == {}

    cm = {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True}
    cm2 = {**cm, "data": {"a": "2"}}
    assert "Forbidden" in errors("ConfigMap", cm2, cm)["data"]


def test_causes_make_a_readable_422() -> None:
    pod = _pod(containers=[])
    pod["metadata"]["name"] = "Bad"
    err = invalid("Pod", "Bad", validate("Pod", pod))
    assert err.code == 422
    assert err.message.startswith('Pod "Bad" is invalid: metadata.name: Invalid value: "Bad"')
    assert "spec.containers: Required value" in err.message


# --- unknown fields ----------------------------------------------------------------------


def test_unknown_fields() -> None:
    dep = _deployment()
    dep["spec"]["replica"] = 3
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    dep["metadata"]["labels"] = {"anything/goes": "here"}
    dep["metadata"]["annotations"] = {"x": "y"}
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": "1"}
    }
    dep["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    dep["status"] = {"replicas": 1, "bogus": 1}
    assert sorted(unknown_fields("Deployment", dep)) == [
        "spec.replica",
        "spec.template.spec.containers[0].imagePullPolcy",
        "status.bogus",
    ]
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"any.key": "v"},
        "extra": 1,
    }
    assert unknown_fields("ConfigMap", cm) == ["extra"]
    node = {
        "kind": "Node",
        "status": {
            "gpus": [{"index": 0, "uuid": "u", "memoryMiB": 1, "temp": 40}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}},
        },
    }
    assert unknown_fields("Node", node) == ["status.gpus[0].temp"]
    assert unknown_fields("Widget", {"a": 1}) == []


def test_known_manifests_have_no_unknown_fields() -> None:
    from tests.unit.test_models import ALL

    for manifest in ALL:
        assert unknown_fields(manifest["kind"], manifest) == [], manifest["kind"]


def test_drop_unknown_fields() -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    pod["spec"]["foo"] = 1
    assert drop_unknown_fields("Pod", pod) == ["spec.containers[0].imagePullPolcy", "spec.foo"]
    assert "foo" not in pod["spec"] and "imagePullPolcy" not in pod["spec"]["containers"][0]
    assert unknown_fields("Pod", pod) == []


def test_pod_stored_before_a_default_existed_can_still_be_labelled() -> None:
    old = _pod()  # as stored by an older server: no defaults at all
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["team"] = "ml"
    apply_defaults("Pod", new)
    assert validate("Pod", new, old) == []


def test_job_update_after_create_keeps_its_selector_rules() -> None:
    job = _job()
    apply_defaults("Job", job)
    job["metadata"]["uid"] = "u-1"  # the server assigns it after defaulting on create
    updated = copy.deepcopy(job)
    updated["metadata"]["labels"] = {"team": "ml"}
    assert errors("Job", updated, job) == {}


def test_pod_update_with_tolerations_not_a_list_is_refused_not_a_crash() -> None:
    """The fuzz suite found a 500: comparing old tolerations with a string."""
    from api.validation import validate as _validate

    old = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    }
    new = {**old, "spec": {**old["spec"], "tolerations": "x"}}
    assert any(c.field.startswith("spec") for c in _validate("Pod", new, old))
