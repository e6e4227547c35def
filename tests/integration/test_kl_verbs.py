"""`kl` verbs that change or explain things, as a subprocess against a real apiserver:
scale, set image, label, annotate, rollout pause/resume/restart, delete, create
generators, cordon/uncordon, describe, config contexts, version, api-resources."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness import ApiServer
from tests.integration.kl_helpers import (
    WEB,
    Kl,
    assert_golden,
    kl,
    mask_columns,
    namespaced_kl,
    pod_manifest,
    write,
)


@pytest.fixture(scope="module")
def srv(shared_apiserver: ApiServer) -> ApiServer:
    return shared_apiserver


@pytest.fixture
def k(srv: ApiServer, request: pytest.FixtureRequest) -> Kl:
    return namespaced_kl(srv, request.node.name)


def test_get_nodes_golden(srv: ApiServer) -> None:
    c = srv.client()
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "gpu-box-golden",
            "labels": {"nvidia.com/gpu.product": "H100-80GB", "kl-test": "golden"},
        },
        "spec": {},
    }
    c.create("nodes", node)
    live = c.get("nodes", "gpu-box-golden")
    live["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "ok",
                "lastHeartbeatTime": "2024-05-01T00:00:00Z",
                "lastTransitionTime": "2024-05-01T00:00:00Z",
            }
        ],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
        "capacity": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2", "pods": "110"},
        "allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2", "pods": "110"},
        "nodeInfo": {
            "kubeletVersion": "v1.35.0-kubelab",
            "osImage": "Ubuntu 24.04",
            "kernelVersion": "6.8.0",
            "containerRuntimeVersion": "docker://27.1",
            "architecture": "amd64",
            "operatingSystem": "linux",
            "bootID": "b",
            "machineID": "m",
            "systemUUID": "s",
            "kubeProxyVersion": "",
        },
        "gpus": [
            {
                "index": 0,
                "uuid": "GPU-aaaa",
                "model": "H100-80GB",
                "memoryMiB": 81920,
                "health": "Healthy",
            },
            {
                "index": 1,
                "uuid": "GPU-bbbb",
                "model": "H100-80GB",
                "memoryMiB": 81920,
                "health": "Healthy",
            },
        ],
    }
    c.replace("nodes", "gpu-box-golden", live, subresource="status")
    cfg = srv.kubeconfig
    assert kl(cfg, "cordon", "gpu-box-golden").ok().out == "node/gpu-box-golden cordoned\n"
    assert kl(cfg, "cordon", "gpu-box-golden").ok().out == "node/gpu-box-golden already cordoned\n"
    assert c.get("nodes", "gpu-box-golden")["spec"]["unschedulable"] is True
    out = kl(cfg, "get", "nodes", "-l", "kl-test=golden", "-o", "wide").ok().out
    assert_golden("get_nodes_wide.txt", mask_columns(out))
    assert kl(cfg, "uncordon", "gpu-box-golden").ok().out == "node/gpu-box-golden uncordoned\n"
    assert not c.get("nodes", "gpu-box-golden")["spec"].get("unschedulable")
    page = kl(cfg, "describe", "node", "gpu-box-golden").ok().out
    assert "GPU-aaaa" in page and "<free>" in page and "Non-terminated Pods:" in page
    gpus = kl(cfg, "top", "gpus", "-l", "kl-test=golden").ok().out
    assert gpus.splitlines()[1].split() == [
        "gpu-box-golden",
        "0",
        "H100-80GB",
        "-/80Gi",
        "-",
        "Healthy",
        "<free>",
    ]
    c.delete("nodes", "gpu-box-golden")


# ----- changing things ------------------------------------------------------------------


def test_scale_set_image_label_annotate_rollout_verbs(k: Kl, tmp_path: Path) -> None:
    k("apply", "-f", write(tmp_path, "web.yaml", WEB)).ok()
    assert k("scale", "deploy/web", "--replicas=5").ok().out == "deployment.apps/web scaled\n"
    assert k.c.get("deployments", "web", k.ns)["spec"]["replicas"] == 5
    assert k("scale", "deploy", "web", "--replicas=1", "--current-replicas=3").one_error_line()
    assert k("set", "image", "deploy/web", "nginx=nginx:1.28").ok().out == (
        "deployment.apps/web image updated\n"
    )
    c0 = k.c.get("deployments", "web", k.ns)["spec"]["template"]["spec"]["containers"][0]
    assert c0["image"] == "nginx:1.28" and c0["ports"][0]["containerPort"] == 80
    assert (
        "unable to find container named 'nope'"
        in k("set", "image", "deploy/web", "nope=x").one_error_line()
    )

    assert k("label", "deploy", "web", "team=ml").ok().out == "deployment.apps/web labeled\n"
    assert "--overwrite is false" in k("label", "deploy", "web", "team=cv").one_error_line()
    assert (
        k("label", "deploy", "web", "team=cv", "--overwrite").ok().out
        == "deployment.apps/web labeled\n"
    )
    assert k("label", "deploy", "web", "team-").ok().out == "deployment.apps/web unlabeled\n"
    assert "team" not in k.c.get("deployments", "web", k.ns)["metadata"]["labels"]
    assert k("annotate", "svc", "web", "owner=alice").ok().out == "service/web annotated\n"
    assert k.c.get("services", "web", k.ns)["metadata"]["annotations"]["owner"] == "alice"

    assert k("rollout", "pause", "deploy/web").ok().out == "deployment.apps/web paused\n"
    assert k.c.get("deployments", "web", k.ns)["spec"]["paused"] is True
    assert k("rollout", "pause", "deploy/web").one_error_line() == (
        'error: deployments.apps "web" is already paused'
    )
    assert "resume it first" in k("rollout", "undo", "deploy/web").one_error_line()
    assert k("rollout", "resume", "deploy/web").ok().out == "deployment.apps/web resumed\n"
    assert k("rollout", "restart", "deploy/web").ok().out == "deployment.apps/web restarted\n"
    tmpl = k.c.get("deployments", "web", k.ns)["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in tmpl["annotations"]
    status = k("rollout", "status", "deploy/web", "--watch=false").ok().out
    assert status.startswith("Waiting for deployment") or "rolled out" in status


def test_delete_forms(k: Kl, tmp_path: Path) -> None:
    for name, app in (("d1", "a"), ("d2", "a"), ("d3", "b"), ("d4", "c")):
        k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest(name, labels={"app": app}))).ok()
    assert k("delete", "pod", "d1").ok().out == f'pod "d1" deleted from {k.ns} namespace\n'
    assert (
        k("delete", "pods", "-l", "app=a").ok().out == f'pod "d2" deleted from {k.ns} namespace\n'
    )
    f = write(tmp_path, "d3.yaml", yaml.safe_dump(pod_manifest("d3")))
    assert (
        k("delete", "-f", f, "--wait=false").ok().out == f'pod "d3" deleted from {k.ns} namespace\n'
    )
    assert k("delete", "pod", "d3").one_error_line() == 'error: pods "d3" not found'
    assert k("delete", "pods", "--all", "-o", "name").ok().out == "pod/d4\n"
    assert k.c.list("pods", k.ns)["items"] == []
    assert "no name was specified" in k("delete", "pods").one_error_line()


def test_create_generators(k: Kl, tmp_path: Path) -> None:
    assert k(
        "create", "deployment", "api", "--image=lab/api:1", "--replicas=3", "--port=8080"
    ).ok().out == ("deployment.apps/api created\n")
    d = k.c.get("deployments", "api", k.ns)
    assert d["spec"]["replicas"] == 3 and d["spec"]["selector"]["matchLabels"] == {"app": "api"}
    ini = tmp_path / "app.ini"
    ini.write_text("x=1\n")
    assert k("create", "configmap", "cfg", "--from-literal=a=1", f"--from-file={ini}").ok().out == (
        "configmap/cfg created\n"
    )
    assert k.c.get("configmaps", "cfg", k.ns)["data"] == {"a": "1", "app.ini": "x=1\n"}
    assert (
        k("create", "secret", "generic", "s", "--from-literal=key=v").ok().out
        == "secret/s created\n"
    )
    assert k.c.get("secrets", "s", k.ns)["data"] == {"key": "dg=="}
    assert (
        k("create", "job", "j", "--image=busybox", "--", "echo", "hi").ok().out
        == "job.batch/j created\n"
    )
    assert k.c.get("jobs", "j", k.ns)["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "echo",
        "hi",
    ]
    assert k("create", "configmap", "cfg", "--from-literal=a=2").one_error_line() == (
        'error: configmaps "cfg" already exists'
    )


def test_describe_pages(k: Kl, tmp_path: Path) -> None:
    k("apply", "-f", write(tmp_path, "web.yaml", WEB)).ok()
    k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest("gpu-pod", gpus=2))).ok()
    pod = k("describe", "pod", "gpu-pod").ok().out
    lines = pod.splitlines()
    assert lines[0].split() == ["Name:", "gpu-pod"] and lines[1].split() == ["Namespace:", k.ns]
    assert "nvidia.com/gpu:  2" in pod and "Events:" in pod
    dep = k("describe", "deploy/web").ok().out
    assert (
        "Replicas:" in dep and "2 desired" in dep and "Pod Template:" in dep and "nginx:1.25" in dep
    )
    svc = k("describe", "svc", "web").ok().out
    assert "Selector:" in svc and "app=web" in svc and "80/TCP" in svc
    cm = k("describe", "cm", "settings").ok().out
    assert "Data\n====\nlevel:\n----\n3\n" in cm


# ----- config, version, discovery --------------------------------------------------------


def test_config_contexts(srv: ApiServer, tmp_path: Path) -> None:
    cfg_path = tmp_path / "kubeconfig"
    doc = yaml.safe_load(srv.kubeconfig.read_text())
    second = dict(doc["contexts"][0])
    second = {
        "name": "other",
        "context": {**doc["contexts"][0]["context"], "namespace": "kube-system"},
    }
    doc["contexts"].append(second)
    cfg_path.write_text(yaml.safe_dump(doc))
    current = doc["current-context"]
    ctxs = kl(cfg_path, "config", "get-contexts").ok().out.splitlines()
    assert ctxs[0].split() == ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
    assert ctxs[1].split()[:2] == ["*", current] and ctxs[2].split()[0] == "other"
    assert (
        kl(cfg_path, "config", "use-context", "other").ok().out == 'Switched to context "other".\n'
    )
    assert kl(cfg_path, "config", "current-context").ok().out == "other\n"
    assert yaml.safe_load(cfg_path.read_text())["current-context"] == "other"
    assert "No resources found in kube-system namespace." in kl(cfg_path, "get", "jobs").ok().err
    kl(cfg_path, "config", "set-context", "--current", "--namespace=default").ok()
    assert "default namespace" in kl(cfg_path, "get", "jobs").err
    view = kl(cfg_path, "config", "view").ok().out
    assert "REDACTED" in view and "DATA+OMITTED" in view
    assert srv.token not in view
    assert srv.token in kl(cfg_path, "config", "view", "--raw").ok().out
    assert kl(cfg_path, "config", "use-context", "nope").one_error_line() == (
        'error: no context exists with the name: "nope"'
    )


def test_version_and_api_resources(srv: ApiServer) -> None:
    v = kl(srv.kubeconfig, "version").ok().out.splitlines()
    assert v[0].startswith("Client Version: v1.35") and v[1].startswith("Server Version: v1.")
    rows = [line.split() for line in kl(srv.kubeconfig, "api-resources").ok().out.splitlines()]
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["nodes", "no", "v1", "false", "Node"] in rows


def test_apply_server_side(k: Kl) -> None:
    def cm(**data: str) -> str:
        return yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data}
        )

    out = k("apply", "--server-side", "-f", "-", stdin=cm(a="1")).ok().out
    assert out == "configmap/ssa serverside-applied\n"
    assert k.c.get("configmaps", "ssa", k.ns)["data"] == {"a": "1"}
    # Someone else's field survives the next apply; ours change.
    k.c.patch("configmaps", "ssa", {"data": {"theirs": "x"}}, k.ns)
    k("apply", "--server-side", "-f", "-", stdin=cm(a="2", b="3")).ok()
    assert k.c.get("configmaps", "ssa", k.ns)["data"] == {"a": "2", "b": "3", "theirs": "x"}
    assert "go with --server-side" in k("apply", "--force-conflicts", "-f", "-").one_error_line()
