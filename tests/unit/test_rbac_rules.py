"""RBAC rule semantics (api/rbac_rules.py): what a rule allows, what covers what, and the
rbac.yaml translation into bindings (apiserver/rbac_file.py)."""

from __future__ import annotations

from api.rbac_rules import (
    Request,
    compact_string,
    compile_rule,
    rule_allows,
    uncovered,
)
from apiserver.rbac_bootstrap import bootstrap_cluster_roles
from apiserver.rbac_file import FileBinding, desired_bindings


def r(**kw: list[str]) -> dict[str, list[str]]:
    return dict(kw)


def test_rule_allows_verbs_groups_resources_subresources_and_names() -> None:
    rule = compile_rule(
        {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments", "*/scale"]}
    )
    assert rule_allows(rule, Request("get", "apps", "deployments"))
    assert rule_allows(rule, Request("get", "apps", "replicasets", "scale"))
    assert not rule_allows(rule, Request("get", "apps", "replicasets"))
    assert not rule_allows(rule, Request("get", "apps", "deployments", "status"))
    assert not rule_allows(rule, Request("list", "apps", "deployments"))
    assert not rule_allows(rule, Request("get", "", "deployments"))
    named = compile_rule(
        {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}
    )
    assert rule_allows(named, Request("delete", "", "configmaps", name="a"))
    assert not rule_allows(named, Request("delete", "", "configmaps", name="b"))
    url = compile_rule({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/logs/*"]})
    assert rule_allows(url, Request("get", path="/logs/x", resource_request=False))
    assert not rule_allows(url, Request("get", path="/metrics", resource_request=False))
    assert not rule_allows(url, Request("get", "", "pods"))


def test_uncovered_names_exactly_the_missing_permissions() -> None:
    owner = [
        compile_rule({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}),
        compile_rule({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                      "resourceNames": ["mine"]}),
    ]  # fmt: skip
    wanted = [
        compile_rule({"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["pods"]}),
        compile_rule({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}),
    ]
    missing = uncovered(owner, wanted)
    assert sorted(compact_string(m) for m in missing) == [
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
    ]
    star = [compile_rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})]
    assert uncovered(star, wanted) == []


def test_bootstrap_view_never_reads_secrets_and_admin_includes_edit() -> None:
    roles = {r["metadata"]["name"]: r for r in bootstrap_cluster_roles()}
    view = [compile_rule(x) for x in roles["view"]["rules"]]
    edit = [compile_rule(x) for x in roles["edit"]["rules"]]
    admin = [compile_rule(x) for x in roles["admin"]["rules"]]
    assert any(rule_allows(x, Request("list", "", "pods")) for x in view)
    assert not any(rule_allows(x, Request("get", "", "secrets")) for x in view)
    assert any(rule_allows(x, Request("get", "", "secrets")) for x in edit)
    assert uncovered(admin, edit) == [] and uncovered(edit, view) == []
    assert not any(
        rule_allows(x, Request("create", "rbac.authorization.k8s.io", "rolebindings")) for x in edit
    )


def test_rbac_file_entries_become_bindings_to_the_bootstrap_roles() -> None:
    out = desired_bindings(
        [
            FileBinding("alice", "", "edit", ("team-a", "team-b")),
            FileBinding("", "ml", "view", ()),
            FileBinding("root", "", "admin", ()),
        ]
    )
    a = out[("team-a", "kubelab-file:edit:alice")]
    assert a["kind"] == "RoleBinding" and a["roleRef"]["name"] == "edit"
    assert a["subjects"] == [
        {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert ("team-b", "kubelab-file:edit:alice") in out
    g = out[("", "kubelab-file:view:ml")]
    assert g["kind"] == "ClusterRoleBinding" and g["subjects"][0]["kind"] == "Group"
    # The file's admin everywhere always meant everything: cluster-admin.
    assert out[("", "kubelab-file:admin:root")]["roleRef"]["name"] == "cluster-admin"
    assert all(b["metadata"]["labels"] == {"kubelab.io/rbac-file": "true"} for b in out.values())
