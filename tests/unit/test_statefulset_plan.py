"""The StatefulSet controller's pure planning: ordering, partition, retention, identity."""

from __future__ import annotations

import copy
from typing import Any

from api.defaults import apply_defaults
from controllers.actions import Action
from controllers.statefulset.identity import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    parent_and_ordinal,
)
from controllers.statefulset.plan import Step, plan
from controllers.statefulset.status import compute_status

Obj = dict[str, Any]
NOW = 1_000_000.0


def sts(
    replicas: int = 3,
    image: str = "nginx:1",
    claims: bool = True,
    **spec: Any,
) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "ns", "uid": "sts-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": image,
                            "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            **spec,
        },
    }
    if claims:
        obj["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "www"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ]
    apply_defaults("StatefulSet", obj)
    return obj


def stored_revision(step: Step, number: int = 1) -> Obj:
    """The ControllerRevision the step creates, as the server would store it."""
    body = next(
        a.body for a in step.actions if a.verb == "create" and a.resource == "controllerrevisions"
    )
    assert body is not None
    rev = copy.deepcopy(body)
    rev["metadata"]["uid"] = f"rev-{number}"
    rev["metadata"]["resourceVersion"] = str(number)
    rev["revision"] = number
    rev["metadata"]["ownerReferences"][0]["uid"] = "sts-uid"
    return rev


def pod(
    name: str, revision: str, *, ready: bool = True, phase: str = "Running", **meta: Any
) -> Obj:
    _, ordinal = parent_and_ordinal(name)
    conditions = [
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastTransitionTime": "1970-01-01T00:00:00Z",
        }
    ]
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "labels": {
                "app": "web",
                POD_NAME_LABEL: name,
                POD_INDEX_LABEL: str(ordinal),
                REVISION_LABEL: revision,
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "web",
                    "uid": "sts-uid",
                    "controller": True,
                }
            ],
            **meta,
        },
        "status": {"phase": phase, "conditions": conditions},
    }


def claim_obj(name: str, owners: list[Obj] | None = None) -> Obj:
    c: Obj = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "7"}
    }
    if owners:
        c["metadata"]["ownerReferences"] = owners
    return c


def writes(step: Step) -> list[tuple[str, str, str]]:
    """(verb, resource, name) of every write, events left out."""
    return [
        (a.verb, a.resource, a.name)
        for a in step.actions
        if a.verb != "event" and a.resource != "statefulsets"
    ]


def created_pods(step: Step) -> list[Obj]:
    return [a.body for a in step.result.of("create", "pods") if a.body is not None]


def with_status(s: Obj, current: str) -> Obj:
    s = copy.deepcopy(s)
    s["status"] = {"currentRevision": current, "updateRevision": current}
    return s


# --- ordering ---------------------------------------------------------------------------


def test_ordered_ready_creates_the_revision_then_the_first_claim_then_the_first_pod() -> None:
    step = plan(sts(), [], [], [], NOW)
    rev = stored_revision(step)
    assert writes(step) == [
        ("create", "controllerrevisions", rev["metadata"]["name"]),
        ("create", "persistentvolumeclaims", "www-web-0"),
        ("create", "pods", "web-0"),
    ]


def test_ordered_ready_waits_for_each_pod_to_be_running_and_ready() -> None:
    s = sts()
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    claims = [claim_obj("www-web-0")]
    waiting = plan(s, [pod("web-0", r, ready=False)], claims, [rev], NOW)
    assert writes(waiting) == []
    pending = plan(s, [pod("web-0", r, ready=False, phase="Pending")], claims, [rev], NOW)
    assert writes(pending) == []
    ready = plan(s, [pod("web-0", r)], claims, [rev], NOW)
    assert writes(ready) == [
        ("create", "persistentvolumeclaims", "www-web-1"),
        ("create", "pods", "web-1"),
    ]


def test_parallel_creates_every_pod_at_once() -> None:
    s = sts(podManagementPolicy="Parallel")
    step = plan(s, [], [], [], NOW)
    assert [p["metadata"]["name"] for p in created_pods(step)] == ["web-0", "web-1", "web-2"]


def test_scale_down_deletes_the_highest_ordinal_first_one_at_a_time() -> None:
    s = sts(replicas=1)
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    pods = [pod(f"web-{i}", r) for i in range(3)]
    claims = [claim_obj(f"www-web-{i}") for i in range(3)]
    step = plan(with_status(s, r), pods, claims, [rev], NOW)
    assert writes(step) == [("delete", "pods", "web-2")]
    pods[2]["metadata"]["deletionTimestamp"] = "1970-01-01T00:00:00Z"
    assert writes(plan(with_status(s, r), pods, claims, [rev], NOW)) == []
    step = plan(with_status(s, r), pods[:2], claims, [rev], NOW)
    assert writes(step) == [("delete", "pods", "web-1")]


def test_parallel_scale_down_deletes_every_condemned_pod() -> None:
    s = sts(replicas=1, podManagementPolicy="Parallel")
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    pods = [pod(f"web-{i}", r) for i in range(3)]
    step = plan(with_status(s, r), pods, [claim_obj(f"www-web-{i}") for i in range(3)], [rev], NOW)
    assert writes(step) == [("delete", "pods", "web-2"), ("delete", "pods", "web-1")]


def test_a_failed_pod_is_deleted_to_be_recreated_with_its_name() -> None:
    s = sts(replicas=2)
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    claims = [claim_obj("www-web-0"), claim_obj("www-web-1")]
    failed = plan(
        s, [pod("web-0", r, phase="Failed", ready=False), pod("web-1", r)], claims, [rev], NOW
    )
    assert writes(failed) == [("delete", "pods", "web-0")]
    gone = plan(s, [pod("web-1", r)], claims, [rev], NOW)
    assert writes(gone) == [("create", "pods", "web-0")]  # its claim is kept and reused


def test_expectations_not_met_hold_creates_back() -> None:
    step = plan(sts(), [], [], [], NOW, expectations_satisfied=False)
    assert step.result.of("create", "pods") == []


# --- identity ---------------------------------------------------------------------------


def test_pods_have_a_stable_identity_and_mount_their_own_claim() -> None:
    s = sts(replicas=2, podManagementPolicy="Parallel", ordinals={"start": 5})
    step = plan(s, [], [], [], NOW)
    rev = stored_revision(step)["metadata"]["name"]
    pods = created_pods(step)
    assert [p["metadata"]["name"] for p in pods] == ["web-5", "web-6"]
    p = pods[1]
    assert p["spec"]["hostname"] == "web-6"
    assert p["spec"]["subdomain"] == "web"
    assert p["metadata"]["labels"] == {
        "app": "web",
        POD_NAME_LABEL: "web-6",
        POD_INDEX_LABEL: "6",
        REVISION_LABEL: rev,
    }
    assert p["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-6"}}
    ]
    ref = p["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("StatefulSet", "sts-uid", True)
    claims = [a.body for a in step.result.of("create", "persistentvolumeclaims") if a.body]
    assert [c["metadata"]["name"] for c in claims] == ["www-web-5", "www-web-6"]
    assert claims[0]["metadata"]["labels"] == {"app": "web"}
    assert "ownerReferences" not in claims[0]["metadata"]  # Retain: nobody owns them


def test_a_pod_whose_identity_label_was_removed_gets_it_back() -> None:
    s = sts(replicas=1, claims=False)
    rev = stored_revision(plan(s, [], [], [], NOW))
    p = pod("web-0", rev["metadata"]["name"])
    del p["metadata"]["labels"][POD_INDEX_LABEL]
    step = plan(s, [p], [], [rev], NOW)
    patch = step.result.of("patch", "pods")
    assert patch and patch[0].body == {
        "metadata": {"labels": {POD_NAME_LABEL: "web-0", POD_INDEX_LABEL: "0"}}
    }


# --- retention --------------------------------------------------------------------------


def _owner_kinds(a: Action) -> list[str]:
    assert a.body is not None
    return [r["kind"] for r in a.body["metadata"]["ownerReferences"] or []]


def test_when_deleted_delete_makes_the_set_own_its_claims() -> None:
    s = sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    step = plan(s, [], [], [], NOW)
    body = step.result.of("create", "persistentvolumeclaims")[0].body
    assert body is not None
    assert body["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "sts-uid"}
    ]


def test_when_scaled_delete_gives_a_condemned_pods_claim_to_the_pod_before_deleting_it() -> None:
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    s = sts(replicas=1, persistentVolumeClaimRetentionPolicy=policy)
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    pods = [pod("web-0", r), pod("web-1", r)]
    claims = [claim_obj("www-web-0"), claim_obj("www-web-1")]
    step = plan(with_status(s, r), pods, claims, [rev], NOW)
    assert writes(step) == [
        ("patch", "persistentvolumeclaims", "www-web-1"),
        ("delete", "pods", "web-1"),
    ]
    assert _owner_kinds(step.result.of("patch", "persistentvolumeclaims")[0]) == ["Pod"]


def test_retain_keeps_claims_on_scale_down() -> None:
    s = sts(replicas=1)
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    step = plan(
        with_status(s, r),
        [pod("web-0", r), pod("web-1", r)],
        [claim_obj("www-web-0"), claim_obj("www-web-1")],
        [rev],
        NOW,
    )
    assert writes(step) == [("delete", "pods", "web-1")]


def test_a_claim_left_to_the_collector_by_an_earlier_pod_holds_the_new_pod_back() -> None:
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    s = sts(replicas=1, persistentVolumeClaimRetentionPolicy=policy)
    rev = stored_revision(plan(s, [], [], [], NOW))
    old_owner = [{"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "old-pod"}]
    step = plan(s, [], [claim_obj("www-web-0", old_owner)], [rev], NOW)
    assert step.result.of("create", "pods") == []
    assert step.result.requeue_after is not None


# --- updates ----------------------------------------------------------------------------


def _rolled(
    partition: int = 0, strategy: str = "RollingUpdate", **ru: Any
) -> tuple[Obj, Obj, Obj, str]:
    """A set of 3 at revision 1 whose template has just changed: (set, rev1, rev2, rev1 name)."""
    if strategy == "RollingUpdate":
        update = {"type": strategy, "rollingUpdate": {"partition": partition, **ru}}
    else:
        update = {"type": strategy}
    old = sts(updateStrategy=update)
    rev1 = stored_revision(plan(old, [], [], [], NOW))
    new = with_status(sts(image="nginx:2", updateStrategy=update), rev1["metadata"]["name"])
    rev2 = stored_revision(plan(new, [], [], [rev1], NOW), 2)
    return new, rev1, rev2, rev1["metadata"]["name"]


def test_rolling_update_replaces_the_highest_ordinal_first_and_waits_for_it() -> None:
    s, rev1, rev2, r1 = _rolled()
    r2 = rev2["metadata"]["name"]
    claims = [claim_obj(f"www-web-{i}") for i in range(3)]
    pods = [pod(f"web-{i}", r1) for i in range(3)]
    assert writes(plan(s, pods, claims, [rev1, rev2], NOW)) == [("delete", "pods", "web-2")]
    recreated = plan(s, pods[:2], claims, [rev1, rev2], NOW)
    (new_pod,) = created_pods(recreated)
    assert new_pod["metadata"]["labels"][REVISION_LABEL] == r2
    assert new_pod["spec"]["containers"][0]["image"] == "nginx:2"
    not_ready = [*pods[:2], pod("web-2", r2, ready=False)]
    assert writes(plan(s, not_ready, claims, [rev1, rev2], NOW)) == []
    ready = [*pods[:2], pod("web-2", r2)]
    assert writes(plan(s, ready, claims, [rev1, rev2], NOW)) == [("delete", "pods", "web-1")]


def test_partition_updates_only_the_ordinals_at_or_above_it() -> None:
    s, rev1, rev2, r1 = _rolled(partition=1)
    r2 = rev2["metadata"]["name"]
    claims = [claim_obj(f"www-web-{i}") for i in range(3)]
    done = [pod("web-0", r1), pod("web-1", r2), pod("web-2", r2)]
    assert writes(plan(s, done, claims, [rev1, rev2], NOW)) == []
    # web-0, below the partition, comes back at the current revision when deleted.
    (again,) = created_pods(plan(s, done[1:], claims, [rev1, rev2], NOW))
    assert again["metadata"]["labels"][REVISION_LABEL] == r1
    assert again["spec"]["containers"][0]["image"] == "nginx:1"
    status = compute_status(s, done, r1, r2, NOW)
    assert (status["updatedReplicas"], status["currentReplicas"], status["currentRevision"]) == (
        2,
        1,
        r1,
    )


def test_max_unavailable_replaces_that_many_at_once() -> None:
    s, rev1, rev2, r1 = _rolled(maxUnavailable=2)
    pods = [pod(f"web-{i}", r1) for i in range(3)]
    step = plan(s, pods, [claim_obj(f"www-web-{i}") for i in range(3)], [rev1, rev2], NOW)
    assert writes(step) == [("delete", "pods", "web-2"), ("delete", "pods", "web-1")]


def test_on_delete_replaces_nothing_until_a_pod_is_deleted() -> None:
    s, rev1, rev2, r1 = _rolled(strategy="OnDelete")
    claims = [claim_obj(f"www-web-{i}") for i in range(3)]
    pods = [pod(f"web-{i}", r1) for i in range(3)]
    assert writes(plan(s, pods, claims, [rev1, rev2], NOW)) == []
    (again,) = created_pods(plan(s, [pods[0], pods[2]], claims, [rev1, rev2], NOW))
    assert again["metadata"]["labels"][REVISION_LABEL] == rev2["metadata"]["name"]


def test_the_update_revision_becomes_current_once_every_pod_runs_it() -> None:
    s, rev1, rev2, r1 = _rolled()
    r2 = rev2["metadata"]["name"]
    pods = [pod(f"web-{i}", r2) for i in range(3)]
    step = plan(s, pods, [claim_obj(f"www-web-{i}") for i in range(3)], [rev1, rev2], NOW)
    (patch,) = [a for a in step.actions if a.resource == "statefulsets"]
    assert patch.body is not None
    st = patch.body["status"]
    assert (st["currentRevision"], st["updateRevision"], st["currentReplicas"]) == (r2, r2, 3)
    assert (st["readyReplicas"], st["availableReplicas"], st["observedGeneration"]) == (3, 3, 1)


def test_min_ready_seconds_holds_the_next_pod_until_the_last_is_available() -> None:
    s = sts(replicas=2, minReadySeconds=30)
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    young = pod("web-0", r)
    young["status"]["conditions"][0]["lastTransitionTime"] = "1970-01-12T13:46:30Z"  # NOW - 10
    step = plan(s, [young], [claim_obj("www-web-0")], [rev], NOW)
    assert writes(step) == []
    assert step.result.requeue_after is not None and 19 < step.result.requeue_after < 21
    parallel = sts(replicas=1, minReadySeconds=30, podManagementPolicy="Parallel")
    step = plan(parallel, [young], [claim_obj("www-web-0")], [rev], NOW)
    assert step.result.requeue_after is not None and 19 < step.result.requeue_after < 21
    later = plan(s, [young], [claim_obj("www-web-0")], [rev], NOW + 21)
    assert ("create", "pods", "web-1") in writes(later)


def test_parallel_goes_on_past_a_failed_pod_to_the_condemned_ones() -> None:
    s = sts(replicas=1, podManagementPolicy="Parallel")
    rev = stored_revision(plan(s, [], [], [], NOW))
    r = rev["metadata"]["name"]
    pods = [pod("web-0", r, phase="Failed", ready=False), pod("web-1", r)]
    step = plan(
        with_status(s, r), pods, [claim_obj("www-web-0"), claim_obj("www-web-1")], [rev], NOW
    )
    assert writes(step) == [("delete", "pods", "web-0"), ("delete", "pods", "web-1")]
