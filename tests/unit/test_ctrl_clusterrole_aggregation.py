"""ClusterRole aggregation decisions (controllers/clusterrole_aggregation.py)."""

from __future__ import annotations

from typing import Any

from controllers.clusterrole_aggregation import aggregation_patch


def role(name: str, rules: list[Any], labels: dict[str, str] | None = None, agg: str = "") -> Any:
    out: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if agg:
        out["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {agg: "true"}}]}
    return out


R1 = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
R2 = {"apiGroups": ["x.io"], "resources": ["widgets"], "verbs": ["list"]}
LABEL = "rbac.authorization.k8s.io/aggregate-to-view"


def test_aggregate_gets_the_union_of_the_selected_roles_in_name_order() -> None:
    view = role("view", [], agg=LABEL)
    roles = [view, role("b", [R2, R1], {LABEL: "true"}), role("a", [R1], {LABEL: "true"}),
             role("other", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])]  # fmt: skip
    a = aggregation_patch(view, roles)
    assert a is not None and (a.verb, a.resource, a.name) == ("patch", "clusterroles", "view")
    assert a.body == {"rules": [R1, R2]}  # each rule once, unselected roles left out


def test_nothing_to_do_when_settled_or_not_aggregated() -> None:
    view = role("view", [R1], agg=LABEL)
    assert aggregation_patch(view, [view, role("a", [R1], {LABEL: "true"})]) is None
    assert aggregation_patch(role("plain", [R1]), [role("a", [R2], {LABEL: "true"})]) is None
    # A role that loses its label takes its rules away again.
    a = aggregation_patch(view, [view, role("a", [R1])])
    assert a is not None and a.body == {"rules": []}
