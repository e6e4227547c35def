"""``kl`` and the real kubectl agree: what one creates, the other lists identically.

Both print the same table for the same objects (AGE aside, which ticks between the
two calls), the same ``-o name`` lines and the same objects under ``-o json``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.errors import ApiError
from tests.compat.conftest import Cluster, Kubectl, component_available
from tests.harness import REPO
from tests.wait import wait_for

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not component_available("kubectl"), reason="kl (kubectl/main.py) not yet"),
]

# Columns whose value depends on the instant the command ran.
TIME_COLUMNS = {"AGE", "DURATION", "LAST SEEN"}


class Kl:
    """The ``kl`` CLI run as a user runs it (a subprocess), against the cluster's kubeconfig."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.home = home

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONPATH": str(REPO),
        }
        return subprocess.run(
            [sys.executable, "-m", "kubectl.main", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=str(REPO),
        )

    def __call__(self, *args: str, input: str | None = None) -> str:
        p = self.run(*args, input=input)
        assert p.returncode == 0, (
            f"kl {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        )
        return p.stdout


@pytest.fixture(scope="module")
def kl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kl:
    return Kl(cluster.api.kubeconfig, tmp_path_factory.mktemp("kl-home"))


def table(output: str) -> list[dict[str, str]]:
    """A printed table (or several, as ``get all`` prints) as rows keyed by column name,
    without the columns that depend on the time of the call."""
    out: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", output.strip()):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        cols = re.split(r"\s{2,}", lines[0].strip())
        starts = [lines[0].index(c) for c in cols]
        for ln in lines[1:]:
            row = {}
            for i, c in enumerate(cols):
                end = starts[i + 1] if i + 1 < len(cols) else None
                if c not in TIME_COLUMNS:
                    row[c] = ln[starts[i] : end].strip()
            out.append(row)
    return out


def json_items(output: str) -> list[dict[str, Any]]:
    doc = json.loads(output)
    return doc["items"] if doc.get("kind", "").endswith("List") else [doc]


def assert_same_listing(kubectl: Kubectl, kl: Kl, *args: str) -> None:
    """``get ARGS`` prints the same rows, names and objects through both CLIs."""
    k_table, l_table = kubectl("get", *args), kl("get", *args)
    assert table(k_table) == table(l_table), f"kubectl:\n{k_table}\nkl:\n{l_table}"
    assert re.split(r"\s{2,}", k_table.splitlines()[0].strip()) == re.split(
        r"\s{2,}", l_table.splitlines()[0].strip()
    )
    assert kubectl("get", *args, "-o", "name").split() == kl("get", *args, "-o", "name").split()
    k_items = json_items(kubectl("get", *args, "-o", "json"))
    l_items = json_items(kl("get", *args, "-o", "json"))
    # Controllers may write status between the two calls: compare identity and spec.
    assert [(i["metadata"]["uid"], i.get("spec"), i.get("data")) for i in k_items] == [
        (i["metadata"]["uid"], i.get("spec"), i.get("data")) for i in l_items
    ]


def manifests(prefix: str) -> list[dict[str, Any]]:
    app = f"{prefix}-web"
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{prefix}-cfg", "labels": {"made-by": prefix}},
            "data": {"a": "1", "b": "2"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{prefix}-secret", "labels": {"made-by": prefix}},
            # data, not stringData: the server moves stringData into data, so kubectl itself
            # reports a stringData Secret as "configured" on every apply.
            "data": {"token": "dDBwczNjcmV0"},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": f"{prefix}-sa", "labels": {"made-by": prefix}},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": app, "labels": {"made-by": prefix}},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "labels": {"made-by": prefix}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": app}},
                "template": {
                    "metadata": {"labels": {"app": app, "made-by": prefix}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]},
                },
            },
        },
    ]


def settle(cluster: Cluster, ns: str, prefix: str) -> None:
    """Wait until the controllers have finished reacting, so both CLIs see one state."""
    if not cluster.has("controllers", "scheduler", "kubelet"):
        return
    cl = cluster.api.client()

    def ready() -> bool:
        d = cl.get("deployments", f"{prefix}-web", ns)
        return (d.get("status") or {}).get("readyReplicas") == 2 and (d.get("status") or {}).get(
            "updatedReplicas"
        ) == 2

    wait_for(ready, f"{prefix}-web ready", 60)


@pytest.mark.parametrize("creator", ["kl", "kubectl"])
def test_what_one_applies_the_other_lists_identically(
    creator: str, kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    prefix = "by-" + creator.replace("kubectl", "kctl")
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump_all(manifests(prefix), sort_keys=False))
    tool = kl if creator == "kl" else kubectl
    out = tool("apply", "-f", str(f), "-n", namespace)
    assert f"deployment.apps/{prefix}-web created" in out
    settle(cluster, namespace, prefix)

    for kinds in (
        "configmaps",
        "secrets",
        "serviceaccounts",
        "services",
        "deployments",
        "replicasets",
        "pods",
    ):
        assert_same_listing(kubectl, kl, kinds, "-n", namespace, "-l", f"made-by={prefix}")
    assert_same_listing(kubectl, kl, "deployments", f"{prefix}-web", "-n", namespace)
    assert_same_listing(kubectl, kl, "pods", "-n", namespace, "-l", f"app={prefix}-web")
    k_all, l_all = kubectl("get", "all", "-n", namespace), kl("get", "all", "-n", namespace)
    assert table(k_all) == table(l_all), f"kubectl:\n{k_all}\nkl:\n{l_all}"
    wide = ("get", "pods", "-n", namespace, "-o", "wide")
    k_wide, l_wide = kubectl(*wide), kl(*wide)
    assert table(k_wide) == table(l_wide), f"kubectl:\n{k_wide}\nkl:\n{l_wide}"
    assert k_wide.splitlines()[0].split() == l_wide.splitlines()[0].split()


@pytest.mark.parametrize("first", ["kl", "kubectl"])
def test_apply_by_one_is_unchanged_for_the_other(
    first: str, kubectl: Kubectl, kl: Kl, namespace: str, tmp_path: Path
) -> None:
    """Both write the same last-applied annotation, so switching tools changes nothing."""
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump_all(manifests("swap"), sort_keys=False))
    one, other = (kl, kubectl) if first == "kl" else (kubectl, kl)
    one("apply", "-f", str(f), "-n", namespace)
    again = other("apply", "-f", str(f), "-n", namespace)
    assert again.count("unchanged") == 5, again


def test_labels_set_by_one_select_in_the_other(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str
) -> None:
    kubectl("create", "configmap", "k-made", "-n", namespace, "--from-literal=a=1")
    kl("create", "configmap", "l-made", "-n", namespace, "--from-literal=a=1")
    kubectl("label", "configmap", "l-made", "team=ml", "-n", namespace)
    kl("label", "configmap", "k-made", "team=ml", "-n", namespace)
    assert_same_listing(kubectl, kl, "configmaps", "-n", namespace, "-l", "team=ml")
    assert kl("get", "cm", "-n", namespace, "-l", "team=ml", "-o", "name").split() == [
        "configmap/k-made",
        "configmap/l-made",
    ]
    k_labels = kubectl("get", "configmaps", "-n", namespace, "--show-labels")
    assert table(k_labels) == table(kl("get", "configmaps", "-n", namespace, "--show-labels"))
    # (kube-root-ca.crt: the root CA publisher's, in every namespace, as on Kubernetes)
    assert {r["NAME"]: r["LABELS"] for r in table(k_labels) if r["NAME"] != "kube-root-ca.crt"} == {
        "k-made": "team=ml",
        "l-made": "team=ml",
    }


def test_what_one_deletes_the_other_no_longer_lists(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    kubectl("create", "configmap", "one", "-n", namespace, "--from-literal=a=1")
    kl("create", "configmap", "two", "-n", namespace, "--from-literal=a=1")
    kl("delete", "configmap", "one", "-n", namespace)
    kubectl("delete", "configmap", "two", "-n", namespace)
    for name in ("one", "two"):
        with pytest.raises(ApiError) as exc:
            cl.get("configmaps", name, namespace)
        assert exc.value.code == 404
    assert (
        kubectl("get", "cm", "-n", namespace, "-o", "name").split()
        == kl("get", "cm", "-n", namespace, "-o", "name").split()
    )


def test_nodes_and_namespaces_agree(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str
) -> None:
    if cluster.node_name:
        assert_same_listing(kubectl, kl, "nodes", cluster.node_name)
    k_ns = table(kubectl("get", "namespaces", namespace))
    assert k_ns == table(kl("get", "namespaces", namespace))


def test_sort_by_and_custom_columns_print_what_kubectl_prints(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    for name, rank, cpu in (
        ("cm-10", "10", "2"),
        ("cm-9", "9", "250m"),
        ("cm-1", "1", "1500m"),
        ("cm-b", "abc", "1Gi"),
        ("cm-09", "09", "100m"),
    ):
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {"rank": rank}, "labels": {"set": "s"}},
            "data": {"cpu": cpu, "note": f"{name} here"},
        }
        cl.create("configmaps", body, namespace)
    cl.patch("configmaps", "cm-9", {"metadata": {"annotations": {"only": "z"}}}, namespace)
    base = ("get", "configmaps", "-n", namespace, "-l", "set=s")
    for path in (".metadata.name", "{.metadata.annotations.rank}", ".data.cpu"):
        want = kubectl(*base, "--sort-by", path, "-o", "name")
        assert kl(*base, "--sort-by", path, "-o", "name") == want, path
    # Objects without the field come first. kubectl's own order among them is an accident
    # of Go's unstable sort (it reverses them); kl keeps them in list order.
    path = ".metadata.annotations.only"
    want = kubectl(*base, "--sort-by", path, "-o", "name").split()
    got = kl(*base, "--sort-by", path, "-o", "name").split()
    assert got[-1] == want[-1] == "configmap/cm-9" and sorted(got) == sorted(want)
    for spec in (
        "NAME:.metadata.name,RANK:.metadata.annotations.rank,CPU:{.data.cpu}",
        "NAME:metadata.name,MISSING:.spec.nothing,DATA:.data.note",
    ):
        args = (*base, "--sort-by=.metadata.name", "-o", f"custom-columns={spec}")
        assert kl(*args) == kubectl(*args), spec
        assert kl(*args, "--no-headers") == kubectl(*args, "--no-headers"), spec


def test_unknown_fields_are_refused_and_warned_about_alike(
    kubectl: Kubectl, kl: Kl, namespace: str, tmp_path: Path
) -> None:
    """Both refuse a misspelled field by default with the same line, and print the
    server's warning the same way with --validate=warn (the header must be well formed)."""
    dep = manifests("typo")[-1]
    dep["spec"]["template"]["spec"]["containers"][0]["comand"] = ["sleep", "1"]
    f = tmp_path / "typo.yaml"
    f.write_text(yaml.safe_dump(dep))
    field = "spec.template.spec.containers[0].comand"
    refused = (
        f'Error from server (BadRequest): error when creating "{f}": Deployment in version '
        f'"v1" cannot be handled as a Deployment: strict decoding error: unknown field "{field}"\n'
    )
    for run in (kubectl.run, kl.run):
        p = run("apply", "-f", str(f), "-n", namespace)
        assert (p.returncode, p.stdout, p.stderr) == (1, "", refused)
    warned = kubectl.run("apply", "--validate=warn", "-f", str(f), "-n", namespace)
    assert warned.returncode == 0 and warned.stderr == f'Warning: unknown field "{field}"\n'
    kubectl("delete", "-f", str(f), "-n", namespace)
    mine = kl.run("apply", "--validate=warn", "-f", str(f), "-n", namespace)
    assert (mine.returncode, mine.stdout, mine.stderr) == (0, warned.stdout, warned.stderr)


def test_a_dead_nodes_status_agrees(kubectl: Kubectl, kl: Kl, cluster: Cluster) -> None:
    """A node whose kubelet stopped reporting (Ready=Unknown) is NotReady in both."""
    cl = cluster.api.client()
    name = "agree-dead-node"
    cl.create("nodes", {"metadata": {"name": name}})
    try:
        status = {
            # No NodeStatusUnknown reason: the lifecycle controller would take a fresh
            # status with that reason as the kubelet coming back, and mark it Ready.
            "conditions": [{"type": "Ready", "status": "Unknown"}],
            "capacity": {"nvidia.com/gpu": "2"},
            "gpus": [
                {"index": i, "uuid": f"GPU-{i}", "model": "NVIDIA H100 80GB HBM3"} for i in range(2)
            ],
        }
        for _ in range(10):  # the node lifecycle controller may write it in between
            live = cl.get("nodes", name)
            live["status"] = status
            try:
                cl.replace("nodes", name, live, subresource="status")
                break
            except ApiError as e:
                if e.code != 409:
                    raise
        for wide in ((), ("-o", "wide")):
            k_rows = table(kubectl("get", "nodes", name, *wide))
            assert k_rows == table(kl("get", "nodes", name, *wide))
            assert k_rows[0]["STATUS"] == "NotReady"
        assert table(kl("get", "nodes", name, "-o", "wide"))[0]["GPUS"] == "2xNVIDIA-H100-80GB-HBM3"
    finally:
        cl.delete("nodes", name)
