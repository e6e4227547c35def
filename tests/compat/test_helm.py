"""The real Helm 4 against kubelab: a chart of the kinds charts commonly use
(tests/compat/charts/lab-app: Deployment, Services, ConfigMap, ServiceAccount, PVC, Role and
RoleBinding, a StatefulSet with volumeClaimTemplates, PodDisruptionBudget, Ingress, CronJob,
and a post-install hook Job) installed, upgraded, rolled back and uninstalled with
``--wait``, as a lab would; every step is checked on the objects themselves."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from api.registry import ResourceInfo
from tests.compat.conftest import Cluster
from tests.tools.kubectl import ensure_helm
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(420)

CHART = Path(__file__).parent / "charts" / "lab-app"
WAIT = ("--wait", "--timeout", "2m")


@dataclass
class Helm:
    """The real helm binary, pointed at the cluster, with caches of its own."""

    binary: Path
    kubeconfig: Path
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=300, env=env
        )

    def __call__(self, *args: str) -> str:
        """Run helm, assert exit code 0, return stdout."""
        p = self.run(*args)
        assert p.returncode == 0, (
            f"helm {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        )
        return p.stdout


@pytest.fixture(scope="module")
def helm(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(ensure_helm(), cluster.api.kubeconfig, tmp_path_factory.mktemp("helm-home"))


# What the chart makes, by resource, for release "lab".
OBJECTS = (
    ("configmaps", "lab-config"),
    ("serviceaccounts", "lab"),
    ("roles", "lab-reader"),
    ("rolebindings", "lab-reader"),
    ("persistentvolumeclaims", "lab-data"),
    ("persistentvolumeclaims", "cache-lab-cache-0"),
    ("persistentvolumeclaims", "cache-lab-cache-1"),
    ("deployments", "lab-web"),
    ("services", "lab-web"),
    ("services", "lab-cache"),
    ("statefulsets", "lab-cache"),
    ("poddisruptionbudgets", "lab-web"),
    ("ingresses", "lab-web"),
    ("cronjobs", "lab-cleanup"),
)


def exists(c: Any, resource: str | ResourceInfo, name: str, ns: str | None) -> bool:
    try:
        c.get(resource, name, ns)
        return True
    except ApiError as e:
        if e.code == 404:
            return False
        raise


def serving_hashes(c: Any, ns: str) -> set[str]:
    """The pod-template-hash of every live web pod (one value once a rollout is done)."""
    pods = c.list("pods", ns, label_selector="app.kubernetes.io/component=web")["items"]
    return {
        p["metadata"]["labels"]["pod-template-hash"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    }


def releases(helm: Helm, ns: str) -> list[tuple[str, str, int]]:
    out = json.loads(helm("list", "-n", ns, "-o", "json"))
    return [(r["name"], r["status"], int(r["revision"])) for r in out]


def test_install_upgrade_rollback_uninstall(helm: Helm, cluster: Cluster, namespace: str) -> None:
    c = cluster.client
    ns = namespace
    helm("install", "lab", str(CHART), "-n", ns, *WAIT)
    assert releases(helm, ns) == [("lab", "deployed", 1)]
    status = json.loads(helm("status", "lab", "-n", ns, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    # The hook ran to completion (helm waited for it) and was deleted, as its policy says.
    assert "lab-setup" in {h["name"] for h in status.get("hooks") or []}
    assert not exists(c, "jobs", "lab-setup", ns)
    for resource, name in OBJECTS:
        assert exists(c, resource, name, ns), f"{resource}/{name} missing after install"
    # --wait meant it: claims bound, the web and cache replicas ready.
    for claim in ("lab-data", "cache-lab-cache-0", "cache-lab-cache-1"):
        assert c.get("persistentvolumeclaims", claim, ns)["status"]["phase"] == "Bound"
    assert c.get("deployments", "lab-web", ns)["status"].get("readyReplicas") == 2
    assert c.get("statefulsets", "lab-cache", ns)["status"].get("readyReplicas") == 2
    (first,) = serving_hashes(c, ns)

    # An upgrade that changes a value: the ConfigMap, its checksum, so the Deployment rolls.
    helm(
        "upgrade", "lab", str(CHART), "-n", ns, *WAIT,
        "--set", "message=bonjour", "--set", "extraAnnotation=by-upgrade",
    )  # fmt: skip
    cm = c.get("configmaps", "lab-config", ns)
    assert cm["data"] == {"message": "bonjour"}
    assert cm["metadata"]["annotations"]["lab-app.example/extra"] == "by-upgrade"
    wait_for(lambda: len(serving_hashes(c, ns)) == 1, "the old web pods gone", 60)
    (second,) = serving_hashes(c, ns)
    assert second != first, "the Deployment did not roll on a changed ConfigMap checksum"
    assert releases(helm, ns) == [("lab", "deployed", 2)]

    # The rollback: the first revision's objects again, and what the upgrade added is gone
    # (Helm 4 applies server-side: a field its manager stops applying is removed).
    helm("rollback", "lab", "1", "-n", ns, *WAIT)
    cm = c.get("configmaps", "lab-config", ns)
    assert cm["data"] == {"message": "hello"}
    assert "lab-app.example/extra" not in (cm["metadata"].get("annotations") or {})
    wait_for(lambda: serving_hashes(c, ns) == {first}, "the first template's pods back", 60)
    history = json.loads(helm("history", "lab", "-n", ns, "-o", "json"))
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]

    helm("uninstall", "lab", "-n", ns, "--wait", "--timeout", "2m")
    assert releases(helm, ns) == []
    # Everything goes: the StatefulSet's claims too (its retention policy says Delete).
    wait_for(
        lambda: not [f"{r}/{n}" for r, n in OBJECTS if exists(c, r, n, ns)],
        "every object of the release deleted",
        60,
    )
    wait_for(lambda: not c.list("pods", ns)["items"], "the release's pods gone", 60)


CRD_CHART = Path(__file__).parent / "charts" / "lab-crd"
# The chart's custom kind, as its CRD names it (this process's registry never discovers it).
GADGETS = ResourceInfo("lab.example.com", "v1", "Gadget", "gadgets", "gadget", True, custom=True)


def test_crds_folder_then_custom_objects_in_one_install(
    helm: Helm, cluster: Cluster, namespace: str
) -> None:
    """Helm installs crds/ first, invalidates its discovery cache, then creates the chart's
    custom object: the kind must be served the moment its CRD is created. The CRD's schema
    defaults and validates what the templates render."""
    c = cluster.client
    ns = namespace
    try:
        helm("install", "gadgets", str(CRD_CHART), "-n", ns, *WAIT)
        gadget = c.get(GADGETS, "gadgets-gadget", ns)
        assert gadget["spec"] == {"size": 3, "colour": "grey"}  # the schema's default
        bad = helm.run("upgrade", "gadgets", str(CRD_CHART), "-n", ns, "--set", "size=0", *WAIT)
        assert bad.returncode != 0 and "spec.size" in bad.stderr, bad.stderr
        helm("upgrade", "gadgets", str(CRD_CHART), "-n", ns, "--set", "size=5", *WAIT)
        assert c.get(GADGETS, "gadgets-gadget", ns)["spec"]["size"] == 5
        helm("uninstall", "gadgets", "-n", ns, "--wait", "--timeout", "2m")
        # The release's object goes; the CRD stays, as Helm never deletes crds/.
        assert not exists(c, GADGETS, "gadgets-gadget", ns)
        assert exists(c, "customresourcedefinitions", "gadgets.lab.example.com", None)
    finally:
        try:
            c.delete("customresourcedefinitions", "gadgets.lab.example.com")
        except ApiError:
            pass
