"""Validation of the RBAC kinds (api/validation/kinds.py), worded as Kubernetes words it."""

from __future__ import annotations

from typing import Any

from api.validation import validate

REF = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}


def fields(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [c.field for c in validate(kind, obj, old)]


def test_rules_need_verbs_and_groups_and_resources_or_urls() -> None:
    meta = {"name": "system:r", "namespace": "ns"}
    assert fields("Role", {"metadata": meta, "rules": [{"verbs": ["get"], "apiGroups": [""],
                                                        "resources": ["pods"]}]}) == []  # fmt: skip
    assert fields(
        "Role", {"metadata": meta, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    ) == ["rules[0].verbs"]
    assert fields("Role", {"metadata": meta, "rules": [{"verbs": ["get"]}]}) == [
        "rules[0].apiGroups",
        "rules[0].resources",
    ]
    urls = {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    assert fields("Role", {"metadata": meta, "rules": [urls]}) == ["rules[0].nonResourceURLs"]
    assert fields("ClusterRole", {"metadata": {"name": "c"}, "rules": [urls]}) == []
    both = {**urls, "resources": ["pods"], "apiGroups": [""]}
    assert fields("ClusterRole", {"metadata": {"name": "c"}, "rules": [both]}) == [
        "rules[0].nonResourceURLs"
    ]


def test_names_are_path_segments() -> None:
    assert fields("ClusterRole", {"metadata": {"name": "system:kube-scheduler"}}) == []
    assert fields("ClusterRole", {"metadata": {"name": "a/b"}}) == ["metadata.name"]


def test_bindings_name_a_role_and_proper_subjects() -> None:
    ok: dict[str, Any] = {"metadata": {"name": "b", "namespace": "ns"}, "roleRef": REF,
          "subjects": [{"kind": "ServiceAccount", "name": "default"}]}  # fmt: skip
    assert fields("RoleBinding", ok) == []
    # A ClusterRoleBinding's ServiceAccount needs its namespace; it may not name a Role.
    crb = {**ok, "metadata": {"name": "b"}, "roleRef": {**REF, "kind": "Role"}}
    assert fields("ClusterRoleBinding", crb) == ["roleRef.kind", "subjects[0].namespace"]
    bad = {
        **ok,
        "roleRef": {**REF, "apiGroup": "rbac"},
        "subjects": [{"kind": "Robot", "name": "x"}],
    }
    assert fields("RoleBinding", bad) == ["roleRef.apiGroup", "subjects[0].kind"]
    assert fields("RoleBinding", {"metadata": {"name": "b", "namespace": "ns"}}) == ["roleRef"]


def test_role_ref_cannot_change() -> None:
    old = {"metadata": {"name": "b", "namespace": "ns"}, "roleRef": REF}
    new = {**old, "roleRef": {**REF, "name": "edit"}}
    causes = validate("RoleBinding", new, old)
    assert [c.field for c in causes] == ["roleRef"]
    assert "cannot change roleRef" in causes[0].message
