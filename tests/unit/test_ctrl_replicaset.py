"""ReplicaSet reconcile: scale up/down, adoption and release, deletion order, status."""

from __future__ import annotations

from controllers import replicaset
from controllers.objutil import format_time
from tests.unit.ctrl_world import World

NOW = 1_700_000_000.0


def rs_obj(replicas: int = 3, min_ready: int = 0) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web", "tier": "fe"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def owned_pod(w: World, rs: dict, name: str, **extra: object) -> dict:
    body = {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "web", "tier": "fe"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web",
                    "uid": rs["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    body.update(extra)  # type: ignore[arg-type]
    return w.add("pods", body)


def test_creates_missing_pods_owned_by_the_replicaset() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(3))
    res = replicaset.reconcile(rs, [], NOW)
    creates = res.of("create", "pods")
    assert len(creates) == 3
    assert len({a.body["metadata"]["name"] for a in creates}) == 3  # type: ignore[index]
    ref = creates[0].body["metadata"]["ownerReferences"][0]  # type: ignore[index]
    assert ref["uid"] == rs["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"]
    assert ref["kind"] == "ReplicaSet" and ref["apiVersion"] == "apps/v1"
    assert creates[0].body["metadata"]["labels"] == {"app": "web", "tier": "fe"}  # type: ignore[index]


def test_no_creates_while_expectations_pending() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(3))
    res = replicaset.reconcile(rs, [], NOW, expectations_satisfied=False)
    assert not res.of("create") and not res.of("delete")


def test_burst_caps_creates_per_sync() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(1200))
    assert len(replicaset.reconcile(rs, [], NOW, burst=500).of("create")) == 500


def test_slow_start_batches_double() -> None:
    assert replicaset.slow_start_batches(10) == [1, 2, 4, 3]
    assert replicaset.slow_start_batches(1) == [1]
    assert replicaset.slow_start_batches(0) == []
    assert sum(replicaset.slow_start_batches(500)) == 500
    assert replicaset.slow_start_batches(500)[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 245]


def test_deletes_unscheduled_then_not_ready_then_newest() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(1))
    old_ready = owned_pod(w, rs, "old-ready")
    w.set_pod_ready("old-ready")
    w.now += 10
    owned_pod(w, rs, "new-ready")
    w.set_pod_ready("new-ready")
    owned_pod(w, rs, "not-ready")
    w.set_pod_ready("not-ready", ready=False)
    owned_pod(w, rs, "unscheduled")
    pods = w.list("pods")
    order = [a.name for a in replicaset.reconcile(rs, pods, w.now).of("delete")]
    assert order == ["unscheduled", "not-ready", "new-ready"]
    assert old_ready["metadata"]["name"] not in order


def test_adopts_matching_orphans_and_releases_mismatched() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(2))
    w.add(
        "pods", {"metadata": {"name": "orphan", "namespace": "default", "labels": {"app": "web"}}}
    )
    w.add(
        "pods", {"metadata": {"name": "stranger", "namespace": "default", "labels": {"app": "db"}}}
    )
    owned_pod(
        w,
        rs,
        "relabelled",
        metadata={
            "name": "relabelled",
            "namespace": "default",
            "labels": {"app": "other"},
            "ownerReferences": [
                {
                    "uid": rs["metadata"]["uid"],
                    "controller": True,
                    "kind": "ReplicaSet",
                    "apiVersion": "apps/v1",
                    "name": "web",
                }
            ],
        },
    )
    res = replicaset.reconcile(rs, w.list("pods"), NOW)
    patches = {a.name: a.body for a in res.of("patch", "pods")}
    assert set(patches) == {"orphan", "relabelled"}
    assert patches["orphan"]["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]  # type: ignore[index]
    assert patches["relabelled"]["metadata"]["ownerReferences"] is None  # type: ignore[index]
    # The adopted orphan counts: only one more pod is created.
    assert len(res.of("create")) == 1


def test_status_counts_ready_available_and_fully_labelled() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(3, min_ready=30))
    owned_pod(w, rs, "a")
    w.set_pod_ready("a")  # ready now: available only after 30 s
    owned_pod(w, rs, "b")
    pb = w.get("pods", "default", "b")
    assert pb is not None
    pb["metadata"]["labels"] = {"app": "web"}  # matches selector, not the full template
    pb["status"] = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": format_time(NOW - 60)}
        ],
    }
    owned_pod(
        w,
        rs,
        "gone",
        metadata={
            "name": "gone",
            "namespace": "default",
            "labels": {"app": "web"},
            "deletionTimestamp": format_time(NOW),
            "ownerReferences": [{"uid": rs["metadata"]["uid"], "controller": True}],
        },
    )
    res = replicaset.reconcile(rs, w.list("pods"), NOW)
    (st,) = res.of("patch", "replicasets")
    assert st.subresource == "status"
    assert st.body["status"] == {  # type: ignore[index]
        "replicas": 2,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 2,
        "availableReplicas": 1,
        "observedGeneration": 2,
    }
    assert res.requeue_after is not None and 29 < res.requeue_after <= 30.1
    # One more pod because the terminating one does not count.
    assert len(res.of("create")) == 1


def test_steady_state_writes_nothing() -> None:
    w = World(NOW)
    rs = w.add("replicasets", rs_obj(2))
    for _ in range(3):
        w.apply(replicaset.reconcile(rs, w.list("pods"), w.now).actions)
        rs = w.get("replicasets", "default", "web")  # type: ignore[assignment]
        for p in w.list("pods"):
            w.set_pod_ready(p["metadata"]["name"])
    w.apply(replicaset.reconcile(rs, w.list("pods"), w.now).actions)
    rs = w.get("replicasets", "default", "web")  # type: ignore[assignment]
    assert replicaset.reconcile(rs, w.list("pods"), w.now).actions == []
    assert rs["status"]["readyReplicas"] == 2
