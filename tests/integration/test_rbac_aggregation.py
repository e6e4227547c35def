"""ClusterRole aggregation with a real controller manager: a ClusterRole labelled
aggregate-to-view adds its rules to view (and through view to edit and admin), and takes
them away when the label goes."""

from __future__ import annotations

from functools import partial

import pytest

from apiserver.auth import add_token
from client import Client
from tests.cluster import Cluster
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)

WIDGETS = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list"]}


def can(cl: Client, verb: str, resource: str, group: str, ns: str) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                        "namespace": ns}},
    }  # fmt: skip
    out = cl.create("selfsubjectaccessreviews", review)
    return bool(out["status"]["allowed"])


def test_labelled_cluster_role_adds_its_rules_to_view_edit_and_admin(apiserver: ApiServer) -> None:
    admin = apiserver.client()
    token = add_token(apiserver.home / "tokens.csv", "viewer", [])
    viewer = Client(apiserver.url, token=token, ca_file=str(apiserver.ca_file))
    admin.create("clusterrolebindings", {
        "metadata": {"name": "viewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "viewer", "apiGroup": "rbac.authorization.k8s.io"}],
    })  # fmt: skip
    assert not can(viewer, "list", "leases", "coordination.k8s.io", "default")
    with Cluster.on(apiserver) as cluster:
        cluster.add_controllers()
        admin.create("clusterroles", {
            "metadata": {"name": "lease-lister",
                         "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [WIDGETS],
        })  # fmt: skip

        def rules_of(name: str) -> list[object]:
            return list(admin.get("clusterroles", name).get("rules") or [])

        def holds(name: str, present: bool) -> bool:
            return (WIDGETS in rules_of(name)) == present

        for name in ("view", "edit", "admin"):
            wait_for(partial(holds, name, True), f"{name} aggregates lease-lister")
        assert can(viewer, "list", "leases", "coordination.k8s.io", "default")
        # view keeps its own rules beside the new ones.
        assert can(viewer, "list", "pods", "", "default")

        admin.patch("clusterroles", "lease-lister",
                    {"metadata": {"labels": {"rbac.authorization.k8s.io/aggregate-to-view": None}}})  # fmt: skip
        for name in ("view", "edit", "admin"):
            wait_for(partial(holds, name, False), f"{name} drops lease-lister")
        assert not can(viewer, "list", "leases", "coordination.k8s.io", "default")
        assert can(viewer, "list", "pods", "", "default")
