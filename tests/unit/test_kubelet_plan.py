"""The pure sync plan of a pod (kubelet/plan.py): restart policies, init containers in
order, crash-loop backoff, kill on a changed spec or a failed probe, termination, and a
finished pod. No runtime, no client, no event loop: a view in, actions out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kubelet.backoff import BackoffEntry, CrashLoopRule
from kubelet.containers import spec_hash
from kubelet.initcontainers import InitStep
from kubelet.plan import (
    Completed,
    CrashLoopBackOff,
    Create,
    KeepRunning,
    Kill,
    ObservedContainer,
    PodView,
    ProbeResult,
    StartCreated,
    StopInstance,
    compute_pod_actions,
)
from kubelet.probes import LIVENESS, READINESS, STARTUP
from kubelet.runtime.base import (
    LABEL_CONTAINER_HASH,
    LABEL_CONTAINER_NAME,
    LABEL_RESTART_COUNT,
    ContainerInfo,
)
from kubelet.status import ContainerView, PodFailure, pod_status

NOW = 1000.0
RULE = CrashLoopRule(initial=10, maximum=300, reset_after=600)
APP = {"name": "app", "image": "img:1"}


def pod(
    policy: str = "Always",
    containers: list[dict[str, Any]] | None = None,
    inits: list[dict[str, Any]] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": policy,
        "containers": containers if containers is not None else [APP],
        "terminationGracePeriodSeconds": 7,
    }
    if inits:
        spec["initContainers"] = inits
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", **meta}, "spec": spec}


def inst(
    c: dict[str, Any],
    state: str,
    code: int | None = None,
    restarts: int = 0,
    cid: str = "c1",
    ran: int = 1,
) -> ContainerInfo:
    """An instance of ``c`` made from its spec as it is (same hash); it ran ``ran`` s."""
    return ContainerInfo(
        cid,
        f"k8s_{c['name']}",
        {
            LABEL_CONTAINER_NAME: c["name"],
            LABEL_CONTAINER_HASH: spec_hash(c),
            LABEL_RESTART_COUNT: str(restarts),
        },
        state,
        exit_code=code,
        started_at="2026-12-04T01:00:00Z",
        finished_at=f"2026-12-04T01:{ran // 60:02d}:{ran % 60:02d}Z" if state == "exited" else None,
    )


def view(p: dict[str, Any], **observed: ObservedContainer | ContainerInfo | None) -> PodView:
    obs = {
        k: v if isinstance(v, ObservedContainer) else ObservedContainer(current=v)
        for k, v in observed.items()
    }
    return PodView(pod=p, now=NOW, observed=obs, rule=RULE)


# -- restart policies ----------------------------------------------------------------------


def test_a_container_without_an_instance_is_created() -> None:
    actions = compute_pod_actions(view(pod()))
    assert actions.steps == (Create("app", init=False, restart_count=0),)
    assert actions.init == InitStep(initialized=True)
    assert actions.wait_until is None


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 3, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_restart_policy_decides_whether_an_exited_container_runs_again(
    policy: str, code: int, restarts: bool
) -> None:
    dead = inst(APP, "exited", code, restarts=2)
    step = compute_pod_actions(view(pod(policy), app=dead)).step_for("app")
    if restarts:
        # First death: the backoff lets it restart at once, as the third instance.
        assert isinstance(step, Create)
        assert step.restart_count == 3
        assert step.backoff == BackoffEntry(deaths=1, death_id="c1", restart_at=NOW, delay=0)
    else:
        assert step == Completed("app")


def test_a_running_container_with_its_spec_keeps_running_with_probes() -> None:
    step = compute_pod_actions(view(pod(), app=inst(APP, "running"))).step_for("app")
    assert step == KeepRunning("app", probes=True)


def test_a_created_but_never_started_instance_is_started() -> None:
    step = compute_pod_actions(view(pod(), app=inst(APP, "created", cid="new"))).step_for("app")
    assert step == StartCreated("app", "new", init=False)


def test_each_app_container_gets_its_own_step_in_spec_order() -> None:
    side = {"name": "side", "image": "img:2"}
    p = pod("OnFailure", containers=[APP, side])
    actions = compute_pod_actions(view(p, app=inst(APP, "exited", 0), side=inst(side, "running")))
    assert actions.steps == (Completed("app"), KeepRunning("side", probes=True))


# -- crash-loop backoff --------------------------------------------------------------------


def test_a_second_death_waits_until_the_backoff_ends_and_says_so_once() -> None:
    earlier = BackoffEntry(deaths=1, death_id="c0", restart_at=NOW - 50, delay=0)
    dead = inst(APP, "exited", 1, restarts=1, cid="c1")
    actions = compute_pod_actions(view(pod(), app=ObservedContainer(dead, backoff=earlier)))
    step = actions.step_for("app")
    assert isinstance(step, CrashLoopBackOff)
    assert step.until == NOW + 10
    assert actions.wait_until == NOW + 10
    assert step.backoff == BackoffEntry(deaths=2, death_id="c1", restart_at=NOW + 10, delay=10)
    assert step.message == "back-off 10s restarting failed container=app pod=p_ns(u1)"
    assert step.event == "Back-off restarting failed container app in pod p_ns(u1)"
    assert actions.creates == []

    # The next sync of the same death: same deadline (resyncs do not extend it), no
    # second event.
    again = ObservedContainer(dead, backoff=step.backoff, backoff_event_for="c1")
    later = PodView(pod=pod(), now=NOW + 4, observed={"app": again}, rule=RULE)
    step2 = compute_pod_actions(later).step_for("app")
    assert isinstance(step2, CrashLoopBackOff)
    assert (step2.until, step2.event) == (NOW + 10, None)

    # Once the deadline has passed, the container is created again.
    due = PodView(pod=pod(), now=NOW + 10, observed={"app": again}, rule=RULE)
    assert compute_pod_actions(due).step_for("app") == Create(
        "app", init=False, restart_count=2, backoff=step.backoff
    )


def test_backoff_doubles_per_death_and_a_long_run_starts_it_over() -> None:
    entry = BackoffEntry(deaths=3, death_id="c2", restart_at=NOW - 1, delay=20)
    quick = inst(APP, "exited", 1, restarts=3, cid="c3", ran=30)
    step = compute_pod_actions(view(pod(), app=ObservedContainer(quick, backoff=entry)))
    s = step.step_for("app")
    assert isinstance(s, CrashLoopBackOff) and s.until == NOW + 40

    long_run = inst(APP, "exited", 1, restarts=3, cid="c3", ran=601)
    step = compute_pod_actions(view(pod(), app=ObservedContainer(long_run, backoff=entry)))
    s2 = step.step_for("app")
    assert isinstance(s2, Create) and s2.backoff is not None and s2.backoff.deaths == 1


# -- kill on a changed spec or a failed probe ----------------------------------------------


def test_a_changed_image_kills_the_running_instance_with_the_pods_grace() -> None:
    running = inst(APP, "running", cid="old")
    changed = pod(containers=[{"name": "app", "image": "img:2"}])
    actions = compute_pod_actions(view(changed, app=running))
    assert actions.kills == [
        Kill("app", "old", "Container app definition changed, will be restarted", grace=7.0)
    ]
    # Once stopped, the next sync recreates it (exited: first death, immediate).
    stopped = inst(APP, "exited", 137, cid="old")
    step = compute_pod_actions(view(changed, app=stopped)).step_for("app")
    assert isinstance(step, Create) and step.restart_count == 1


def test_a_probe_setting_change_does_not_kill() -> None:
    running = inst(APP, "running")
    probed = pod(containers=[{**APP, "readinessProbe": {"exec": {"command": ["true"]}}}])
    assert compute_pod_actions(view(probed, app=running)).kills == []


@pytest.mark.parametrize(
    ("probes", "kind"),
    [
        ((ProbeResult(LIVENESS, ok=False, failures=3),), "liveness"),
        ((ProbeResult(LIVENESS, ok=True), ProbeResult(READINESS, ok=False, failures=9)), None),
        ((ProbeResult(STARTUP, ok=False, failures=2, failure_threshold=3),), None),
        ((ProbeResult(STARTUP, ok=False, failures=3, failure_threshold=3),), "startup"),
    ],
)
def test_liveness_or_a_startup_past_its_threshold_restarts(
    probes: tuple[ProbeResult, ...], kind: str | None
) -> None:
    obs = ObservedContainer(inst(APP, "running", cid="r"), probes=probes)
    step = compute_pod_actions(view(pod(), app=obs)).step_for("app")
    if kind is None:
        assert step == KeepRunning("app", probes=True)
    else:
        assert step == Kill("app", "r", f"Container app failed {kind} probe, will be restarted", 7)


# -- init containers -----------------------------------------------------------------------

I0 = {"name": "init0", "image": "img:1", "command": ["a"]}
I1 = {"name": "init1", "image": "img:1", "command": ["b"]}


def test_init_containers_run_one_at_a_time_in_order_before_the_app() -> None:
    p = pod(inits=[I0, I1])
    first = compute_pod_actions(view(p))
    assert first.init == InitStep(container="init0")
    assert first.steps == (Create("init0", init=True, restart_count=0),)

    running = compute_pod_actions(view(p, init0=inst(I0, "running")))
    assert running.steps == (KeepRunning("init0", probes=False),)

    second = compute_pod_actions(view(p, init0=inst(I0, "exited", 0)))
    assert second.steps == (Create("init1", init=True, restart_count=0),)

    done = compute_pod_actions(
        view(p, init0=inst(I0, "exited", 0), init1=inst(I1, "exited", 0, cid="c2"))
    )
    assert done.init == InitStep(initialized=True)
    assert done.steps == (Create("app", init=False, restart_count=0),)


def test_a_started_app_container_means_init_containers_never_run_again() -> None:
    actions = compute_pod_actions(view(pod(inits=[I0, I1]), app=inst(APP, "running")))
    assert actions.init.initialized
    assert actions.steps == (KeepRunning("app", probes=True),)


@pytest.mark.parametrize("policy", ["Always", "OnFailure"])
def test_a_failed_init_container_is_restarted_with_backoff(policy: str) -> None:
    p = pod(policy, inits=[I0, I1])
    failed = inst(I0, "exited", 1, cid="i0")
    step = compute_pod_actions(view(p, init0=failed)).step_for("init0")
    assert isinstance(step, Create) and step.init and step.restart_count == 1
    earlier = BackoffEntry(deaths=1, death_id="gone", restart_at=NOW - 5)
    again = compute_pod_actions(view(p, init0=ObservedContainer(failed, backoff=earlier)))
    assert again.wait_until == NOW + 10
    assert again.steps[0].name == "init0"


def test_a_failed_init_container_under_never_fails_the_pod_and_starts_nothing() -> None:
    p = pod("Never", inits=[I0, I1])
    actions = compute_pod_actions(view(p, init0=inst(I0, "exited", 0), init1=inst(I1, "exited", 2)))
    assert actions.init == InitStep(failed="init1")
    assert actions.steps == ()


def test_an_init_container_that_succeeded_under_always_is_not_rerun() -> None:
    # Unlike an app container under Always, an init container that exited 0 is done: the
    # plan moves on (here to the app) instead of restarting it.
    p = pod("Always", inits=[I0])
    actions = compute_pod_actions(view(p, init0=inst(I0, "exited", 0)))
    assert actions.steps == (Create("app", init=False, restart_count=0),)


def test_a_changed_init_container_spec_kills_the_running_init() -> None:
    p = pod(inits=[{**I0, "command": ["changed"]}])
    actions = compute_pod_actions(view(p, init0=inst(I0, "running", cid="i0")))
    assert [k.container_id for k in actions.kills] == ["i0"]


# -- termination and finished pods ---------------------------------------------------------


def test_a_deletion_stops_every_running_instance_with_the_deletions_grace() -> None:
    p = pod(deletionTimestamp="2026-12-04T01:00:00Z", deletionGracePeriodSeconds=3)
    running = inst(APP, "running", cid="a1")
    dead = inst(APP, "exited", 0, cid="a0")
    stray = ContainerInfo("x1", "k8s_old", {LABEL_CONTAINER_NAME: "old"}, "running")
    v = PodView(
        pod=p,
        now=NOW,
        observed={"app": ObservedContainer(running)},
        instances=(running, dead, stray),
    )
    actions = compute_pod_actions(v)
    t = actions.terminate
    assert t is not None
    assert t.grace == 3.0
    assert t.stop == (
        StopInstance("a1", "app", "Stopping container app"),
        StopInstance("x1", "old", "Stopping container old"),
    )
    assert [i.id for i in t.remove] == ["a1", "a0", "x1"]
    assert t.finish_deletion
    assert t.report_stopped  # the stopped containers are reported before the object goes
    assert actions.steps == ()


@pytest.mark.parametrize(
    ("api_deleted", "phase", "state"),
    [(True, "Running", "running"), (False, "Failed", "running"), (False, "Running", "exited")],
)
def test_a_deletion_reports_the_stopped_containers_only_if_the_object_lives_and_they_ran(
    api_deleted: bool, phase: str, state: str
) -> None:
    p = pod(deletionTimestamp="2026-12-04T01:00:00Z", deletionGracePeriodSeconds=3)
    one = inst(APP, state, None if state == "running" else 0, cid="a1")
    v = PodView(pod=p, now=NOW, observed={}, api_deleted=api_deleted, phase=phase, instances=(one,))
    t = compute_pod_actions(v).terminate
    assert t is not None and not t.report_stopped


def test_a_pod_gone_from_the_api_is_terminated_without_another_delete() -> None:
    v = PodView(pod=pod(), now=NOW, observed={}, api_deleted=True)
    t = compute_pod_actions(v).terminate
    assert t is not None and t.grace == 7.0 and not t.finish_deletion and t.stop == ()


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_runs_nothing_more(phase: str) -> None:
    dead = inst(APP, "exited", 1)
    v = PodView(pod=pod(), now=NOW, observed={"app": ObservedContainer(dead)}, phase=phase)
    actions = compute_pod_actions(v)
    assert actions.finished and actions.steps == () and actions.terminate is None


def test_host_ports_are_published_before_anything_starts() -> None:
    v = PodView(pod=pod(), now=NOW, observed={}, ports_published=False)
    actions = compute_pod_actions(v)
    assert actions.publish_ports and actions.steps == (Create("app", False, 0),)


def test_the_plan_leaves_its_view_as_it_was() -> None:
    p = pod(inits=[I0])
    v = view(p, init0=inst(I0, "exited", 1))
    assert compute_pod_actions(v) == compute_pod_actions(v)
    assert v.observed["init0"].backoff is None


def test_the_plan_module_does_no_io() -> None:
    # The plan must stay a pure function: no coroutines, and nothing imported that reaches
    # the runtime, the API client, the node context or the event loop.
    import ast
    from pathlib import Path

    import kubelet.plan

    tree = ast.parse(Path(kubelet.plan.__file__).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.Await)]
    imported = {
        *(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names),
        *(n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module),
    }
    allowed = {
        "__future__",
        "collections.abc",
        "dataclasses",
        "typing",
        "kubelet.backoff",
        "kubelet.containers",
        "kubelet.initcontainers",
        "kubelet.probes",
        "kubelet.runtime.base",
        "kubelet.status",  # PodFailure; the status is computed purely too
        "kubelet.timeutil",
    }
    assert imported <= allowed, imported - allowed


# -- a pod the kubelet fails ---------------------------------------------------------------


def test_a_failed_pod_stops_its_running_containers_and_starts_none() -> None:
    side = {"name": "side", "image": "img:1"}
    p = pod(containers=[APP, side])
    why = PodFailure("GPUUnhealthy", "GPU GPU-1 of this pod: Xid 79")
    v = view(p, app=inst(APP, "running"), side=None)
    actions = compute_pod_actions(replace(v, failure=why))
    assert actions.failed == why
    # The running one is stopped with the pod's grace; the missing one is never created.
    assert actions.steps == (Kill("app", "c1", why.message, 7.0),)
    # Once Failed is reported the pod is finished, whatever the failure still says.
    assert compute_pod_actions(replace(v, failure=why, phase="Failed")).finished


def test_a_failed_pods_status_is_failed_with_the_reason() -> None:
    p = pod()
    why = PodFailure("GPUUnhealthy", "GPU GPU-1 of this pod: Xid 79")
    running = ContainerView(APP["name"], APP["image"], inst(APP, "running"), ready=True)
    status = pod_status(p, [running], runtime="fake", host_ip="10.0.0.1", now="t", failure=why)
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed",
        "GPUUnhealthy",
        why.message,
    )
    assert pod_status(p, [running], runtime="fake", host_ip="10.0.0.1", now="t")["phase"] == (
        "Running"
    )
