"""`kl` as a subprocess against a real apiserver (no scheduler, controllers or kubelet):
apply (create, unchanged, configured, round trip), get (golden tables with AGE masked,
every output format, watch), and every error path as one line with exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness import REPO, ApiServer, free_port
from tests.integration.kl_helpers import (
    WEB,
    Kl,
    assert_golden,
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


# ----- apply ----------------------------------------------------------------------------


def test_apply_creates_then_is_unchanged_then_configures(k: Kl, tmp_path: Path) -> None:
    f = write(tmp_path, "web.yaml", WEB)
    assert k("apply", "-f", f).ok().out == (
        "deployment.apps/web created\nservice/web created\nconfigmap/settings created\n"
    )
    dep = k.c.get("deployments", "web", k.ns)
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["labels"]["tier"] == "frontend"
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]
    rv = dep["metadata"]["resourceVersion"]

    assert k("apply", "-f", f).ok().out == (
        "deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/settings unchanged\n"
    )
    assert k.c.get("deployments", "web", k.ns)["metadata"]["resourceVersion"] == rv

    # Someone else adds a label; the manifest drops "tier" and changes the image.
    k("label", "deploy", "web", "owner=ops").ok()
    changed = (
        WEB.replace("tier: frontend", "").replace(", }", "}").replace("nginx:1.25", "nginx:1.27")
    )
    out = k("apply", "-f", write(tmp_path, "web2.yaml", changed)).ok().out
    assert out.splitlines()[0] == "deployment.apps/web configured"
    dep = k.c.get("deployments", "web", k.ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    assert "tier" not in dep["metadata"]["labels"]
    assert dep["metadata"]["labels"]["owner"] == "ops"  # not ours: kept


def test_get_yaml_round_trips_through_apply_unchanged(k: Kl, tmp_path: Path) -> None:
    k("apply", "-f", write(tmp_path, "web.yaml", WEB)).ok()
    for short, plural, name in (
        ("deploy", "deployments", "web"),
        ("svc", "services", "web"),
        ("cm", "configmaps", "settings"),
    ):
        before = k.c.get(plural, name, k.ns)
        text = k("get", short, name, "-o", "yaml").ok().out
        assert yaml.safe_load(text)["metadata"]["name"] == name
        res = k("apply", "-f", "-", stdin=text).ok()
        assert res.out.endswith(f"/{name} unchanged\n")
        after = k.c.get(plural, name, k.ns)
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    # JSON output round-trips too.
    assert k("apply", "-f", "-", stdin=k("get", "deploy", "web", "-o", "json").out).ok().out == (
        "deployment.apps/web unchanged\n"
    )


def test_apply_directory_recursive_and_create(k: Kl, tmp_path: Path) -> None:
    d = tmp_path / "manifests"
    (d / "sub").mkdir(parents=True)
    (d / "a.yaml").write_text(yaml.safe_dump(pod_manifest("pod-a")))
    (d / "sub" / "b.json").write_text(json.dumps(pod_manifest("pod-b")))
    assert k("apply", "-f", str(d)).ok().out == "pod/pod-a created\n"
    assert k("apply", "-f", str(d), "-R").ok().out == "pod/pod-a unchanged\npod/pod-b created\n"
    assert k(
        "create", "-f", write(tmp_path, "c.yaml", yaml.safe_dump(pod_manifest("pod-c")))
    ).ok().out == ("pod/pod-c created\n")
    names = sorted(p["metadata"]["name"] for p in k.c.list("pods", k.ns)["items"])
    assert names == ["pod-a", "pod-b", "pod-c"]


# ----- get: golden tables and output formats --------------------------------------------


def test_get_tables_golden(k: Kl, tmp_path: Path) -> None:
    # The Service asks for its ClusterIP (a static-band address no other test takes), so
    # the golden table can show the CLUSTER-IP column as kubectl prints it.
    pinned = WEB.replace(
        "  selector: {app: web}\n  ports:",
        "  selector: {app: web}\n  clusterIP: 10.43.0.80\n  ports:",
    )
    assert pinned != WEB
    k("apply", "-f", write(tmp_path, "web.yaml", pinned)).ok()
    for name in ("alpha", "beta"):
        k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest(name, gpus=1))).ok()
    k("create", "secret", "generic", "token", "--from-literal=key=s3cr3t").ok()
    k("create", "job", "once", "--image=busybox", "--", "echo", "hi").ok()

    assert_golden("get_pods.txt", mask_columns(k("get", "pods").ok().out))
    assert_golden(
        "get_pods_wide_labels.txt",
        mask_columns(k("get", "po", "-o", "wide", "--show-labels").ok().out),
    )
    multi = k("get", "deploy,svc,cm,secrets,jobs").ok().out
    assert_golden("get_several_kinds.txt", mask_columns(multi))
    assert_golden("get_deploy_wide.txt", mask_columns(k("get", "deploy", "-o", "wide").ok().out))
    all_ns = k("get", "pods", "-A", "-l", "app in (alpha,beta)").ok().out
    assert all_ns.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert all(line.startswith(k.ns) for line in all_ns.splitlines()[1:])


def test_output_formats(k: Kl) -> None:
    for name in ("p1", "p2"):
        k(
            "apply",
            "-f",
            "-",
            stdin=yaml.safe_dump(pod_manifest(name, labels={"app": "x", "n": name})),
        ).ok()
    assert k("get", "pods", "-o", "name").ok().out == "pod/p1\npod/p2\n"
    assert k("get", "pods", "-o", "jsonpath={.items[*].metadata.name}").ok().out == "p1 p2"
    assert k("get", "pod", "p1", "-o", "jsonpath={.spec.containers[0].image}").ok().out == "busybox"
    listing = json.loads(k("get", "pods", "-o", "json").ok().out)
    assert listing["kind"] == "List" and [i["kind"] for i in listing["items"]] == ["Pod", "Pod"]
    one = yaml.safe_load(k("get", "pod/p2", "-o", "yaml").ok().out)
    assert one["kind"] == "Pod" and one["metadata"]["labels"]["n"] == "p2"
    assert k("get", "pods", "-l", "n=p2", "-o", "name").ok().out == "pod/p2\n"
    assert (
        k("get", "pods", "--field-selector", "metadata.name=p1", "-o", "name").ok().out
        == "pod/p1\n"
    )
    rng = k(
        "get",
        "pods",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.n}{"\\n"}{end}',
    )
    assert rng.ok().out == "p1=p1\np2=p2\n"


def test_get_empty_and_missing(k: Kl) -> None:
    empty = k("get", "pods").ok()
    assert empty.out == "" and empty.err == f"No resources found in {k.ns} namespace.\n"
    line = k("get", "pod", "nope").one_error_line()
    assert line == 'error: pods "nope" not found'
    assert k("get", "pod", "nope", "--ignore-not-found").ok().out == ""


def test_get_watch_prints_changes(k: Kl) -> None:
    env = dict(os.environ, KUBECONFIG=str(k.srv.kubeconfig), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubectl.main", "-n", k.ns, "get", "pods", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
        env=env,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert proc.stderr.readline().startswith("No resources found")
        k.c.create("pods", pod_manifest("watched"), k.ns)
        header = proc.stdout.readline()
        row = proc.stdout.readline()
        assert header.split()[:3] == ["NAME", "READY", "STATUS"]
        assert row.split()[:3] == ["watched", "0/1", "Pending"]
        k.c.delete("pods", "watched", k.ns)
        assert proc.stdout.readline().split()[0] == "watched"  # the deletion
    finally:
        proc.kill()
        proc.wait(10)


# ----- error paths: one line on stderr, exit 1 -----------------------------------------


def test_error_paths_are_one_line(k: Kl, tmp_path: Path) -> None:
    cases: list[tuple[list[str], str | None, str]] = [
        (["get", "widgets"], None, 'error: the server doesn\'t have a resource type "widgets"'),
        (
            ["apply", "-f", str(tmp_path / "missing.yaml")],
            None,
            f'error: the path "{tmp_path / "missing.yaml"}" does not exist',
        ),
        (
            [
                "apply",
                "-f",
                write(tmp_path, "bad.yaml", "kind: ConfigMap\nmetadata:\n  name: x\n data: [\n"),
            ],
            None,
            "error: error parsing",
        ),
        (
            [
                "apply",
                "-f",
                write(tmp_path, "w.yaml", "apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n"),
            ],
            None,
            'no matches for kind "Widget" in version "v1"',
        ),
        (["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\n", "metadata.name not set"),
        (
            ["get", "pods", "--server", f"https://127.0.0.1:{free_port()}"],
            None,
            "error: cannot reach the kubelab API at https://127.0.0.1:",
        ),
        (
            ["get", "pods", "--token", "not-a-token"],
            None,
            "error: You must be logged in to the server (Unauthorized)",
        ),
        (["logs", "nope"], None, 'error: pods "nope" not found'),
        (["rollout", "status", "deploy/nope"], None, 'error: deployments.apps "nope" not found'),
    ]
    for args, stdin, expected in cases:
        res = k(*args, stdin=stdin)
        line = res.one_error_line()
        assert expected in line, (args, line)
        assert res.out == ""


def test_conflicts_are_one_line(k: Kl, tmp_path: Path) -> None:
    k("apply", "-f", write(tmp_path, "web.yaml", WEB)).ok()
    # 409 AlreadyExists from create, worded as kubectl's (the file named).
    cm = write(tmp_path, "cm.yaml", WEB.split("---\n")[2])
    res = k("create", "-f", cm)
    assert res.rc == 1 and res.out == ""
    assert res.err == (
        f'Error from server (AlreadyExists): error when creating "{cm}": '
        'configmaps "settings" already exists\n'
    )
    # 409 Conflict: a stale copy (old resourceVersion) that would undo someone's change.
    stale = k("get", "deploy", "web", "-o", "yaml").ok().out
    k("scale", "deploy/web", "--replicas=4").ok()
    res = k("apply", "-f", "-", stdin=stale.replace("replicas: 2", "replicas: 7"))
    assert res.rc == 1 and len(res.err.splitlines()) == 1, res.err
    assert res.err.startswith('Error from server (Conflict): error when patching "STDIN": ')
    assert "the object has been modified" in res.err
    assert k.c.get("deployments", "web", k.ns)["spec"]["replicas"] == 4
