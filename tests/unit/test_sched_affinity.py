"""NodeAffinity: nodeSelector and required node affinity."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.plugins.node_affinity import NodeAffinity
from tests.unit.sched_world import info, node, node_info, pod

H100 = node_info(
    node(
        "h100",
        gpus=8,
        labels={"nvidia.com/gpu.product": "H100-80GB", "nvidia.com/gpu.memory": "81920"},
    )
)
A10 = node_info(
    node("a10", gpus=4, labels={"nvidia.com/gpu.product": "A10", "nvidia.com/gpu.memory": "24576"})
)
CPU = node_info(node("cpu"))


def _affinity(*exprs: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": list(exprs)}]
            }
        }
    }


def _fits(p: dict[str, Any]) -> set[str]:
    plugin = NodeAffinity()
    pi = info(p)
    return {n.name for n in (H100, A10, CPU) if plugin.filter(pi, n) is None}


def test_node_selector_picks_a_gpu_model() -> None:
    assert _fits(pod("p", node_selector={"nvidia.com/gpu.product": "A10"})) == {"a10"}


def test_node_selector_rejection_names_the_label() -> None:
    rej = NodeAffinity().filter(info(pod("p", node_selector={"zone": "a"})), CPU)
    assert rej is not None
    assert rej.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    assert "no zone label" in rej.detail


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["H100-80GB", "A10"]},
            {"h100", "a10"},
        ),
        (
            {"key": "nvidia.com/gpu.product", "operator": "NotIn", "values": ["A10"]},
            {"h100", "cpu"},
        ),
        ({"key": "nvidia.com/gpu.product", "operator": "Exists"}, {"h100", "a10"}),
        ({"key": "nvidia.com/gpu.product", "operator": "DoesNotExist"}, {"cpu"}),
        ({"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["40000"]}, {"h100"}),
        ({"key": "nvidia.com/gpu.memory", "operator": "Lt", "values": ["40000"]}, {"a10"}),
    ],
)
def test_match_expression_operators(expr: dict[str, Any], expected: set[str]) -> None:
    assert _fits(pod("p", affinity=_affinity(expr))) == expected


def test_terms_are_ored_and_expressions_anded() -> None:
    aff = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "nvidia.com/gpu.product", "operator": "Exists"},
                            {"key": "nvidia.com/gpu.memory", "operator": "Lt", "values": ["1000"]},
                        ]
                    },
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["cpu"]}
                        ]
                    },
                ]
            }
        }
    }
    assert _fits(pod("p", affinity=aff)) == {"cpu"}


def test_selector_and_affinity_must_both_hold() -> None:
    p = pod(
        "p",
        node_selector={"nvidia.com/gpu.product": "A10"},
        affinity=_affinity({"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["40000"]}),
    )
    assert _fits(p) == set()


def test_plugin_is_skipped_for_pods_without_constraints() -> None:
    assert not NodeAffinity().relevant(info(pod("p")))
