"""DaemonSet rollout state as kubectl reads it: status messages and ControllerRevision
history."""

from __future__ import annotations

import pytest

from kubectl.rollouts import (
    RolloutFailed,
    controller_revision_template,
    daemonset_status_message,
    find_controller_revision,
    owned_revisions,
    revision_history,
)


def ds(gen: int = 2, observed: int = 2, **status: int) -> dict:
    return {
        "metadata": {"name": "agent", "generation": gen, "uid": "u1"},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}},
        "status": {"observedGeneration": observed, **status},
    }


def test_status_messages_follow_kubectl() -> None:
    assert daemonset_status_message(ds(3, 2)) == (
        "Waiting for daemon set spec update to be observed...",
        False,
    )
    msg, done = daemonset_status_message(ds(desiredNumberScheduled=4, updatedNumberScheduled=1))
    assert (
        msg
        == 'Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated...'
    )
    assert not done
    msg, done = daemonset_status_message(
        ds(desiredNumberScheduled=4, updatedNumberScheduled=4, numberAvailable=3)
    )
    assert msg.endswith("3 of 4 updated pods are available...") and not done
    assert daemonset_status_message(
        ds(desiredNumberScheduled=4, updatedNumberScheduled=4, numberAvailable=4)
    ) == ('daemon set "agent" successfully rolled out', True)
    on_delete = ds()
    on_delete["spec"]["updateStrategy"]["type"] = "OnDelete"
    with pytest.raises(RolloutFailed, match="only available for RollingUpdate"):
        daemonset_status_message(on_delete)


def rev(n: int, image: str, owner: str = "u1") -> dict:
    return {
        "metadata": {
            "name": f"agent-{n}",
            "ownerReferences": [{"uid": owner, "controller": True}],
            "annotations": {"kubernetes.io/change-cause": f"image {image}"} if n == 2 else {},
        },
        "revision": n,
        "data": {
            "spec": {"template": {"spec": {"containers": [{"image": image}]}, "$patch": "replace"}}
        },
    }


def test_history_from_owned_revisions() -> None:
    revs = owned_revisions(
        ds(), [rev(3, "c"), rev(1, "a"), rev(2, "b"), rev(9, "x", owner="other")]
    )
    assert [r["revision"] for r in revs] == [1, 2, 3]
    assert revision_history(revs) == [(1, "<none>"), (2, "image b"), (3, "<none>")]
    previous = find_controller_revision(revs, 0)
    assert previous is not None and previous["revision"] == 2
    assert find_controller_revision(revs, 7) is None
    assert controller_revision_template(revs[0]) == {"spec": {"containers": [{"image": "a"}]}}
