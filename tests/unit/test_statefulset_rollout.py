"""``rollout status`` of StatefulSets: kubectl's StatefulSetStatusViewer, message for message."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl.rollouts import RolloutFailed, statefulset_status_message


def sts(generation: int = 2, replicas: int = 3, rolling: Any = None, **status: Any) -> Any:
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if rolling is not None:
        strategy["rollingUpdate"] = rolling
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas, "updateStrategy": strategy},
        "status": {"observedGeneration": 2, **status},
    }


def test_waits_for_the_spec_to_be_observed() -> None:
    assert statefulset_status_message(sts(generation=3)) == (
        "Waiting for statefulset spec update to be observed...",
        False,
    )
    never = sts()
    never["status"] = {}
    assert statefulset_status_message(never)[1] is False


def test_waits_for_pods_to_be_ready() -> None:
    assert statefulset_status_message(sts(readyReplicas=1)) == (
        "Waiting for 2 pods to be ready...",
        False,
    )


def test_partitioned_roll_out() -> None:
    waiting = sts(rolling={"partition": 1}, readyReplicas=3, updatedReplicas=1)
    assert statefulset_status_message(waiting) == (
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
        False,
    )
    done = sts(rolling={"partition": 1}, readyReplicas=3, updatedReplicas=2)
    assert statefulset_status_message(done) == (
        "partitioned roll out complete: 2 new pods have been updated...",
        True,
    )


def test_without_rolling_update_parameters_compares_the_revisions() -> None:
    moving = sts(
        readyReplicas=3, updatedReplicas=1, currentRevision="web-a", updateRevision="web-b"
    )
    assert statefulset_status_message(moving) == (
        "waiting for statefulset rolling update to complete 1 pods at revision web-b...",
        False,
    )
    done = sts(readyReplicas=3, currentReplicas=3, currentRevision="web-b", updateRevision="web-b")
    assert statefulset_status_message(done) == (
        "statefulset rolling update complete 3 pods at revision web-b...",
        True,
    )


def test_on_delete_has_no_rollout_status() -> None:
    s = sts(readyReplicas=3)
    s["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(RolloutFailed, match="only available for RollingUpdate"):
        statefulset_status_message(s)
