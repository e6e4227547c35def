"""Init containers: which one runs next, the status the kubelet reports while they run,
the STATUS column kubectl and the apiserver's Table derive from it, and the fake
runtime's modelled exits."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.tables.pods import pod_status_reason
from kubectl.printers.columns import pod_status as kl_pod_status
from kubelet.initcontainers import InitStep, incomplete, next_init_step
from kubelet.runtime.base import (
    LABEL_CONTAINER_INIT,
    LABEL_RESTART_COUNT,
    ContainerInfo,
    ContainerSpec,
)
from kubelet.runtime.fake_model import model
from kubelet.status import ContainerView, pod_status

NOW = "2026-11-26T12:00:00Z"


def info(state: str, code: int | None = None, restarts: int = 0, cid: str = "c") -> ContainerInfo:
    return ContainerInfo(
        cid,
        "n",
        {LABEL_RESTART_COUNT: str(restarts)},
        state,
        exit_code=code,
        started_at="2026-11-26T11:59:00Z",
        finished_at="2026-11-26T11:59:01Z" if state == "exited" else None,
    )


NAMES = ["a", "b"]


@pytest.mark.parametrize(
    ("current", "policy", "want"),
    [
        ({}, "Always", InitStep(container="a")),
        ({"a": info("running")}, "Always", InitStep(container="a")),
        ({"a": info("exited", 0)}, "Always", InitStep(container="b")),
        ({"a": info("exited", 1)}, "Always", InitStep(container="a")),
        ({"a": info("exited", 1)}, "OnFailure", InitStep(container="a")),
        ({"a": info("exited", 1)}, "Never", InitStep(failed="a")),
        ({"a": info("exited", 0), "b": info("exited", 2)}, "Never", InitStep(failed="b")),
        ({"a": info("exited", 0), "b": info("exited", 0)}, "Never", InitStep(initialized=True)),
        # Created but not started yet (the kubelet stopped in between): that one next.
        ({"a": info("created")}, "Always", InitStep(container="a")),
    ],
)
def test_next_init_step_runs_them_in_order_to_a_zero_exit(
    current: dict[str, ContainerInfo], policy: str, want: InitStep
) -> None:
    assert next_init_step(NAMES, current, app_started=False, restart_policy=policy) == want


def test_a_started_app_container_means_initialized_even_without_init_records() -> None:
    step = next_init_step(NAMES, {}, app_started=True, restart_policy="Always")
    assert step == InitStep(initialized=True)
    assert next_init_step([], {}, app_started=False, restart_policy="Never").initialized
    assert incomplete(NAMES, {"a": info("exited", 0)}) == ["b"]


def _pod(policy: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "uid": "u1", "namespace": "default"},
        "spec": {
            "restartPolicy": policy,
            "initContainers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
            "containers": [{"name": "app", "image": "i"}],
        },
        "status": {},
    }


def _status(
    a: ContainerInfo | None,
    b: ContainerInfo | None = None,
    app: ContainerInfo | None = None,
    policy: str = "Always",
    a_waiting: str | None = None,
) -> dict[str, Any]:
    inits = [
        ContainerView(
            "a",
            "i",
            current=a,
            init=True,
            waiting_reason=a_waiting,
            restart_count=a.restart_count if a else 0,
        ),
        ContainerView("b", "i", current=b, init=True),
    ]
    views = [ContainerView("app", "i", current=app, ready=app is not None, started=True)]
    return pod_status(
        _pod(policy), views, runtime="fake", host_ip="127.0.0.1", now=NOW, init_views=inits
    )


def _cond(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == ctype)


def _columns(status: dict[str, Any]) -> tuple[str, str]:
    """The STATUS column from kubectl's printer and from the apiserver's Table."""
    pod = {**_pod(), "status": status}
    return kl_pod_status(pod)[0], pod_status_reason(pod)[0]


def test_first_init_running_pending_not_initialized_init_0_of_2() -> None:
    st = _status(info("running"))
    assert st["phase"] == "Pending"
    init = _cond(st, "Initialized")
    assert init["status"] == "False"
    assert init["reason"] == "ContainersNotInitialized"
    assert init["message"] == "containers with incomplete status: [a b]"
    a, b = st["initContainerStatuses"]
    assert "running" in a["state"] and a["ready"] is False
    assert b["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert _columns(st) == ("Init:0/2", "Init:0/2")


def test_first_done_second_running_init_1_of_2() -> None:
    st = _status(info("exited", 0), info("running"))
    assert st["phase"] == "Pending"
    a = st["initContainerStatuses"][0]
    assert a["ready"] is True and a["state"]["terminated"]["reason"] == "Completed"
    assert _cond(st, "Initialized")["message"] == "containers with incomplete status: [b]"
    assert _columns(st) == ("Init:1/2", "Init:1/2")


def test_crash_looping_init_stays_pending_init_crashloopbackoff() -> None:
    st = _status(info("exited", 1, restarts=2), a_waiting="CrashLoopBackOff")
    assert st["phase"] == "Pending"
    a = st["initContainerStatuses"][0]
    assert a["restartCount"] == 2
    assert a["lastState"]["terminated"]["exitCode"] == 1
    assert _columns(st) == ("Init:CrashLoopBackOff", "Init:CrashLoopBackOff")


def test_failed_init_with_never_fails_the_pod_init_error() -> None:
    st = _status(info("exited", 3), policy="Never")
    assert st["phase"] == "Failed"
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    assert _columns(st) == ("Init:Error", "Init:Error")


def test_all_init_done_app_running_is_initialized_and_running() -> None:
    st = _status(info("exited", 0), info("exited", 0), app=info("running"))
    assert st["phase"] == "Running"
    assert _cond(st, "Initialized")["status"] == "True"
    assert _cond(st, "Ready")["status"] == "True"
    assert _columns(st) == ("Running", "Running")


def test_app_container_alone_does_not_get_init_statuses() -> None:
    pod = _pod()
    del pod["spec"]["initContainers"]
    st = pod_status(
        pod,
        [ContainerView("app", "i")],
        runtime="fake",
        host_ip="127.0.0.1",
        now=NOW,
    )
    assert "initContainerStatuses" not in st
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert _cond(st, "Initialized")["status"] == "True"


def _spec(*command: str, init: bool = False) -> ContainerSpec:
    labels = {LABEL_CONTAINER_INIT: "true"} if init else {}
    return ContainerSpec("n", "img", labels, command=list(command) or None)


def test_fake_runtime_models_exits() -> None:
    assert model(_spec("sh", "-c", "exit 1")).exit_code == 1
    assert model(_spec("sh", "-c", "echo hi > /x; exit 0")).exit_code == 0
    assert model(_spec("false")).exit_code == 1
    assert model(_spec("sh", "-c", "echo hi")).exit_code == 0  # echo ends, as on Docker
    assert model(_spec("sh", "-c", "echo hi", init=True)).exit_code == 0
    sleeper = model(_spec("sleep", "3600", init=True))
    assert (sleeper.exit_code, sleeper.after) == (0, 3600.0)  # runs for an hour


def test_validation_forbids_probes_and_sidecars_on_init_containers() -> None:
    from api.validation import validate

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "initContainers": [
                {"name": "ok", "image": "busybox"},
                {
                    "name": "bad",
                    "image": "busybox",
                    "readinessProbe": {"exec": {"command": ["true"]}},
                    "restartPolicy": "Always",
                },
            ],
            "containers": [{"name": "app", "image": "busybox"}],
        },
    }
    fields = {c.field: c.message for c in validate("Pod", pod)}
    assert "Forbidden" in fields["spec.initContainers[1].readinessProbe"]
    assert "remove restartPolicy" in fields["spec.initContainers[1].restartPolicy"]
    assert not [f for f in fields if f.startswith("spec.initContainers[0]")]
