"""ServiceAccounts decisions (controllers/serviceaccounts.py): every active namespace gets
its ``default`` account; a terminating one gets nothing."""

from __future__ import annotations

from typing import Any

from controllers.manager import select
from controllers.serviceaccounts import account_creations, is_active


def namespace(name: str, phase: str = "Active", **meta: Any) -> Any:
    return {"metadata": {"name": name, **meta}, "status": {"phase": phase}}


def test_each_namespace_without_default_gets_one() -> None:
    nss = [namespace("a"), namespace("b"), namespace("c")]
    actions = account_creations(nss, {("b", "default"), ("a", "runner"), ("c", "other")})
    assert [(a.verb, a.resource, a.namespace, a.name) for a in actions] == [
        ("create", "serviceaccounts", "a", "default"),
        ("create", "serviceaccounts", "c", "default"),
    ]
    # Only the name: the apiserver fills in the rest, as for Kubernetes' own controller.
    assert actions[0].body == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default"},
    }


def test_nothing_to_do_when_every_namespace_has_its_account() -> None:
    nss = [namespace("a"), namespace("b")]
    assert account_creations(nss, {("a", "default"), ("b", "default")}) == []
    assert account_creations([], set()) == []


def test_terminating_namespaces_get_none() -> None:
    deleting = namespace("going", deletionTimestamp="2026-12-04T02:00:00Z")
    terminating = namespace("ending", phase="Terminating")
    # A namespace the apiserver has not given a phase yet is active.
    fresh = {"metadata": {"name": "fresh"}}
    assert not is_active(deleting) and not is_active(terminating) and is_active(fresh)
    actions = account_creations([deleting, terminating, fresh], set())
    assert [(a.namespace, a.name) for a in actions] == [("fresh", "default")]


def test_runs_by_default_and_can_be_left_out() -> None:
    assert "serviceaccount" in select(())
    assert "serviceaccount" in select(("*",))
    assert "serviceaccount" not in select(("*", "-serviceaccount"))
