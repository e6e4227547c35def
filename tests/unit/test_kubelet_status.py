"""Pod status computation: container states, phase by restart policy, conditions."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.runtime.base import LABEL_RESTART_COUNT, ContainerInfo
from kubelet.status import ContainerView, pod_phase, pod_status, qos_class, status_differs

NOW = "2024-05-01T12:00:00Z"


def running(cid: str = "a1", restarts: int = 0) -> ContainerInfo:
    return ContainerInfo(
        cid,
        "n",
        {LABEL_RESTART_COUNT: str(restarts)},
        "running",
        image_id="docker://sha256:1",
        started_at="2024-05-01T11:59:58.123456789Z",
    )


def exited(cid: str = "a0", code: int = 0, oom: bool = False) -> ContainerInfo:
    return ContainerInfo(
        cid,
        "n",
        {},
        "exited",
        exit_code=code,
        oom_killed=oom,
        started_at="2024-05-01T11:00:00Z",
        finished_at="2024-05-01T11:00:05Z",
    )


def pod(policy: str = "Always", n: int = 1, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {
            "restartPolicy": policy,
            "containers": [{"name": f"c{i}", "image": "img"} for i in range(n)],
        },
        "status": status or {},
    }


def test_running_container_status_has_every_required_field() -> None:
    st = pod_status(
        pod(),
        [ContainerView("c0", "img", running(), ready=True, started=True)],
        runtime="docker",
        host_ip="10.0.0.5",
        now=NOW,
    )
    (cs,) = st["containerStatuses"]
    for f in ("image", "imageID", "name", "ready", "restartCount"):
        assert f in cs
    assert cs["state"] == {"running": {"startedAt": "2024-05-01T11:59:58Z"}}
    assert cs["containerID"] == "docker://a1"
    assert cs["ready"] is True and cs["started"] is True
    assert st["phase"] == "Running"
    assert st["hostIP"] == st["podIP"] == "10.0.0.5"
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }


@pytest.mark.parametrize("policy", ["Always", "Never"])
def test_a_deleted_pods_stopped_containers_show_how_they_ended_and_it_keeps_its_phase(
    policy: str,
) -> None:
    ready = ContainerView("c0", "img", running(), ready=True, started=True)
    before = pod_status(pod(policy), [ready], runtime="docker", host_ip="h", now=NOW)
    stopped = ContainerView("c0", "img", exited("a1", 143), ready=True, started=True)
    st = pod_status(
        pod(policy, status=before), [stopped], runtime="docker", host_ip="h", now=NOW, deleting=True
    )
    (cs,) = st["containerStatuses"]
    assert cs["ready"] is False
    assert cs["state"]["terminated"]["exitCode"] == 143
    # The object goes next: no restart policy turns it Failed (or restarts it) first.
    assert st["phase"] == "Running"
    conds = {c["type"]: c for c in st["conditions"]}
    for kind in ("Ready", "ContainersReady"):
        assert conds[kind]["status"] == "False"
        assert conds[kind]["reason"] == "ContainersNotReady"
    assert conds["Initialized"]["status"] == "True"


def test_crash_loop_shows_waiting_with_last_state() -> None:
    view = ContainerView(
        "c0",
        "img",
        exited("dead", 137),
        restart_count=3,
        waiting_reason="CrashLoopBackOff",
        waiting_message="back-off 20s",
    )
    st = pod_status(pod(), [view], runtime="docker", host_ip="h", now=NOW)
    (cs,) = st["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}
    term = cs["lastState"]["terminated"]
    assert term["exitCode"] == 137 and term["reason"] == "Error"
    assert term["finishedAt"] == "2024-05-01T11:00:05Z"
    assert cs["restartCount"] == 3 and cs["ready"] is False
    assert st["phase"] == "Running"
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"


def test_restarted_container_keeps_previous_as_last_state() -> None:
    view = ContainerView(
        "c0",
        "img",
        running("a2", 1),
        previous=exited("a1", 1),
        restart_count=1,
        ready=True,
        started=True,
    )
    (cs,) = pod_status(pod(), [view], runtime="docker", host_ip="h", now=NOW)["containerStatuses"]
    assert "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 1


def test_oom_reason() -> None:
    view = ContainerView("c0", "img", exited(code=137, oom=True))
    (cs,) = pod_status(pod("Never"), [view], runtime="docker", host_ip="h", now=NOW)[
        "containerStatuses"
    ]
    assert cs["state"]["terminated"]["reason"] == "OOMKilled"


@pytest.mark.parametrize(
    ("policy", "codes", "phase"),
    [
        ("Never", [0], "Succeeded"),
        ("Never", [1], "Failed"),
        ("Never", [0, 2], "Failed"),
        ("OnFailure", [0], "Succeeded"),
        ("Always", [0], "Running"),
    ],
)
def test_terminal_phases(policy: str, codes: list[int], phase: str) -> None:
    views = [ContainerView(f"c{i}", "img", exited(f"x{i}", c)) for i, c in enumerate(codes)]
    st = pod_status(pod(policy, len(codes)), views, runtime="docker", host_ip="h", now=NOW)
    assert st["phase"] == phase
    if phase in ("Succeeded", "Failed"):
        ready = next(c for c in st["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "PodCompleted"


def test_pending_until_something_runs() -> None:
    views = [ContainerView("c0", "img", waiting_reason="ErrImagePull", waiting_message="nope")]
    st = pod_status(pod(), views, runtime="docker", host_ip="h", now=NOW)
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    assert st["containerStatuses"][0]["imageID"] == ""
    assert pod_phase([], "Always") == "Pending"


def test_one_running_one_failed_with_never_is_running() -> None:
    views = [ContainerView("c0", "img", running()), ContainerView("c1", "img", exited(code=3))]
    st = pod_status(pod("Never", 2), views, runtime="docker", host_ip="h", now=NOW)
    assert st["phase"] == "Running"


def test_condition_transition_time_kept_while_unchanged() -> None:
    first = pod_status(
        pod(),
        [ContainerView("c0", "img", running(), ready=True, started=True)],
        runtime="docker",
        host_ip="h",
        now=NOW,
    )
    later = pod_status(
        pod(status=first),
        [ContainerView("c0", "img", running(), ready=True, started=True)],
        runtime="docker",
        host_ip="h",
        now="2024-05-01T13:00:00Z",
    )
    assert not status_differs(first, later)
    not_ready = pod_status(
        pod(status=first),
        [ContainerView("c0", "img", running(), ready=False, started=True)],
        runtime="docker",
        host_ip="h",
        now="2024-05-01T13:00:00Z",
    )
    ready = next(c for c in not_ready["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2024-05-01T13:00:00Z"
    assert status_differs(first, not_ready)


def test_qos() -> None:
    p = pod()
    assert qos_class(p) == "BestEffort"
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class(p) == "Guaranteed"
    p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    assert qos_class(p) == "Burstable"
