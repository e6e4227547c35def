"""`kl why` after scheduling: one case per state of a placed pod (waiting for an image,
a config, the runtime, a crash loop; not ready; ready; finished; being deleted)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubectl.podlife import explain_lifecycle, pod_state

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def placed(
    *statuses: dict[str, Any],
    phase: str = "Pending",
    ready: str = "False",
    image: str = "registry.lab/train:v3",
    **container: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-0", "namespace": "ml"},
        "spec": {
            "nodeName": "box-1",
            "containers": [{"name": "web", "image": image, **container}],
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": list(statuses),
        },
    }


def waiting(reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if message:
        state["message"] = message
    return {"name": "web", "ready": False, "restartCount": 0, "state": {"waiting": state}, **extra}


def event(reason: str, message: str, ts: str, type_: str = "Warning", count: int = 1) -> Any:
    return {
        "type": type_,
        "reason": reason,
        "message": message,
        "count": count,
        "lastTimestamp": ts,
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{web}"},
    }


def text(pod: dict[str, Any], events: list[dict[str, Any]] | None = None) -> str:
    return "\n".join(explain_lifecycle(pod, events or [], AT))


def test_image_that_cannot_be_pulled_names_the_image_and_the_fix() -> None:
    msg = 'failed to pull image "registry.lab/train:v3": repository does not exist'
    pod = placed(waiting("ImagePullBackOff", f"Back-off pulling image: {msg}"))
    events = [
        event("Pulling", 'Pulling image "registry.lab/train:v3"', "2024-05-01T11:59:00Z", "Normal"),
        event("Failed", f"Failed to pull image: {msg}", "2024-05-01T11:59:50Z", count=3),
        event("Failed", "Error: ErrImagePull", "2024-05-01T11:59:50Z", count=3),
        event("BackOff", "Back-off pulling image", "2024-05-01T11:59:55Z", "Normal"),
    ]
    assert pod_state(pod) == "waiting"
    lines = explain_lifecycle(pod, events, AT)
    assert lines[0] == "waiting to start:"
    assert lines[1] == f"  container web: ImagePullBackOff: Back-off pulling image: {msg}"
    assert lines[2] == f"last event: Warning Failed x3, 10s ago: Failed to pull image: {msg}"
    assert lines[3].startswith('fix: image "registry.lab/train:v3" could not be pulled to box-1')
    assert "this cluster has no registry: build or load it on box-1" in lines[3]
    assert "set imagePullPolicy: IfNotPresent" in lines[3]
    assert "pull policy is Always" not in lines[3]
    latest = placed(waiting("ErrImagePull", msg), image="train")
    assert "pull policy is Always now" in text(latest)


def test_image_never_pulled() -> None:
    pod = placed(waiting("ErrImageNeverPull", "not present"), imagePullPolicy="Never")
    assert "is not on box-1 and imagePullPolicy is Never" in text(pod)


def test_crash_loop_shows_the_last_exit_and_points_at_the_logs() -> None:
    cs = waiting(
        "CrashLoopBackOff",
        "back-off 40s restarting failed container=web",
        restartCount=4,
        lastState={"terminated": {"exitCode": 2, "reason": "Error"}},
    )
    lines = explain_lifecycle(placed(cs, phase="Running"), [], AT)
    assert lines[0] == "waiting to restart:"
    assert (
        lines[1]
        == "  container web: CrashLoopBackOff: back-off 40s restarting failed container=web"
    )
    assert lines[2] == "    last run exited with code 2 (Error); restarted 4 times"
    assert "`kl logs web-0 -c web --previous`" in lines[3]


def test_config_and_runtime_errors() -> None:
    config = placed(waiting("CreateContainerConfigError", 'secret "db" not found'))
    assert 'CreateContainerConfigError: secret "db" not found' in text(config)
    assert "create it in the pod's namespace or fix the reference" in text(config)
    runtime = placed(waiting("CreateContainerError", 'exec: "pyhton": not found'))
    assert "the container runtime refused to create or start it" in text(runtime)


def test_containers_being_created_need_no_fix_and_unreported_ones_are_said() -> None:
    creating = text(placed(waiting("ContainerCreating")))
    assert "container web: ContainerCreating" in creating and "fix:" not in creating
    unreported = placed()
    assert pod_state(unreported) == "waiting"
    assert text(unreported) == "waiting: the kubelet has not reported its containers yet"


def test_init_container_waiting() -> None:
    pod = placed(waiting("PodInitializing"))
    pod["spec"]["initContainers"] = [{"name": "fetch", "image": "busybox:1.36"}]
    pod["status"]["initContainerStatuses"] = [
        {**waiting("ErrImagePull", "no such image"), "name": "fetch"}
    ]
    lines = explain_lifecycle(pod, [], AT)
    assert "  init container fetch: ErrImagePull: no such image" in lines
    assert any(line.startswith('fix: image "busybox:1.36"') for line in lines)


def test_failing_readiness_probe_names_the_probe_and_its_last_failure() -> None:
    running = {"name": "web", "ready": False, "started": True, "state": {"running": {}}}
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
    pod = placed(running, phase="Running", readinessProbe=probe)
    events = [
        event("Unhealthy", "Readiness probe failed: HTTP 503", "2024-05-01T11:59:30Z", count=2),
        event("Unhealthy", "Readiness probe failed: connection refused", "2024-05-01T11:59:57Z"),
    ]
    assert pod_state(pod) == "not-ready"
    lines = explain_lifecycle(pod, events, AT)
    assert lines[0] == "not ready:"
    assert (
        lines[1]
        == "  container web: running, readiness probe (httpGet /healthz on port 8080, every 5s)"
    )
    assert lines[2] == "    failed 3 times, last 3s ago: Readiness probe failed: connection refused"
    assert lines[3].startswith("fix: make the readiness probe of web pass")
    assert lines[4].startswith("last event: Warning Unhealthy, 3s ago")


def test_startup_probe_not_yet_passed() -> None:
    running = {"name": "web", "ready": False, "started": False, "state": {"running": {}}}
    pod = placed(running, phase="Running", startupProbe={"exec": {"command": ["cat", "/ok"]}})
    assert "running, startup probe (exec cat /ok, every 10s)" in text(pod)
    assert "it has not passed yet" in text(pod)


def test_running_and_ready() -> None:
    cs = {"name": "web", "ready": True, "restartCount": 1, "state": {"running": {}}}
    pod = placed(cs, phase="Running", ready="True")
    pod["status"]["podIP"] = "10.42.0.7"
    assert pod_state(pod) == "ready"
    assert text(pod) == "running and ready: 1 of 1 containers ready, 1 restarts, IP 10.42.0.7"


def test_finished_pods_give_phase_and_exit_codes() -> None:
    done = {"name": "web", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    assert text(placed(done, phase="Succeeded")) == (
        "finished: Succeeded\n  container web: exited with code 0 (Completed)"
    )
    failed = {"name": "web", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}
    lines = explain_lifecycle(placed(failed, phase="Failed"), [], AT)
    assert lines[:2] == ["finished: Failed", "  container web: exited with code 3 (Error)"]
    assert "`kl logs web-0 -c web`" in lines[2]
    evicted = placed(phase="Failed")
    evicted["status"].update(reason="Evicted", message="The node was low on memory.")
    assert text(evicted) == "finished: Failed (Evicted): The node was low on memory."


def test_being_deleted_is_said_first() -> None:
    cs = {"name": "web", "ready": True, "state": {"running": {}}}
    pod = placed(cs, phase="Running", ready="True")
    pod["metadata"].update(deletionTimestamp="2024-05-01T12:00:30Z", deletionGracePeriodSeconds=30)
    assert explain_lifecycle(pod, [], AT)[0] == (
        "being deleted (grace period 30s): its containers are being stopped"
    )
