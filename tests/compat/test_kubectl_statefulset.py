"""StatefulSets through the real kubectl: discovery (short name sts), apply, rollout status
(kubectl's own StatefulSetStatusViewer), get (upstream columns), scale, describe, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_agree import Kl, assert_same_listing, table
from tests.compat.test_kubectl import gone, header, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def manifest(image: str) -> str:
    return yaml.safe_dump_all(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "web"},
                "spec": {
                    "serviceName": "web",
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "terminationGracePeriodSeconds": 0,
                            "containers": [
                                {
                                    "name": "nginx",
                                    "image": image,
                                    "volumeMounts": [{"name": "www", "mountPath": "/www"}],
                                }
                            ],
                        },
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "www"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Mi"}},
                            },
                        }
                    ],
                },
            },
        ]
    )


@pytest.fixture(scope="module")
def kl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kl:
    return Kl(cluster.api.kubeconfig, tmp_path_factory.mktemp("kl-home"))


def test_statefulset_round_trip(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    resources = rows(kubectl("api-resources", "--api-group=apps"))
    assert resources["statefulsets"]["SHORTNAMES"] == "sts"
    assert resources["statefulsets"]["KIND"] == "StatefulSet"
    f = tmp_path / "web.yaml"
    f.write_text(manifest("nginx:1.27"))
    out = kubectl("apply", "-f", str(f), "-n", namespace)
    assert "statefulset.apps/web created" in out
    out = kubectl("rollout", "status", "sts/web", "-n", namespace, "--timeout=90s")
    assert "partitioned roll out complete: 3 new pods have been updated..." in out
    got = kubectl("get", "sts", "-n", namespace)
    assert header(got) == ["NAME", "READY", "AGE"]
    assert rows(got)["web"]["READY"] == "3/3"
    wide = kubectl("get", "statefulset", "web", "-n", namespace, "-o", "wide")
    assert header(wide) == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert rows(wide)["web"]["IMAGES"] == "nginx:1.27"
    pods = rows(kubectl("get", "pods", "-n", namespace, "-l", "app=web"))
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    # kl prints what kubectl prints.
    assert_same_listing(kubectl, kl, "statefulsets", "-n", namespace)
    assert_same_listing(kubectl, kl, "sts", "web", "-n", namespace, "-o", "wide")
    k_all, l_all = kubectl("get", "all", "-n", namespace), kl("get", "all", "-n", namespace)
    assert "statefulset.apps/web" in k_all
    assert table(k_all) == table(l_all), f"kubectl:\n{k_all}\nkl:\n{l_all}"

    # A re-apply changes nothing. kubectl still says "configured", as against Kubernetes:
    # volumeClaimTemplates is replaced whole by its patch and the served templates carry
    # defaults (volumeMode, status.phase) the manifest lacks; the server stores no change.
    cl = cluster.api.client()
    before = cl.get("statefulsets", "web", namespace)
    assert "statefulset.apps/web configured" in kubectl("apply", "-f", str(f), "-n", namespace)
    after = cl.get("statefulsets", "web", namespace)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]
    # An image change rolls out.
    f.write_text(manifest("nginx:1.28"))
    assert "statefulset.apps/web configured" in kubectl("apply", "-f", str(f), "-n", namespace)
    kubectl("rollout", "status", "statefulset/web", "-n", namespace, "--timeout=90s")
    live = cl.list("pods", namespace, label_selector="app=web")["items"]
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.28"}
    history = kubectl("rollout", "history", "sts/web", "-n", namespace)
    assert [ln.split()[0] for ln in history.splitlines()[2:4]] == ["1", "2"]
    # kubectl's StatefulSetRollbacker sends revision 1's data back as a strategic merge patch.
    undo = kubectl("rollout", "undo", "sts/web", "-n", namespace)
    assert "statefulset.apps/web rolled back" in undo
    kubectl("rollout", "status", "sts/web", "-n", namespace, "--timeout=90s")
    sts = cl.get("statefulsets", "web", namespace)
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    wait_for(
        lambda: (
            {
                p["spec"]["containers"][0]["image"]
                for p in cl.list("pods", namespace, label_selector="app=web")["items"]
            }
            == {"nginx:1.27"}
        ),
        "every pod back on nginx:1.27",
    )

    assert "statefulset.apps/web scaled" in kubectl(
        "scale", "sts/web", "--replicas=1", "-n", namespace
    )
    wait_for(
        lambda: [p["metadata"]["name"] for p in cl.list("pods", namespace)["items"]] == ["web-0"],
        "scaled to web-0",
    )
    described = kubectl("describe", "sts", "web", "-n", namespace)
    assert "Replicas:           1 desired | 1 total" in described
    assert "Update Strategy:    RollingUpdate" in described
    # kl describe prints the page kubectl prints (up to the events' ages).
    ours = kl("describe", "sts", "web", "-n", namespace)
    page = described.split("\nEvents:")[0]
    assert ours.split("\nEvents:")[0] == page, f"kubectl:\n{described}\nkl:\n{ours}"

    assert 'statefulset.apps "web" deleted' in kubectl("delete", "sts", "web", "-n", namespace)
    assert gone(cl, "statefulsets", "web", namespace)
    wait_for(lambda: not cl.list("pods", namespace)["items"], "the pods collected")
