"""CustomResourceDefinitions through the real kubectl (and kl): a CRD and a custom object
applied from one folder of two files (as Helm's crds/ folder and chart do), get by
plural and short name with the CRD's printer columns, -o yaml, scale, a schema error as
kubectl prints it, delete; kl finds the custom kind through discovery."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_agree import Kl
from tests.compat.test_kubectl import gone, rows
from tests.unit.test_crd_inprocess import WIDGET_CRD
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def _crd(suffix: str) -> dict:
    crd = copy.deepcopy(WIDGET_CRD)
    group = f"{suffix}.example.com"
    crd["metadata"]["name"] = f"widgets.{group}"
    crd["spec"]["group"] = group
    crd["spec"]["names"]["shortNames"] = [f"wd{suffix}"]
    return crd


@pytest.fixture(scope="module")
def kl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kl:
    return Kl(cluster.api.kubeconfig, tmp_path_factory.mktemp("kl-home"))


def test_crd_and_custom_objects_through_kubectl(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    suffix = namespace.replace("t-", "k")
    crd = _crd(suffix)
    group = crd["spec"]["group"]
    (tmp_path / "0-crd.yaml").write_text(yaml.safe_dump(crd))
    (tmp_path / "1-widget.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": "S", "replicas": 2},
            }
        )
    )
    # kubectl maps every object before it applies the first, so against Kubernetes too the
    # first apply of both files creates the CRD and then fails on the custom object; the
    # next, right after (as Helm's install after its crds/ step), creates it.
    first = kubectl.run("apply", "-n", namespace, "-f", str(tmp_path))
    assert f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} created" in first.stdout
    assert first.returncode == 0 or "ensure CRDs are installed first" in first.stderr, first
    out = kubectl("apply", "-n", namespace, "-f", str(tmp_path))
    assert f"widget.{group}/w1 created" in out or first.returncode == 0

    table = rows(kubectl("get", f"widgets.{group}", "-n", namespace))
    assert table["w1"] == {"NAME": "w1", "SIZE": "S", "REPLICAS": "2", "PHASE": ""}
    assert "w1" in rows(kubectl("get", f"wd{suffix}", "-n", namespace))
    stored = yaml.safe_load(kubectl("get", f"wd{suffix}", "w1", "-n", namespace, "-o", "yaml"))
    assert stored["apiVersion"] == f"{group}/v1" and stored["spec"]["replicas"] == 2

    kubectl("scale", f"wd{suffix}/w1", "--replicas=5", "-n", namespace)
    assert rows(kubectl("get", f"wd{suffix}", "-n", namespace))["w1"]["REPLICAS"] == "5"

    bad = kubectl.fails(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w2"},
                "spec": {"size": "S", "replicas": "two"},
            }
        ),
    )
    assert (
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string"' in bad.stderr
    ), bad.stderr

    # kl: the kind is found through discovery, its columns are the server's.
    listed = rows(kl("get", f"wd{suffix}", "-n", namespace))
    assert listed["w1"] == {"NAME": "w1", "SIZE": "S", "REPLICAS": "5", "PHASE": ""}
    assert "w1" in kl("get", f"widgets.{group}", "w1", "-n", namespace, "-o", "name")

    kubectl("delete", f"wd{suffix}", "w1", "-n", namespace)
    cl = cluster.api.client()
    kubectl("delete", "crd", f"widgets.{group}")
    wait_for(
        lambda: gone(cl, "customresourcedefinitions", f"widgets.{group}", None),
        "the CRD is gone",
        30,
    )
    assert kubectl.fails("get", f"wd{suffix}", "-n", namespace).returncode != 0
