"""Rollout progress messages, revisions and rollback patches, as kubectl computes them."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl.rollouts import (
    RolloutFailed,
    find_revision,
    history,
    owned_replicasets,
    rollback_patch,
    same_template,
    status_message,
)


def dep(gen: int = 2, observed: int = 2, desired: int = 10, **st: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "generation": gen,
            "uid": "d1",
            "annotations": {"deployment.kubernetes.io/revision": "3", "team": "ml"},
        },
        "spec": {
            "replicas": desired,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "v3"}]},
            },
        },
        "status": {"observedGeneration": observed, **st},
    }


@pytest.mark.parametrize(
    ("d", "message", "done"),
    [
        (dep(gen=3, observed=2), "Waiting for deployment spec update to be observed...", False),
        (
            dep(updatedReplicas=4, replicas=10),
            'Waiting for deployment "web" rollout to finish: 4 out of 10 new replicas have been updated...',
            False,
        ),
        (
            dep(updatedReplicas=10, replicas=12),
            'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...',
            False,
        ),
        (
            dep(updatedReplicas=10, replicas=10, availableReplicas=2),
            'Waiting for deployment "web" rollout to finish: 2 of 10 updated replicas are available...',
            False,
        ),
        (
            dep(updatedReplicas=10, replicas=10, availableReplicas=10),
            'deployment "web" successfully rolled out',
            True,
        ),
    ],
)
def test_status_messages(d: dict[str, Any], message: str, done: bool) -> None:
    assert status_message(d) == (message, done)


def test_progress_deadline_exceeded_fails() -> None:
    d = dep(
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ]
    )
    with pytest.raises(RolloutFailed, match='deployment "web" exceeded its progress deadline'):
        status_message(d)


def rs(
    name: str, rev: int, image: str, owner: str = "d1", cause: str | None = None
) -> dict[str, Any]:
    ann = {"deployment.kubernetes.io/revision": str(rev)}
    if cause:
        ann["kubernetes.io/change-cause"] = cause
    return {
        "metadata": {
            "name": name,
            "annotations": ann,
            "ownerReferences": [{"controller": True, "uid": owner}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            }
        },
    }


def test_history_and_revision_lookup() -> None:
    sets = owned_replicasets(
        dep(),
        [
            rs("r3", 3, "v3"),
            rs("r1", 1, "v1", cause="first"),
            rs("x", 2, "other", owner="zzz"),
            rs("r2", 2, "v2"),
        ],
    )
    assert [s["metadata"]["name"] for s in sets] == ["r1", "r2", "r3"]
    assert history(sets) == [(1, "first"), (2, "<none>"), (3, "<none>")]
    assert find_revision(sets, 0)["metadata"]["name"] == "r2"  # the previous one
    assert find_revision(sets, 1)["metadata"]["name"] == "r1"
    assert find_revision(sets, 7) is None
    assert find_revision(sets[:1], 0) is None


def test_rollback_patch_drops_hash_and_bookkeeping() -> None:
    target = rs("r1", 1, "v1", cause="first")
    patch = rollback_patch(dep(), target)
    assert patch[0] == {
        "op": "replace",
        "path": "/spec/template",
        "value": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "v1"}]},
        },
    }
    assert patch[1]["op"] == "add" and patch[1]["path"] == "/metadata/annotations"
    assert patch[1]["value"] == {
        "deployment.kubernetes.io/revision": "3",
        "team": "ml",
        "kubernetes.io/change-cause": "first",
    }
    assert same_template(dep()["spec"]["template"], rs("r3", 3, "v3")["spec"]["template"])
    assert not same_template(dep()["spec"]["template"], target["spec"]["template"])
