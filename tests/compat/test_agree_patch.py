"""``kl patch`` and ``kl edit`` agree with the real kubectl: the same command on twin
objects prints the same lines and leaves the same object; usage errors read the same; an
invalid edit reopens with the same reason comments."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import Cluster, Kubectl, component_available
from tests.compat.test_agree import Kl
from tests.harness import REPO

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not component_available("kubectl"), reason="kl (kubectl/main.py) not yet"),
]

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""


@pytest.fixture(scope="module")
def kl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kl:
    return Kl(cluster.api.kubeconfig, tmp_path_factory.mktemp("kl-home"))


def twins(kubectl: Kubectl, ns: str) -> None:
    for name in ("by-kubectl", "by-kl"):
        kubectl("create", "-n", ns, "-f", "-", input=DEPLOY.format(name=name))


def spec_of(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = cluster.api.client().get("deployments", name, ns)["spec"]
    spec.pop("selector")
    spec["template"]["metadata"].pop("labels")
    return spec


# A patch that changes nothing prints "patched (no change)": the apiserver then keeps the
# resourceVersion, as Kubernetes does, and kubectl compares the object before and after.
PATCHES = [
    ["-p", '{"spec":{"replicas":3}}'],
    ["-p", '{"spec":{"replicas":3}}'],
    ["--type", "merge", "-p", "spec: {replicas: 4}"],
    ["--type", "merge", "-p", "spec: {replicas: 4}"],
    ["--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":5}]'],
    ["--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":5}]'],
    ["-p", '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}'],
    ["-p", '{"spec":{"replicas":6}}', "-o", "name"],
    ["-p", '{"spec":{"replicas":9}}', "--dry-run=server"],
    ["--subresource", "scale", "-p", '{"spec":{"replicas":1}}'],
]


def test_the_same_patch_prints_the_same_and_does_the_same(
    cluster: Cluster, kubectl: Kubectl, kl: Kl, namespace: str
) -> None:
    twins(kubectl, namespace)
    previous: list[str] = []
    for args in PATCHES:
        k_out = kubectl("patch", "-n", namespace, "deploy", "by-kubectl", *args)
        l_out = kl("patch", "-n", namespace, "deploy", "by-kl", *args)
        assert l_out == k_out.replace("by-kubectl", "by-kl"), args
        if args == previous:  # the same patch again changes nothing, and says so
            assert k_out.rstrip().endswith(" patched (no change)"), (args, k_out)
        previous = args
        assert spec_of(cluster, namespace, "by-kl") == spec_of(cluster, namespace, "by-kubectl")


@pytest.mark.parametrize(
    "args",
    [
        ["--type", "foo", "-p", "{}"],
        [],
        ["-p", "{}", "--patch-file", "/etc/hostname"],
        ["--patch-file", "/nonexistent/fix.yaml"],
    ],
)
def test_usage_errors_read_the_same(kubectl: Kubectl, kl: Kl, args: list[str]) -> None:
    k = kubectl.fails("patch", "deploy", "web", *args)
    lk = kl.run("patch", "deploy", "web", *args)
    assert lk.returncode == 1
    assert lk.stderr == k.stderr


def editor(tmp_path: Path, sed: str) -> Path:
    """An EDITOR keeping a copy of each file it opens ($SEEN/1, $SEEN/2 ...), then running sed."""
    script = tmp_path / "editor.sh"
    script.write_text(
        '#!/bin/sh\nn=$(( $(ls "$SEEN" | wc -l) + 1 ))\ncp "$1" "$SEEN/$n"\n'
        f"sed -i '{sed}' \"$1\"\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def run_edit(
    cmd: list[str], env: dict[str, str], script: Path, seen: Path
) -> tuple[int, str, list[str]]:
    seen.mkdir()
    tmp = seen.parent / f"{seen.name}-tmp"
    tmp.mkdir()
    p = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "EDITOR": str(script), "SEEN": str(seen), "TMPDIR": str(tmp)},
    )
    files = sorted(seen.iterdir(), key=lambda f: int(f.name))
    return p.returncode, p.stdout, [f.read_text() for f in files]


def header(text: str) -> str:
    """The comment lines above the object."""
    return text.split("apiVersion:")[0]


def kl_cmd(kl: Kl) -> tuple[list[str], dict[str, str]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(kl.home),
        "KUBECONFIG": str(kl.kubeconfig),
        "PYTHONPATH": str(REPO),
    }
    return [sys.executable, "-m", "kubectl.main"], env


def test_edit_and_an_invalid_edit_agree(
    cluster: Cluster, kubectl: Kubectl, kl: Kl, namespace: str, tmp_path: Path
) -> None:
    twins(kubectl, namespace)
    kl_base, kl_env = kl_cmd(kl)
    (tmp_path / "good").mkdir()
    good = editor(tmp_path / "good", "s/^  replicas: 2$/  replicas: 4/")
    k = run_edit(
        [str(kubectl.binary), "edit", "-n", namespace, "deploy", "by-kubectl"],
        kubectl.env(),
        good,
        tmp_path / "k-good",
    )
    lk = run_edit(
        [*kl_base, "edit", "-n", namespace, "deploy", "by-kl"], kl_env, good, tmp_path / "l-good"
    )
    assert lk[0] == k[0] == 0
    assert lk[1] == k[1].replace("by-kubectl", "by-kl") == "deployment.apps/by-kl edited\n"
    assert spec_of(cluster, namespace, "by-kl") == spec_of(cluster, namespace, "by-kubectl")
    assert header(lk[2][0]) == header(k[2][0])

    (tmp_path / "bad").mkdir()
    bad = editor(tmp_path / "bad", "s/^  replicas: [0-9]*$/  replicas: -1/")
    k = run_edit(
        [str(kubectl.binary), "edit", "-n", namespace, "deploy", "by-kubectl"],
        kubectl.env(),
        bad,
        tmp_path / "k-bad",
    )
    lk = run_edit(
        [*kl_base, "edit", "-n", namespace, "deploy", "by-kl"], kl_env, bad, tmp_path / "l-bad"
    )
    assert lk[0] == k[0] == 1
    assert len(lk[2]) == len(k[2]) == 2  # opened, reopened once with the reason, given up
    assert header(lk[2][1]).replace("by-kl", "X") == header(k[2][1]).replace("by-kubectl", "X")
