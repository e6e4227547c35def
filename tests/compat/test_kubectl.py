"""The real kubectl v1.35, with its default settings, against a real kubelab cluster.

Every verb of issue 7 is run as a user would run it; each test asserts kubectl's
exit code and then reads what the cluster holds through kubelab's own client, so a
command that "prints something" but stores the wrong thing fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.errors import ApiError
from tests.compat.conftest import Cluster, Kubectl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


# ---------------------------------------------------------------- helpers


def deployment(name: str, image: str = "nginx:1.26", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def pod(name: str, *containers: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers or ("main",)]},
    }


def write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def gone(cl: Any, resource: str, name: str, ns: str | None) -> bool:
    try:
        cl.get(resource, name, ns)
    except ApiError as exc:
        return exc.code == 404
    return False


def header(output: str) -> list[str]:
    """Column names of kubectl's table output (split on runs of 2+ spaces)."""
    first = output.splitlines()[0]
    return re.split(r"\s{2,}", first.strip())


def rows(output: str) -> dict[str, dict[str, str]]:
    """Table output as {NAME: {COLUMN: cell}}, columns located by header offsets."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not lines:
        return {}
    cols = header(output)
    # Each column after the one before ("AGE" also occurs inside "STORAGECLASS").
    starts: list[int] = []
    for c in cols:
        starts.append(lines[0].index(c, starts[-1] + 1 if starts else 0))
    out: dict[str, dict[str, str]] = {}
    for ln in lines[1:]:
        cells = {}
        for i, c in enumerate(cols):
            end = starts[i + 1] if i + 1 < len(cols) else None
            cells[c] = ln[starts[i] : end].strip()
        key = cells.get("NAME", "")
        out[key] = cells
    return out


# ---------------------------------------------------------------- discovery, version


def test_version_reports_the_server(kubectl: Kubectl) -> None:
    info = json.loads(kubectl("version", "-o", "json"))
    assert info["clientVersion"]["gitVersion"].startswith("v1.35.")
    assert info["serverVersion"]["gitVersion"].startswith("v1.35.")
    assert (info["serverVersion"]["major"], info["serverVersion"]["minor"]) == ("1", "35")


def test_api_resources_lists_every_kind(kubectl: Kubectl) -> None:
    out = kubectl("api-resources")
    # "pods" and "nodes" are also metrics.k8s.io's (PodMetrics, NodeMetrics, listed after
    # the core ones, as with metrics-server): the core rows are the ones checked here.
    lines = out.splitlines()
    table = rows("\n".join([lines[0], *(ln for ln in lines[1:] if "metrics.k8s.io" not in ln)]))
    assert header(out)[:5] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert {"PodMetrics", "NodeMetrics"} <= {
        ln.split()[-1] for ln in lines if "metrics.k8s.io" in ln
    }
    assert table["pods"]["SHORTNAMES"] == "po" and table["pods"]["KIND"] == "Pod"
    assert table["deployments"]["APIVERSION"] == "apps/v1"
    assert table["nodes"]["NAMESPACED"] == "false"
    assert {"jobs", "leases", "serviceaccounts", "events", "endpoints"} <= set(table)
    cluster_scoped = kubectl("api-resources", "--namespaced=false", "-o", "name").split()
    assert set(cluster_scoped) == {
        "namespaces",
        "nodes",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
        "tokenreviews.authentication.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "persistentvolumes",
        "storageclasses.storage.k8s.io",
        "ingressclasses.networking.k8s.io",
        "certificatesigningrequests.certificates.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "nodes.metrics.k8s.io",
        "queues.scheduling.kubelab.io",
    }


# ---------------------------------------------------------------- create


def test_create_generators_send_protobuf_and_are_stored(kubectl: Kubectl, cluster: Cluster) -> None:
    ns = "gen-" + uuid.uuid4().hex[:6]
    cl = cluster.api.client()
    assert "created" in kubectl("create", "namespace", ns)
    assert cl.get("namespaces", ns)["metadata"]["name"] == ns

    kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1", "--from-literal=b=two")
    assert cl.get("configmaps", "cfg", ns)["data"] == {"a": "1", "b": "two"}

    kubectl("create", "secret", "generic", "pw", "-n", ns, "--from-literal=password=hunter2")
    sec = cl.get("secrets", "pw", ns)
    assert base64.b64decode(sec["data"]["password"]) == b"hunter2"
    assert sec.get("type", "Opaque") == "Opaque"

    kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.26", "--replicas=2")
    dep = cl.get("deployments", "web", ns)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.26"

    kubectl("create", "job", "once", "-n", ns, "--image=busybox", "--", "echo", "hi")
    job = cl.get("jobs", "once", ns)
    (jc,) = job["spec"]["template"]["spec"]["containers"]
    assert jc["image"] == "busybox" and jc["command"] == ["echo", "hi"]

    kubectl("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080")
    svc = cl.get("services", "web", ns)
    (port,) = svc["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, 8080)
    assert svc["spec"]["selector"] == {"app": "web"}

    # The same generator again is refused, and nothing is overwritten.
    p = kubectl.fails("create", "configmap", "cfg", "-n", ns, "--from-literal=a=changed")
    assert "AlreadyExists" in p.stderr or "already exists" in p.stderr
    assert cl.get("configmaps", "cfg", ns)["data"]["a"] == "1"


def test_create_from_file(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = write(tmp_path / "cm.yaml", configmap("from-file", key="value"))
    assert "configmap/from-file created" in kubectl("create", "-f", str(f), "-n", namespace)
    cm = cluster.api.client().get("configmaps", "from-file", namespace)
    assert cm["data"] == {"key": "value"}
    # create never writes the last-applied annotation (only apply does).
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (
        cm["metadata"].get("annotations") or {}
    )
    kubectl.fails("create", "-f", str(f), "-n", namespace)


# ---------------------------------------------------------------- apply


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def test_apply_create_unchanged_configured(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    f = write(tmp_path / "web.yaml", deployment("web"))
    assert "deployment.apps/web created" in kubectl("apply", "-f", str(f), "-n", namespace)
    first = cl.get("deployments", "web", namespace)
    assert LAST_APPLIED in first["metadata"]["annotations"]
    generation = first["metadata"]["generation"]

    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(f), "-n", namespace)
    assert cl.get("deployments", "web", namespace)["metadata"]["generation"] == generation

    # A new image: apply sends a strategic merge patch that names only the image; a
    # plain merge patch would wipe the container's ports.
    write(f, deployment("web", image="nginx:1.27"))
    assert "deployment.apps/web configured" in kubectl("apply", "-f", str(f), "-n", namespace)
    dep = cl.get("deployments", "web", namespace)
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "nginx:1.27"
    assert c["ports"][0]["containerPort"] == 80
    assert dep["metadata"]["generation"] > generation
    assert (
        json.loads(dep["metadata"]["annotations"][LAST_APPLIED])["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        == "nginx:1.27"
    )

    # Removing a field from the file removes it from the object (three-way merge).
    d = deployment("web", image="nginx:1.27")
    del d["metadata"]["labels"]
    write(f, d)
    kubectl("apply", "-f", str(f), "-n", namespace)
    assert "app" not in (cl.get("deployments", "web", namespace)["metadata"].get("labels") or {})


def test_apply_directory_multidoc_and_stdin(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    d = tmp_path / "manifests"
    d.mkdir()
    write(d / "a-config.yaml", configmap("one", x="1"), configmap("two", b="2"))
    write(
        d / "b-app.yml",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "runner"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    (d / "notes.txt").write_text("not a manifest: kubectl skips other extensions\n")
    out = kubectl("apply", "-f", str(d), "-n", namespace)
    for line in (
        "configmap/one created",
        "configmap/two created",
        "serviceaccount/runner created",
        "service/web created",
    ):
        assert line in out
    assert cl.get("configmaps", "two", namespace)["data"] == {"b": "2"}
    assert cl.get("serviceaccounts", "runner", namespace)["metadata"]["name"] == "runner"
    assert cl.get("services", "web", namespace)["spec"]["ports"][0]["port"] == 80

    # Again: every object unchanged.
    out = kubectl("apply", "-f", str(d), "-n", namespace)
    assert out.count("unchanged") == 4, out

    # Standard input, twice.
    doc = yaml.safe_dump(configmap("piped", source="stdin"))
    assert "configmap/piped created" in kubectl("apply", "-n", namespace, "-f", "-", input=doc)
    assert "configmap/piped unchanged" in kubectl("apply", "-n", namespace, "-f", "-", input=doc)
    assert cl.get("configmaps", "piped", namespace)["data"] == {"source": "stdin"}


def test_apply_server_side(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    f = write(tmp_path / "ssa.yaml", configmap("ssa", a="1"))
    out = kubectl("apply", "--server-side", "-f", str(f), "-n", namespace)
    assert "configmap/ssa serverside-applied" in out
    assert cl.get("configmaps", "ssa", namespace)["data"] == {"a": "1"}
    write(f, configmap("ssa", a="2", b="3"))
    kubectl("apply", "--server-side", "-f", str(f), "-n", namespace)
    assert cl.get("configmaps", "ssa", namespace)["data"] == {"a": "2", "b": "3"}

    f2 = write(tmp_path / "ssa-deploy.yaml", deployment("ssa-web"))
    kubectl("apply", "--server-side", "-f", str(f2), "-n", namespace)
    dep = cl.get("deployments", "ssa-web", namespace)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"


def test_apply_with_server_dry_run_stores_nothing(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = write(tmp_path / "dry.yaml", configmap("dry", a="1"))
    out = kubectl("apply", "--dry-run=server", "-f", str(f), "-n", namespace)
    assert "configmap/dry created (server dry run)" in out
    assert gone(cluster.api.client(), "configmaps", "dry", namespace)


def test_apply_rejects_unknown_field_with_a_readable_error(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    bad = configmap("typo", a="1")
    bad["dta"] = {"b": "2"}
    f = write(tmp_path / "typo.yaml", bad)
    p = kubectl.fails("apply", "-f", str(f), "-n", namespace)
    assert "dta" in p.stderr
    assert gone(cluster.api.client(), "configmaps", "typo", namespace)


# ---------------------------------------------------------------- get


def test_get_tables_names_labels_and_output_formats(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    cl.create(
        "configmaps",
        {**configmap("alpha", a="1"), "metadata": {"name": "alpha", "labels": {"tier": "db"}}},
        namespace,
    )
    cl.create(
        "configmaps",
        {
            **configmap("beta", a="1", b="2"),
            "metadata": {"name": "beta", "labels": {"tier": "web"}},
        },
        namespace,
    )

    out = kubectl("get", "configmaps", "-n", namespace)
    assert header(out) == ["NAME", "DATA", "AGE"]
    table = rows(out)
    assert table["alpha"]["DATA"] == "1" and table["beta"]["DATA"] == "2"

    assert set(rows(kubectl("get", "cm", "alpha", "beta", "-n", namespace))) == {"alpha", "beta"}
    assert set(rows(kubectl("get", "cm", "-l", "tier=db", "-n", namespace))) == {"alpha"}
    assert set(rows(kubectl("get", "cm", "-l", "tier in (db,web),tier!=db", "-n", namespace))) == {
        "beta"
    }
    assert set(rows(kubectl("get", "cm", "-l", "!tier", "-n", namespace))) <= {"kube-root-ca.crt"}

    labels = rows(kubectl("get", "cm", "--show-labels", "-n", namespace))
    assert labels["alpha"]["LABELS"] == "tier=db"

    every = kubectl("get", "cm", "-A", "-l", "tier")
    assert header(every)[:2] == ["NAMESPACE", "NAME"]
    assert re.search(rf"^{namespace}\s+alpha\s+1\s", every, re.M), every

    names = kubectl("get", "cm", "-l", "tier", "-n", namespace, "-o", "name").split()
    assert names == ["configmap/alpha", "configmap/beta"]
    doc = yaml.safe_load(kubectl("get", "cm", "alpha", "-n", namespace, "-o", "yaml"))
    assert doc["data"] == {"a": "1"} and doc["metadata"]["namespace"] == namespace
    lst = json.loads(kubectl("get", "cm", "-l", "tier", "-n", namespace, "-o", "json"))
    assert lst["kind"] == "List" and len(lst["items"]) == 2
    assert kubectl("get", "cm", "beta", "-n", namespace, "-o", "jsonpath={.data.b}") == "2"

    # Several kinds at once.
    cl.create(
        "secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}},
        namespace,
    )
    both = kubectl("get", "cm,secrets", "-l", "tier", "-n", namespace, "-o", "name").split()
    assert "configmap/alpha" in both
    multi = kubectl("get", "configmap/alpha", "secret/s", "-n", namespace)
    assert "configmap/alpha" in multi and "secret/s" in multi and "Opaque" in multi

    p = kubectl.fails("get", "cm", "nope", "-n", namespace)
    assert 'configmaps "nope" not found' in p.stderr


def test_get_all_and_workload_columns(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    cl.create("deployments", deployment("web", replicas=2), namespace)
    cl.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        namespace,
    )
    cl.create(
        "jobs",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "batch"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                    }
                }
            },
        },
        namespace,
    )
    out = kubectl("get", "all", "-n", namespace)
    assert "deployment.apps/web" in out
    assert "service/web" in out
    assert "job.batch/batch" in out

    dep = kubectl("get", "deployments", "-n", namespace)
    assert header(dep) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows(dep)["web"]["READY"].endswith("/2")
    wide = kubectl("get", "deployments", "-o", "wide", "-n", namespace)
    assert header(wide)[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows(wide)["web"]["IMAGES"] == "nginx:1.26"
    assert rows(wide)["web"]["SELECTOR"] == "app=web"

    svc = kubectl("get", "svc", "-n", namespace)
    assert header(svc) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert rows(svc)["web"]["PORT(S)"] == "80/TCP"
    jobs = kubectl("get", "jobs", "-n", namespace)
    assert header(jobs) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    ns_out = kubectl("get", "namespace", namespace)
    assert rows(ns_out)[namespace]["STATUS"] == "Active"

    if cluster.has("controllers"):
        wait_for(
            lambda: cl.list("replicasets", namespace, label_selector="app=web")["items"],
            "the deployment's ReplicaSet",
        )
        rs = kubectl("get", "rs", "-n", namespace)
        assert header(rs) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
        assert "replicaset.apps/web-" in kubectl("get", "all", "-n", namespace)


def test_get_pods_columns_and_wide(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    cl = cluster.api.client()
    cl.create("pods", pod("p1"), namespace)
    out = kubectl("get", "pods", "-n", namespace)
    assert header(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows(out)["p1"]["READY"] in ("0/1", "1/1")
    wide = kubectl("get", "pods", "-o", "wide", "-n", namespace)
    assert header(wide) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
        "GPUS",
    ]
    if cluster.has("scheduler", "kubelet"):

        def running() -> dict[str, str] | None:
            r = rows(kubectl("get", "pods", "-o", "wide", "-n", namespace))["p1"]
            return r if r["STATUS"] == "Running" else None

        r = wait_for(running, "p1 Running in kubectl get pods", interval=0.3)
        assert r["READY"] == "1/1" and r["NODE"] == cluster.node_name
        assert r["IP"] != "<none>"
    some_node(cluster)
    nodes = kubectl("get", "nodes")
    assert header(nodes) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    nodes_wide = kubectl("get", "nodes", "-o", "wide")
    assert header(nodes_wide)[5:] == [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
        "GPUS",
    ]


def _read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    """Read a running kubectl's stdout (unbuffered, straight from the pipe) until the regex
    ``needle`` matches.

    Returns everything read so far; it accumulates on ``proc`` across calls.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen: str = getattr(proc, "_seen", "")
    deadline = time.monotonic() + timeout
    while not re.search(needle, seen):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen in {timeout}s; got:\n{seen}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"kubectl ended before {needle!r}; got:\n{seen}")
            seen += chunk.decode(errors="replace")
    proc._seen = seen  # type: ignore[attr-defined]
    return seen


def test_get_watch_shows_new_and_changed_objects(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    cl.create("configmaps", configmap("before", a="1"), namespace)
    proc = kubectl.popen("get", "configmaps", "-w", "-n", namespace)
    try:
        _read_until(proc, "before", 20)
        cl.create("configmaps", configmap("during", a="1", b="2"), namespace)
        _read_until(proc, r"during\s+2\s", 20)
        cl.patch("configmaps", "during", {"data": {"c": "3"}}, namespace)
        _read_until(proc, r"during\s+3\s", 20)
        cl.delete("configmaps", "before", namespace)
        assert proc.poll() is None, "kubectl get -w ended on its own"
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- delete


def test_delete_by_name_file_and_selector(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    for name, tier in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")]:
        cl.create(
            "configmaps",
            {**configmap(name), "metadata": {"name": name, "labels": {"tier": tier}}},
            namespace,
        )
    assert 'configmap "a" deleted' in kubectl("delete", "configmap", "a", "-n", namespace)
    assert gone(cl, "configmaps", "a", namespace)

    f = write(tmp_path / "b.yaml", configmap("b"))
    assert 'configmap "b" deleted' in kubectl("delete", "-f", str(f), "-n", namespace)
    assert gone(cl, "configmaps", "b", namespace)

    out = kubectl("delete", "configmaps", "-l", "tier=y", "-n", namespace)
    assert 'configmap "c" deleted' in out and 'configmap "d" deleted' in out
    left = {i["metadata"]["name"] for i in cl.list("configmaps", namespace)["items"]}
    assert not left & {"a", "b", "c", "d"}

    p = kubectl.fails("delete", "configmap", "a", "-n", namespace)
    assert "NotFound" in p.stderr or "not found" in p.stderr
    kubectl("delete", "configmap", "a", "-n", namespace, "--ignore-not-found")


def test_delete_pod_waits_until_it_is_gone(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    cl.create("pods", pod("doomed"), namespace)
    if cluster.has("scheduler", "kubelet"):
        wait_for(
            lambda: cl.get("pods", "doomed", namespace)["status"].get("phase") == "Running",
            "pod Running",
        )
    assert 'pod "doomed" deleted' in kubectl(
        "delete", "pod", "doomed", "-n", namespace, "--timeout=60s"
    )
    # kubectl returned only after the pod was gone (it waits by default).
    assert gone(cl, "pods", "doomed", namespace)


def test_delete_namespace(kubectl: Kubectl, cluster: Cluster) -> None:
    cluster.require("controllers")  # the namespace controller empties it, then it goes
    ns = "del-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", ns)
    kubectl("create", "configmap", "x", "-n", ns, "--from-literal=a=1")
    kubectl("delete", "namespace", ns, "--timeout=60s")
    assert gone(cluster.api.client(), "namespaces", ns, None)


# ---------------------------------------------------------------- label, annotate, scale


def test_label_and_annotate(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    cl = cluster.api.client()
    cl.create("configmaps", configmap("cfg", a="1"), namespace)
    kubectl("label", "configmap", "cfg", "team=ml", "env=dev", "-n", namespace)
    assert cl.get("configmaps", "cfg", namespace)["metadata"]["labels"] == {
        "team": "ml",
        "env": "dev",
    }
    p = kubectl.fails("label", "configmap", "cfg", "team=infra", "-n", namespace)
    assert "already has a value" in p.stderr
    kubectl("label", "configmap", "cfg", "team=infra", "--overwrite", "-n", namespace)
    kubectl("label", "configmap", "cfg", "env-", "-n", namespace)
    assert cl.get("configmaps", "cfg", namespace)["metadata"]["labels"] == {"team": "infra"}

    kubectl("annotate", "configmap", "cfg", "owner=alice@example.org", "-n", namespace)
    ann = cl.get("configmaps", "cfg", namespace)["metadata"]["annotations"]
    assert ann["owner"] == "alice@example.org"
    kubectl("annotate", "configmap", "cfg", "owner-", "-n", namespace)
    ann = cl.get("configmaps", "cfg", namespace)["metadata"].get("annotations") or {}
    assert "owner" not in ann
    assert cl.get("configmaps", "cfg", namespace)["data"] == {"a": "1"}


def test_scale_deployment(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    cl = cluster.api.client()
    cl.create("deployments", deployment("web", replicas=1), namespace)
    assert "deployment.apps/web scaled" in kubectl(
        "scale", "deployment", "web", "--replicas=3", "-n", namespace
    )
    assert cl.get("deployments", "web", namespace)["spec"]["replicas"] == 3
    scale = cl.get("deployments", "web", namespace, subresource="scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    # A precondition that does not hold is refused and changes nothing.
    kubectl.fails(
        "scale", "deployment", "web", "--current-replicas=7", "--replicas=1", "-n", namespace
    )
    assert cl.get("deployments", "web", namespace)["spec"]["replicas"] == 3
    if cluster.has("controllers", "scheduler", "kubelet"):
        wait_for(
            lambda: len(cl.list("pods", namespace, label_selector="app=web")["items"]) == 3,
            "three pods",
            60,
        )
        kubectl("scale", "deployment/web", "--replicas=1", "-n", namespace)
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in cl.list("pods", namespace, label_selector="app=web")["items"]
                        if not p["metadata"].get("deletionTimestamp")
                    ]
                )
                == 1
            ),
            "one pod",
            60,
        )


# ---------------------------------------------------------------- describe


def test_describe_shows_the_objects_events(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    p = cl.create("pods", pod("described"), namespace)
    other = cl.create("pods", pod("other"), namespace)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def event(name: str, target: dict[str, Any], reason: str, message: str) -> None:
        cl.create(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name},
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "apiVersion": "v1",
                    "name": target["metadata"]["name"],
                    "uid": target["metadata"]["uid"],
                },
                "reason": reason,
                "message": message,
                "type": "Warning",
                "count": 2,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": "compat-test"},
            },
            namespace,
        )

    event("described.1", p, "TestReason", "something happened to described")
    event("other.1", other, "OtherReason", "this is about the other pod")
    out = kubectl("describe", "pod", "described", "-n", namespace)
    assert re.search(r"^Name:\s+described$", out, re.M)
    assert re.search(rf"^Namespace:\s+{namespace}$", out, re.M)
    events = out.split("Events:")[1]
    assert "TestReason" in events and "something happened to described" in events
    assert "compat-test" in events
    # Events about other objects are not shown (field selector on involvedObject).
    assert "OtherReason" not in events

    ev = kubectl("get", "events", "-n", namespace)
    assert header(ev) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "pod/described" in ev

    cl.create("deployments", deployment("shown"), namespace)
    d = kubectl("describe", "deployment", "shown", "-n", namespace)
    assert re.search(r"^Selector:\s+app=shown$", d, re.M)
    assert "nginx:1.26" in d


# ---------------------------------------------------------------- rollout, wait


def test_rollout_status_wait_history_undo_restart(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.require("controllers", "scheduler", "kubelet")
    cl = cluster.api.client()
    f = write(tmp_path / "web.yaml", deployment("web", image="nginx:1.26", replicas=2))
    kubectl("apply", "-f", str(f), "-n", namespace)
    out = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    assert 'deployment "web" successfully rolled out' in out
    kubectl("wait", "--for=condition=Available", "deployment/web", "-n", namespace, "--timeout=60s")
    dep = cl.get("deployments", "web", namespace)
    assert dep["status"]["availableReplicas"] == 2

    write(f, deployment("web", image="nginx:1.27", replicas=2))
    kubectl("apply", "-f", str(f), "-n", namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace)
    revisions = re.findall(r"^(\d+)\s", history, re.M)
    assert revisions == ["1", "2"], history
    rev1 = kubectl("rollout", "history", "deployment/web", "-n", namespace, "--revision=1")
    assert "nginx:1.26" in rev1

    assert "rolled back" in kubectl("rollout", "undo", "deployment/web", "-n", namespace)
    dep = cl.get("deployments", "web", namespace)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")

    assert "restarted" in kubectl("rollout", "restart", "deployment/web", "-n", namespace)
    dep = cl.get("deployments", "web", namespace)
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    pods = cl.list("pods", namespace, label_selector="app=web")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert all(
        "kubectl.kubernetes.io/restartedAt" in (p["metadata"].get("annotations") or {})
        for p in live
    )


def test_wait_for_job_complete_and_pod_ready(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cluster.require("controllers", "scheduler", "kubelet")
    cl = cluster.api.client()
    cl.create("pods", pod("ready-me"), namespace)
    kubectl("wait", "--for=condition=Ready", "pod/ready-me", "-n", namespace, "--timeout=60s")
    assert cl.get("pods", "ready-me", namespace)["status"]["phase"] == "Running"
    p = kubectl.run(
        "wait", "--for=condition=Ready", "pod/never-there", "-n", namespace, "--timeout=2s"
    )
    assert p.returncode != 0


# ---------------------------------------------------------------- logs


def test_logs_container_tail_and_follow(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    cluster.require("scheduler", "kubelet")
    cl = cluster.api.client()
    cl.create("pods", pod("talker", "first", "second"), namespace)
    wait_for(
        lambda: cl.get("pods", "talker", namespace)["status"].get("phase") == "Running",
        "talker Running",
    )
    out = kubectl("logs", "talker", "-c", "second", "-n", namespace)
    assert "second" in out and "first" not in out
    assert (
        len(kubectl("logs", "talker", "-c", "first", "--tail=1", "-n", namespace).splitlines()) == 1
    )
    p = kubectl.fails("logs", "talker", "-c", "third", "-n", namespace)
    assert "third" in p.stderr
    proc = kubectl.popen("logs", "-f", "talker", "-c", "first", "-n", namespace)
    try:
        _read_until(proc, "first", 20)
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- patch, replace, paging


def test_patch_types_replace_and_set_image(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cl = cluster.api.client()
    cl.create("deployments", deployment("web"), namespace)
    # Default (strategic): the container list is merged by name, its ports survive.
    kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "-p",
        json.dumps(
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "main", "env": [{"name": "MODE", "value": "fast"}]}
                            ]
                        }
                    }
                }
            }
        ),
    )
    (c,) = cl.get("deployments", "web", namespace)["spec"]["template"]["spec"]["containers"]
    assert c["env"] == [{"name": "MODE", "value": "fast"}] and c["ports"][0]["containerPort"] == 80
    kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"patched":"merge"}}}',
    )
    kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":4}]',
    )
    dep = cl.get("deployments", "web", namespace)
    assert dep["metadata"]["labels"]["patched"] == "merge" and dep["spec"]["replicas"] == 4

    kubectl("set", "image", "deployment/web", "main=nginx:1.28", "-n", namespace)
    dep = cl.get("deployments", "web", namespace)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"

    cl.create("configmaps", configmap("cfg", a="1"), namespace)
    live = yaml.safe_load(kubectl("get", "cm", "cfg", "-n", namespace, "-o", "yaml"))
    live["data"] = {"replaced": "yes"}
    f = write(tmp_path / "cfg.yaml", live)
    assert "configmap/cfg replaced" in kubectl("replace", "-f", str(f), "-n", namespace)
    assert cl.get("configmaps", "cfg", namespace)["data"] == {"replaced": "yes"}
    # The file still carries the old resourceVersion: a second replace is a conflict.
    p = kubectl.fails("replace", "-f", str(f), "-n", namespace)
    assert "the object has been modified" in p.stderr


def test_paging_field_selectors_and_custom_columns(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    for i in range(5):
        cl.create("configmaps", configmap(f"page-{i}", n=str(i)), namespace)
    # --chunk-size makes kubectl follow metadata.continue through several requests.
    paged = kubectl("get", "cm", "-n", namespace, "--chunk-size=2", "-o", "name", "-v=6")
    names = [ln for ln in paged.split() if ln.startswith("configmap/page-")]
    assert names == [f"configmap/page-{i}" for i in range(5)]
    cols = kubectl(
        "get",
        "cm",
        "-n",
        namespace,
        "--field-selector",
        "metadata.name=page-3",
        "-o",
        "custom-columns=NAME:.metadata.name,VALUE:.data.n",
    )
    assert rows(cols) == {"page-3": {"NAME": "page-3", "VALUE": "3"}}
    out = kubectl("delete", "cm", "--all", "-n", namespace)
    assert out.count("deleted") >= 5
    assert not [
        i
        for i in cl.list("configmaps", namespace)["items"]
        if i["metadata"]["name"].startswith("page-")
    ]


def test_gpu_columns_show_the_assigned_devices(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cluster.require("scheduler", "kubelet")
    cl = cluster.api.client()
    node = cl.get("nodes", cluster.node_name)
    uuids = [g["uuid"] for g in node["status"].get("gpus") or []]
    assert len(uuids) == 2, node["status"]
    nodes = rows(kubectl("get", "nodes", "-o", "wide"))
    assert nodes[cluster.node_name]["GPUS"].startswith("2x")
    gpu_pod = pod("trainer")
    gpu_pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": 1}}
    cl.create("pods", gpu_pod, namespace)

    def assigned() -> dict[str, str] | None:
        r = rows(kubectl("get", "pods", "-o", "wide", "-n", namespace))["trainer"]
        return r if r["GPUS"] not in ("", "<none>") else None

    row = wait_for(assigned, "a GPU in the GPUS column", interval=0.3)
    annotated = cl.get("pods", "trainer", namespace)["metadata"]["annotations"]
    assert row["GPUS"] == annotated["kubelab.io/gpu-uuids"]
    assert row["GPUS"] in uuids


# ---------------------------------------------------------------- nodes: cordon, drain


def _node_unschedulable(cl: Any, node: str) -> bool:
    return bool(cl.get("nodes", node).get("spec", {}).get("unschedulable"))


def some_node(cluster: Cluster) -> str:
    """The kubelet's node, or (before the kubelet exists) a Node object made by hand."""
    if cluster.node_name:
        return cluster.node_name
    cl = cluster.api.client()
    if gone(cl, "nodes", "paper-node", None):
        cl.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "paper-node"}})
    return "paper-node"


def test_cordon_and_uncordon(kubectl: Kubectl, cluster: Cluster) -> None:
    cl = cluster.api.client()
    node = some_node(cluster)
    try:
        assert f"node/{node} cordoned" in kubectl("cordon", node)
        assert _node_unschedulable(cl, node)
        assert "SchedulingDisabled" in rows(kubectl("get", "node", node))[node]["STATUS"]
    finally:
        kubectl("uncordon", node)
    assert not _node_unschedulable(cl, node)
    assert "SchedulingDisabled" not in rows(kubectl("get", "node", node))[node]["STATUS"]


def test_drain_evicts_pods(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    cluster.require("controllers", "scheduler", "kubelet")
    cl = cluster.api.client()
    node = cluster.node_name
    cl.create("deployments", deployment("drained", replicas=2), namespace)

    def running_on_node() -> list[dict[str, Any]]:
        items = cl.list("pods", namespace, label_selector="app=drained")["items"]
        ok = [
            p
            for p in items
            if p["spec"].get("nodeName") == node and p.get("status", {}).get("phase") == "Running"
        ]
        return ok if len(ok) == 2 else []

    before = {p["metadata"]["name"] for p in wait_for(running_on_node, "2 pods", 60)}
    try:
        # Only this test's pods: other tests leave bare pods, which drain refuses without --force.
        p = kubectl.run(
            "drain",
            node,
            "--pod-selector=app=drained",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=90s",
            "-v=6",
        )
        assert p.returncode == 0, p.stderr[-3000:]
        assert "/eviction" in p.stderr, "drain did not use the eviction subresource"
        assert f"node/{node} drained" in p.stdout
        assert _node_unschedulable(cl, node)
        names = {
            i["metadata"]["name"]
            for i in cl.list("pods", namespace, label_selector="app=drained")["items"]
        }
        assert not names & before, "evicted pods are still there"
        # Replacements exist but cannot be scheduled on a cordoned node.
        for i in cl.list("pods", namespace, label_selector="app=drained")["items"]:
            assert i["spec"].get("nodeName") in (None, "")
    finally:
        kubectl("uncordon", node)
    wait_for(running_on_node, "pods back after uncordon", 60)


def test_server_side_apply_owns_fields_conflicts_and_removes_what_is_dropped(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Two managers through the real kubectl: each owns what it applied, a change to the
    other's field is a 409 naming it unless forced, a field its manager stops applying is
    removed (Helm 4's rollback), and --show-managed-fields prints the owners."""
    cl = cluster.api.client()
    f = tmp_path / "owned.yaml"

    def ssa(manager: str, *extra: str, **data: str) -> Any:
        write(f, configmap("owned", **data))
        return kubectl.run(
            "apply",
            "--server-side",
            f"--field-manager={manager}",
            *extra,
            "-f",
            str(f),
            "-n",
            namespace,
        )

    assert ssa("helm", a="1", added="by-upgrade").returncode == 0
    assert ssa("ops", b="2").returncode == 0
    assert cl.get("configmaps", "owned", namespace)["data"] == {
        "a": "1",
        "added": "by-upgrade",
        "b": "2",
    }
    clash = ssa("ops", b="2", a="9")
    assert clash.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "helm": .data.a' in clash.stderr
    assert cl.get("configmaps", "owned", namespace)["data"]["a"] == "1"  # nothing stored
    # The rollback: helm applies without the field its upgrade added; it goes, ops' stays.
    assert ssa("helm", a="1").returncode == 0
    assert cl.get("configmaps", "owned", namespace)["data"] == {"a": "1", "b": "2"}
    # Forced: ops takes .data.a over.
    assert ssa("ops", "--force-conflicts", b="2", a="9").returncode == 0
    shown = yaml.safe_load(
        kubectl("get", "cm", "owned", "-n", namespace, "-o", "yaml", "--show-managed-fields")
    )
    owners = {
        e["manager"]: set(e["fieldsV1"]["f:data"]) for e in shown["metadata"]["managedFields"]
    }
    assert owners == {"ops": {"f:a", "f:b"}}, owners  # helm owned only .data.a: its entry goes
    assert (
        "managedFields"
        not in yaml.safe_load(kubectl("get", "cm", "owned", "-n", namespace, "-o", "yaml"))[
            "metadata"
        ]
    )


def test_kubectl_autoscale_creates_the_v2_hpa_it_sends_in_protobuf(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    kubectl("create", "deployment", "scaled", "--image=busybox", "-n", namespace)
    out = kubectl(
        "autoscale", "deployment", "scaled", "--min=2", "--max=5", "--cpu-percent=60",
        "-n", namespace,
    )  # fmt: skip
    assert out.strip() == "horizontalpodautoscaler.autoscaling/scaled autoscaled"
    spec = cluster.api.client().get("horizontalpodautoscalers", "scaled", namespace)["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "scaled",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
