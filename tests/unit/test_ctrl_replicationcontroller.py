"""ReplicationController: the ReplicaSet logic on an equality selector, status to the RC,
pods owned by the RC; defaulting and validation of the kind."""

from __future__ import annotations

from api.defaults import apply_defaults
from api.validation import validate
from controllers import replicationcontroller as rcc
from tests.unit.ctrl_world import World

NOW = 1_700_000_000.0


def rc_obj(replicas: int = 3) -> dict:
    return {
        "metadata": {"name": "legacy", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"app": "legacy"},
            "template": {
                "metadata": {"labels": {"app": "legacy", "tier": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def step(w: World) -> None:
    rc = w.get("replicationcontrollers", "default", "legacy")
    assert rc is not None
    w.apply(rcc.reconcile_rc(rc, w.list("pods", "default"), w.now).actions)


def test_keeps_replicas_with_pods_owned_by_the_rc() -> None:
    w = World(NOW)
    w.add("replicationcontrollers", rc_obj(3))
    step(w)
    pods = w.list("pods", "default")
    assert len(pods) == 3
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["apiVersion"], ref["controller"]) == (
        "ReplicationController",
        "v1",
        True,
    )
    for p in pods:
        w.set_pod_ready(p["metadata"]["name"])
    step(w)
    st = w.get("replicationcontrollers", "default", "legacy")["status"]  # type: ignore[index]
    assert st["replicas"] == 3 and st["readyReplicas"] == 3
    # A lost pod is replaced; a scale down removes the surplus.
    del w.objects[("pods", "default", pods[0]["metadata"]["name"])]
    step(w)
    assert len(w.list("pods", "default")) == 3
    w.get("replicationcontrollers", "default", "legacy")["spec"]["replicas"] = 1  # type: ignore[index]
    step(w)
    assert len(w.list("pods", "default")) == 1


def test_equality_selector_adopts_matching_orphans_only() -> None:
    w = World(NOW)
    w.add("replicationcontrollers", rc_obj(1))
    w.add(
        "pods", {"metadata": {"name": "stray", "namespace": "default", "labels": {"app": "legacy"}}}
    )
    w.add(
        "pods", {"metadata": {"name": "other", "namespace": "default", "labels": {"app": "else"}}}
    )
    step(w)
    by_name = {p["metadata"]["name"]: p for p in w.list("pods", "default")}
    assert set(by_name) == {"stray", "other"}  # adopted stray: no new pod needed
    assert by_name["stray"]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert "ownerReferences" not in by_name["other"]["metadata"]


def test_defaults_take_the_selector_from_the_template_and_validation_checks_it() -> None:
    rc = rc_obj()
    del rc["spec"]["selector"]
    apply_defaults("ReplicationController", rc)
    assert rc["spec"]["selector"] == {"app": "legacy", "tier": "x"}
    assert rc["metadata"]["labels"] == {"app": "legacy", "tier": "x"}
    assert validate("ReplicationController", rc) == []
    bad = rc_obj()
    bad["spec"]["selector"] = {"app": "nope"}
    apply_defaults("ReplicationController", bad)
    causes = validate("ReplicationController", bad)
    assert [c.field for c in causes] == ["spec.template.metadata.labels"]
    assert "does not match" in causes[0].message
