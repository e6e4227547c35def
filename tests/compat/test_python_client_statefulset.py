"""StatefulSets through the official Python ``kubernetes`` client: its strict models read
what kubelab serves (spec with claim templates, status, scale, ControllerRevisions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config

from tests.compat.conftest import Cluster
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def apps(cluster: Cluster) -> Iterator[k8s.AppsV1Api]:
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(cluster.api.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        yield k8s.AppsV1Api(api)


def statefulset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "pg"},
        "spec": {
            "serviceName": "pg",
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "pg"}},
            "template": {
                "metadata": {"labels": {"app": "pg"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "pg",
                            "image": "postgres:17",
                            "volumeMounts": [{"name": "pgdata", "mountPath": "/var/lib/pg"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "pgdata"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }


def test_statefulset_read_status_scale_and_revisions(
    apps: k8s.AppsV1Api, cluster: Cluster, namespace: str
) -> None:
    made = apps.create_namespaced_stateful_set(namespace, statefulset())
    assert made.spec.pod_management_policy == "Parallel"
    assert made.spec.update_strategy.rolling_update.partition == 0
    claim = made.spec.volume_claim_templates[0]
    assert (claim.kind, claim.metadata.name, claim.spec.volume_mode) == (
        "PersistentVolumeClaim",
        "pgdata",
        "Filesystem",
    )
    policy = made.spec.persistent_volume_claim_retention_policy
    assert (policy.when_deleted, policy.when_scaled) == ("Retain", "Retain")

    def observed() -> k8s.V1StatefulSet | None:
        s = apps.read_namespaced_stateful_set_status("pg", namespace)
        return s if s.status and s.status.observed_generation == 1 else None

    sts = wait_for(observed, "status observed")
    assert sts.status.update_revision.startswith("pg-")
    scale = apps.patch_namespaced_stateful_set_scale("pg", namespace, {"spec": {"replicas": 1}})
    assert scale.spec.replicas == 1
    assert apps.read_namespaced_stateful_set_scale("pg", namespace).status.selector == "app=pg"
    revs = apps.list_namespaced_controller_revision(namespace).items
    assert [r.metadata.name for r in revs] == [sts.status.update_revision]
    assert revs[0].revision == 1
    listed = apps.list_namespaced_stateful_set(namespace).items
    assert [s.metadata.name for s in listed] == ["pg"]
    apps.delete_namespaced_stateful_set("pg", namespace)
    wait_for(lambda: not apps.list_namespaced_stateful_set(namespace).items, "pg deleted")
