"""Garbage collector decisions: background, foreground, orphan, namespaces."""

from __future__ import annotations

from controllers import garbagecollector as gc
from controllers.garbagecollector import OwnerState, Ref


def obj(
    name: str,
    uid: str,
    owners: list[tuple[str, bool]] = (),
    finalizers: list[str] = (),  # type: ignore[assignment]
    deleting: bool = False,
) -> dict:
    m: dict = {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "7"}
    if owners:
        m["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": o,
                "uid": o,
                "controller": True,
                "blockOwnerDeletion": block,
            }
            for o, block in owners
        ]
    if finalizers:
        m["finalizers"] = list(finalizers)
    if deleting:
        m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": m}


def ref(name: str, resource: str = "pods") -> Ref:
    return Ref(resource, "default", name)


def test_dependent_of_a_gone_owner_is_deleted() -> None:
    p = obj("p", "p1", [("rs1", True)])
    (a,) = gc.reconcile_dependent(p, ref("p"), {"rs1": OwnerState.ABSENT}).actions
    assert a.verb == "delete" and a.name == "p"


def test_dependent_with_a_live_owner_stays_and_dangling_refs_are_dropped() -> None:
    p = obj("p", "p1", [("rs1", True), ("rs2", False)])
    assert (
        gc.reconcile_dependent(
            p, ref("p"), {"rs1": OwnerState.PRESENT, "rs2": OwnerState.PRESENT}
        ).actions
        == []
    )
    (a,) = gc.reconcile_dependent(
        p, ref("p"), {"rs1": OwnerState.ABSENT, "rs2": OwnerState.PRESENT}
    ).actions
    assert a.verb == "patch"
    assert [r["uid"] for r in a.body["metadata"]["ownerReferences"]] == ["rs2"]  # type: ignore[index]
    assert a.body["metadata"]["resourceVersion"] == "7"  # type: ignore[index]


def test_dependent_of_a_foreground_owner_is_deleted_in_foreground() -> None:
    p = obj("rs", "rs1", [("d1", True)])
    (a,) = gc.reconcile_dependent(
        p, ref("rs", "replicasets"), {"d1": OwnerState.FOREGROUND}
    ).actions
    assert a.verb == "delete" and a.propagation_policy == "Foreground"


def test_foreground_owner_waits_for_blocking_dependents_then_drops_finalizer() -> None:
    owner = obj("d", "d1", finalizers=[gc.FOREGROUND], deleting=True)
    rs = obj("rs", "rs1", [("d1", True)])
    res = gc.reconcile_owner(owner, ref("d", "deployments"), [(rs, ref("rs", "replicasets"))])
    assert [(a.verb, a.name) for a in res.actions] == [("delete", "rs")]
    rs_deleting = obj("rs", "rs1", [("d1", True)], deleting=True)
    assert (
        gc.reconcile_owner(
            owner, ref("d", "deployments"), [(rs_deleting, ref("rs", "replicasets"))]
        ).actions
        == []
    )
    (a,) = gc.reconcile_owner(owner, ref("d", "deployments"), []).actions
    assert a.verb == "patch" and a.body["metadata"]["finalizers"] is None  # type: ignore[index]


def test_orphan_owner_strips_refs_then_drops_finalizer() -> None:
    owner = obj("d", "d1", finalizers=[gc.ORPHAN, "other"], deleting=True)
    rs = obj("rs", "rs1", [("d1", True)])
    (a,) = gc.reconcile_owner(
        owner, ref("d", "deployments"), [(rs, ref("rs", "replicasets"))]
    ).actions
    assert a.verb == "patch" and a.name == "rs" and a.body["metadata"]["ownerReferences"] is None  # type: ignore[index]
    (b,) = gc.reconcile_owner(owner, ref("d", "deployments"), []).actions
    assert b.name == "d" and b.body["metadata"]["finalizers"] == ["other"]  # type: ignore[index]


def test_owner_not_deleting_does_nothing() -> None:
    owner = obj("d", "d1", finalizers=[gc.FOREGROUND])
    assert (
        gc.reconcile_owner(
            owner, ref("d", "deployments"), [(obj("rs", "rs1", [("d1", True)]), ref("rs"))]
        ).actions
        == []
    )


def test_namespace_deletes_contents_then_finalizes() -> None:
    ns = {
        "metadata": {
            "name": "team",
            "uid": "n1",
            "deletionTimestamp": "2024-01-01T00:00:00Z",
            "resourceVersion": "3",
        },
        "spec": {"finalizers": ["kubernetes"]},
    }
    contents = [
        (obj("p", "p1"), Ref("pods", "team", "p")),
        (obj("q", "q1", deleting=True), Ref("pods", "team", "q")),
    ]
    res = gc.reconcile_namespace(ns, contents)
    assert [(a.verb, a.name) for a in res.actions] == [("delete", "p")]
    assert res.requeue_after is not None
    fin, meta = gc.reconcile_namespace(ns, []).actions
    assert fin.verb == "replace" and fin.subresource == "finalize"
    assert fin.body is not None and fin.body["spec"]["finalizers"] == []
    assert meta.verb == "patch" and meta.body is not None
    assert meta.body["metadata"]["finalizers"] is None
    assert gc.reconcile_namespace({"metadata": {"name": "live"}}, contents).actions == []
