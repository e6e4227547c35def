"""The SelectionPredicate: the one rule by which list, watch and deletecollection select.

The HTTP side (what a bad selector answers, that each verb uses the predicate) is in
tests/unit/test_apiserver_inprocess.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.selectors import EVERYTHING, SelectionPredicate, SelectorError
from controllers.objutil import map_selector_matches, selector_matches


def pod(name: str, labels: dict[str, str] | None = None, node: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node} if node else {}}


def test_no_selectors_is_the_empty_predicate_and_matches_everything() -> None:
    p = SelectionPredicate.from_query(None, None)
    assert p is EVERYTHING and p.empty
    assert SelectionPredicate.from_query("", " ").empty
    assert p.matches(pod("a")) and p.matches({})


@pytest.mark.parametrize(
    ("labels", "fields", "obj", "expected"),
    [
        ("app=web", None, pod("a", {"app": "web"}), True),
        ("app=web", None, pod("a", {"app": "db"}), False),
        ("app=web", None, pod("a"), False),
        ("tier!=db", None, pod("a"), True),  # a missing label satisfies !=
        ("env in (a,b),!legacy", None, pod("a", {"env": "b"}), True),
        ("env in (a,b),!legacy", None, pod("a", {"env": "b", "legacy": ""}), False),
        (None, "metadata.name=a", pod("a"), True),
        (None, "metadata.name=a", pod("b"), False),
        (None, "spec.nodeName=n1", pod("a", node="n1"), True),
        (None, "spec.nodeName!=n1", pod("a"), True),  # a missing field is ""
        ("app=web", "metadata.name=a", pod("a", {"app": "web"}), True),
        ("app=web", "metadata.name=a", pod("b", {"app": "web"}), False),
        ("app=web", "metadata.name=a", pod("a", {"app": "db"}), False),
    ],
)
def test_labels_and_fields_both_hold(
    labels: str | None, fields: str | None, obj: dict[str, Any], expected: bool
) -> None:
    assert SelectionPredicate.from_query(labels, fields).matches(obj) is expected


def test_an_object_with_odd_metadata_is_not_selected_by_labels() -> None:
    p = SelectionPredicate.from_query("app=web", None)
    assert not p.matches({"metadata": None})
    assert not p.matches({"metadata": {"labels": None}})
    assert SelectionPredicate.from_query("!app", None).matches({"metadata": "garbage"})


@pytest.mark.parametrize("fields", ["metadata.name=x,", ",metadata.name=x", "metadata.name=x,,"])
def test_empty_field_terms_are_ignored_as_kubernetes_does(fields: str) -> None:
    p = SelectionPredicate.from_query(None, fields)
    assert p.exact_field("metadata.name") == "x"
    assert len(p.fields.requirements) == 1
    assert p.matches(pod("x")) and not p.matches(pod("y"))


@pytest.mark.parametrize(
    ("labels", "fields", "parameter", "fragment"),
    [
        ("app web", None, "labelSelector", "cannot parse"),
        ("app=web,", None, "labelSelector", "empty requirement"),
        ("env in ()", None, "labelSelector", "at least one value"),
        (None, "metadata.name", "fieldSelector", "no operator"),
        (None, "=x", "fieldSelector", "not a field path"),
    ],
)
def test_bad_selectors_name_the_parameter(
    labels: str | None, fields: str | None, parameter: str, fragment: str
) -> None:
    with pytest.raises(SelectorError) as exc:
        SelectionPredicate.from_query(labels, fields)
    assert exc.value.parameter == parameter
    assert str(exc.value).startswith(f"{parameter}: ") and fragment in str(exc.value)


def test_with_name_narrows_to_one_object_whatever_the_name_holds() -> None:
    p = SelectionPredicate.from_query("app=web", "spec.nodeName=n1").with_name("a,b=c")
    assert p.exact_field("metadata.name") == "a,b=c"
    assert p.exact_field("spec.nodeName") == "n1"
    obj = pod("a,b=c", {"app": "web"}, node="n1")
    assert p.matches(obj)
    assert not p.matches(pod("a", {"app": "web"}, node="n1"))
    assert EVERYTHING.with_name("x").matches(pod("x")) and not EVERYTHING.with_name("x").empty


def test_exact_field_is_for_equalities_only() -> None:
    assert (
        SelectionPredicate.from_query(None, "spec.nodeName!=n1").exact_field("spec.nodeName")
        is None
    )
    assert (
        SelectionPredicate.from_query(None, "spec.nodeName==n1").exact_field("spec.nodeName")
        == "n1"
    )


# The controllers' selector helpers use the same rule, with their own policy on top: an
# empty, missing or invalid selector selects nothing (never every pod of a namespace).


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]},
            {"env": "a"},
            True,
        ),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {}, True),
        (None, {"app": "web"}, False),
        ({}, {"app": "web"}, False),
        ({"matchLabels": {}, "matchExpressions": []}, {"app": "web"}, False),
        # invalid: an operator Kubernetes does not have selects nothing
        (
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "a", "operator": "Gt"}]},
            {"app": "web"},
            False,
        ),
        ({"matchLabels": "app=web"}, {"app": "web"}, False),
    ],
)
def test_controller_selector_matches(
    selector: dict[str, Any] | None, labels: dict[str, str], expected: bool
) -> None:
    assert selector_matches(selector, labels) is expected


def test_controller_map_selector_matches() -> None:
    assert map_selector_matches({"app": "web"}, {"app": "web", "x": "y"})
    assert not map_selector_matches({"app": "web"}, {"app": "db"})
    assert not map_selector_matches({}, {"app": "web"})
    assert not map_selector_matches(None, {"app": "web"})
