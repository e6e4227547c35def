"""TaintToleration, NodeUnschedulable and NodeReady."""

from __future__ import annotations

from scheduler.plugins.node_ready import NodeReady
from scheduler.plugins.node_unschedulable import NodeUnschedulable
from scheduler.plugins.taint_toleration import TaintToleration, tolerates
from tests.unit.sched_world import info, node, node_info, pod

BROKEN = {"key": "gpu", "value": "broken", "effect": "NoSchedule"}


def test_untolerated_noschedule_taint_rejects_with_kube_wording() -> None:
    rej = TaintToleration().filter(info(pod("p")), node_info(node("n", taints=[BROKEN])))
    assert rej is not None
    assert rej.reasons == ("node(s) had untolerated taint {gpu: broken}",)


def test_equal_toleration_must_match_value() -> None:
    plugin = TaintToleration()
    n = node_info(node("n", taints=[BROKEN]))
    ok = pod("a", tolerations=[{"key": "gpu", "operator": "Equal", "value": "broken"}])
    wrong = pod("b", tolerations=[{"key": "gpu", "operator": "Equal", "value": "fine"}])
    assert plugin.filter(info(ok), n) is None
    assert plugin.filter(info(wrong), n) is not None


def test_exists_and_empty_key_tolerate_everything() -> None:
    plugin = TaintToleration()
    n = node_info(node("n", taints=[BROKEN, {"key": "x", "effect": "NoExecute"}]))
    assert plugin.filter(info(pod("a", tolerations=[{"operator": "Exists"}])), n) is None
    only_gpu = pod("b", tolerations=[{"key": "gpu", "operator": "Exists"}])
    rej = plugin.filter(info(only_gpu), n)
    assert rej is not None and rej.reasons == ("node(s) had untolerated taint {x: }",)


def test_toleration_effect_must_match_when_set() -> None:
    tol = {"key": "gpu", "operator": "Exists", "effect": "NoExecute"}
    assert not tolerates(tol, BROKEN)
    assert tolerates({"key": "gpu", "operator": "Exists"}, BROKEN)


def test_prefer_noschedule_is_not_a_filter_but_lowers_the_score() -> None:
    plugin = TaintToleration()
    soft = node_info(
        node("soft", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}])
    )
    clean = node_info(node("clean"))
    p = info(pod("p"))
    assert plugin.filter(p, soft) is None
    assert plugin.score(p, soft) < plugin.score(p, clean) == 100
    tolerant = info(pod("t", tolerations=[{"key": "k", "operator": "Exists"}]))
    assert plugin.score(tolerant, soft) == 100


def test_cordoned_node_rejects_unless_tolerated() -> None:
    plugin = NodeUnschedulable()
    n = node_info(node("n", unschedulable=True))
    rej = plugin.filter(info(pod("p")), n)
    assert rej is not None and rej.reasons == ("node(s) were unschedulable",)
    ds = pod("ds", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert plugin.filter(info(ds), n) is None
    assert plugin.filter(info(pod("p")), node_info(node("m"))) is None


def test_not_ready_and_unknown_nodes_are_skipped() -> None:
    plugin = NodeReady()
    p = info(pod("p"))
    assert plugin.filter(p, node_info(node("ok"))) is None
    for status in ("False", "Unknown"):
        rej = plugin.filter(p, node_info(node("bad", ready=status)))
        assert rej is not None and rej.reasons == ("node(s) were not ready",)
        assert status in rej.detail
    assert plugin.filter(p, node_info(node("new", ready=None))) is not None
