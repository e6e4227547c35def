"""Label selectors (string and dict forms), field selectors and node-selector requirements."""

import pytest

from api.selectors import (
    FieldSelector,
    LabelSelector,
    match_node_selector_requirement,
    match_node_selector_term,
    match_node_selector_terms,
)

WEB = {"app": "web", "tier": "frontend", "env": "prod", "gpu": "h100"}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", WEB, True),
        ("app==web", WEB, True),
        ("app=db", WEB, False),
        ("app!=db", WEB, True),
        ("app!=web", WEB, False),
        ("missing!=x", WEB, True),  # a missing key satisfies !=
        ("env in (prod,staging)", WEB, True),
        ("env in (dev, staging)", WEB, False),
        ("env notin (dev)", WEB, True),
        ("env notin (prod)", WEB, False),
        ("missing notin (x)", WEB, True),
        ("missing in (x)", WEB, False),
        ("gpu", WEB, True),
        ("missing", WEB, False),
        ("!missing", WEB, True),
        ("!gpu", WEB, False),
        ("app=web,tier=frontend,env in (prod),!legacy", WEB, True),
        ("app=web,tier=backend", WEB, False),
        ("  app = web ,  gpu ", WEB, True),
        ("example.com/team=ml", {"example.com/team": "ml"}, True),
        ("empty=", {"empty": ""}, True),
        ("empty=", {}, False),
        ("", {}, True),
        ("", WEB, True),
    ],
)
def test_string_form_matching(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(selector).matches(labels) is expected


@pytest.mark.parametrize(
    "selector",
    ["app=web", "app!=web", "env in (a,b)", "env notin (a)", "gpu", "!legacy", "a=b,c in (d,e),!f"],
)
def test_to_string_round_trips(selector: str) -> None:
    parsed = LabelSelector.parse(selector)
    assert parsed.to_string() == selector
    assert LabelSelector.parse(parsed.to_string()) == parsed


def test_double_equals_normalises() -> None:
    assert LabelSelector.parse("a==b").to_string() == "a=b"


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ("a in (b", "unbalanced parentheses"),
        ("a,,b", "empty requirement"),
        ("a=b=c", "cannot parse"),
        ("-bad=x", "cannot parse"),
        ("a=-b", "value '-b'"),
        ("a in ()", "at least one value"),
        ("x" * 64 + "=1", "63 characters"),
        ("a=" + "v" * 64, "63 characters"),
    ],
)
def test_string_form_errors_name_the_selector(selector: str, fragment: str) -> None:
    with pytest.raises(ValueError) as exc:
        LabelSelector.parse(selector)
    assert repr(selector) in str(exc.value)
    assert fragment in str(exc.value)


def test_dict_form() -> None:
    sel = LabelSelector.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "gpu", "operator": "Exists"},
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
            ],
        }
    )
    assert sel.matches(WEB)
    assert not sel.matches({**WEB, "legacy": "1"})
    assert not sel.matches({**WEB, "tier": "db"})
    assert not sel.empty
    assert sel.to_string() == "app=web,env in (prod,staging),!legacy,gpu,tier notin (db)"
    assert LabelSelector.parse(sel.to_string()) == sel
    assert LabelSelector.from_dict(sel.to_dict()) == sel


def test_empty_and_nil_dict_selectors() -> None:
    assert LabelSelector.from_dict({}).empty
    assert LabelSelector.from_dict({}).matches(WEB)
    nil = LabelSelector.from_dict(None)
    assert not nil.empty and not nil.matches(WEB) and not nil.matches({})
    assert LabelSelector.from_any(None).matches(WEB)
    assert LabelSelector.from_any("app=web").matches(WEB)
    assert LabelSelector.from_any({"matchLabels": {"app": "db"}}).matches(WEB) is False
    assert LabelSelector.from_labels({"app": "web"}).matches(WEB)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ({"key": "a", "operator": "Equals", "values": ["x"]}, "Equals"),
        ({"key": "a", "operator": "In", "values": []}, "must be non-empty"),
        ({"key": "a", "operator": "Exists", "values": ["x"]}, "must be empty"),
        ({"key": "bad key", "operator": "Exists"}, "key 'bad key'"),
    ],
)
def test_dict_form_errors(expr: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError) as exc:
        LabelSelector.from_dict({"matchExpressions": [expr]})
    assert fragment in str(exc.value)
    assert "matchExpressions[0]" in str(exc.value)


POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "node-a", "unschedulable": True},
    "status": {"phase": "Running"},
    "involvedObject": {"name": "web-1", "namespace": "default", "kind": "Pod", "uid": "u1"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name=web-2", False),
        ("metadata.namespace=default,spec.nodeName=node-a", True),
        ("spec.nodeName!=", True),  # bound pods
        ("spec.nodeName=", False),  # unbound pods
        ("status.phase!=Running", False),
        ("status.phase!=Succeeded,status.phase!=Failed", True),
        ("involvedObject.kind=Pod,involvedObject.uid=u1,involvedObject.name=web-1", True),
        ("spec.unschedulable=true", True),
        ("spec.missing.deep=", True),
        ("", True),
    ],
)
def test_field_selectors(selector: str, expected: bool) -> None:
    assert FieldSelector.parse(selector).matches(POD) is expected


def test_field_selector_unbound_pod_and_index_hint() -> None:
    unbound = {"metadata": {"name": "p"}, "spec": {}}
    assert FieldSelector.parse("spec.nodeName=").matches(unbound)
    sel = FieldSelector.parse("spec.nodeName=node-a,status.phase!=Failed")
    assert sel.exact("spec.nodeName") == "node-a"
    assert sel.exact("status.phase") is None
    assert [(r.field, r.operator, r.value) for r in sel.requirements] == [
        ("spec.nodeName", "=", "node-a"),
        ("status.phase", "!=", "Failed"),
    ]
    assert FieldSelector.parse(None).empty


def test_field_selector_escapes() -> None:
    sel = FieldSelector.parse(r"metadata.name=a\,b\=c")
    assert sel.exact("metadata.name") == "a,b=c"
    assert FieldSelector.parse(sel.to_string()) == sel


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [("metadata.name", "no operator"), ("=x", "not a field path"), ("a=b,,c=d", "empty term")],
)
def test_field_selector_errors(selector: str, fragment: str) -> None:
    with pytest.raises(ValueError) as exc:
        FieldSelector.parse(selector)
    assert repr(selector) in str(exc.value) and fragment in str(exc.value)


NODE_LABELS = {"nvidia.com/gpu.count": "8", "nvidia.com/gpu.product": "H100-80GB", "zone": "a"}


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "zone", "operator": "In", "values": ["c"]}, False),
        ({"key": "zone", "operator": "NotIn", "values": ["c"]}, True),
        ({"key": "missing", "operator": "NotIn", "values": ["c"]}, True),
        ({"key": "zone", "operator": "Exists"}, True),
        ({"key": "missing", "operator": "Exists"}, False),
        ({"key": "missing", "operator": "DoesNotExist"}, True),
        ({"key": "nvidia.com/gpu.count", "operator": "Gt", "values": ["4"]}, True),
        ({"key": "nvidia.com/gpu.count", "operator": "Gt", "values": ["8"]}, False),
        ({"key": "nvidia.com/gpu.count", "operator": "Lt", "values": ["9"]}, True),
        ({"key": "nvidia.com/gpu.product", "operator": "Gt", "values": ["1"]}, False),  # not an int
        ({"key": "missing", "operator": "Lt", "values": ["1"]}, False),
        ({"key": "zone", "operator": "Bogus", "values": ["a"]}, False),
    ],
)
def test_node_selector_requirement(req: dict[str, object], expected: bool) -> None:
    assert match_node_selector_requirement(req, NODE_LABELS) is expected


def test_node_selector_terms_or_and() -> None:
    node = {"metadata": {"name": "gpu-1", "labels": NODE_LABELS}}
    a100 = {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["A100"]}
        ]
    }
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu-1"]}]}
    both = {
        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}],
    }
    assert not match_node_selector_term(a100, node)
    assert match_node_selector_term(by_name, node)
    assert not match_node_selector_term(both, node)
    assert not match_node_selector_term({}, node)
    assert match_node_selector_terms([a100, by_name], node)
    assert not match_node_selector_terms([a100, both], node)
