"""kubectl's JSONPath subset: fields, wildcards, ranges, filters, literals."""

from __future__ import annotations

from typing import Any

import pytest

from api.jsonpath import JSONPathError, render

PODS: dict[str, Any] = {
    "kind": "List",
    "items": [
        {
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c1"}, {"name": "c2"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "restarts": 2},
        },
        {
            "metadata": {"name": "b"},
            "spec": {"containers": [{"name": "c3"}]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}], "restarts": 0},
        },
    ],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.items[*].metadata.name}", "a b"),
        ("{.items[0].metadata.name}", "a"),
        ("{.items[-1].metadata.name}", "b"),
        ("{.items[0:1].metadata.name}", "a"),
        ("{$.items[1].spec.containers[*].name}", "c3"),
        ("{.items[*].spec.containers[*].name}", "c1 c2 c3"),
        ("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "web"),
        ("{.items[0].metadata.labels['app.kubernetes.io/name']}", "web"),
        ('{.items[?(@.spec.nodeName=="n1")].metadata.name}', "a"),
        ("{.items[?(@.status.restarts>1)].metadata.name}", "a"),
        ("{.items[?(@.spec.nodeName)].metadata.name}", "a"),
        (
            '{.items[*].status.conditions[?(@.type=="Ready")].status}',
            "True False",
        ),
        ("{..name}", "a c1 c2 b c3"),
        ('{range .items[*]}{.metadata.name}{"\\t"}{.status.restarts}{"\\n"}{end}', "a\t2\nb\t0\n"),
        (
            "{range .items[*]}{.metadata.name}:{range .spec.containers[*]}[{.name}]{end};{end}",
            "a:[c1][c2];b:[c3];",
        ),
        ("names: {.items[*].metadata.name}!", "names: a b!"),
        ("{.items[0].metadata.missing}", ""),
        ("{.items[0].status.conditions[0]}", '{"type":"Ready","status":"True"}'),
        ("{.kind}", "List"),
        ("plain text", "plain text"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, PODS) == expected


def test_booleans_and_numbers_print_like_go() -> None:
    obj = {"spec": {"paused": True, "replicas": 3, "ratio": 2.0, "half": 0.5}}
    assert (
        render("{.spec.paused} {.spec.replicas} {.spec.ratio} {.spec.half}", obj) == "true 3 2 0.5"
    )


@pytest.mark.parametrize("bad", ["{.items", "{range .items[*]}{.x}", "{end}", "{.items[x]}"])
def test_bad_templates_raise(bad: str) -> None:
    with pytest.raises(JSONPathError):
        render(bad, PODS)
