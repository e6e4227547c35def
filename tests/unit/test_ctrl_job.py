"""Job reconcile: parallelism, completions, backoff, deadline, TTL, conditions."""

from __future__ import annotations

from controllers import job as jobc
from controllers.objutil import format_time, get_condition
from tests.unit.ctrl_world import World

NOW = 1_700_000_000.0


def job_obj(**spec: object) -> dict:
    body = {
        "metadata": {"name": "train", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    body["spec"].update(spec)  # type: ignore[union-attr]
    return body


def finish(w: World, phase: str, at: float | None = None) -> None:
    """The kubelet finishes every running pod of the world with ``phase``."""
    for p in w.list("pods"):
        if (p.get("status") or {}).get("phase") in (None, "Pending", "Running"):
            stored = w.get("pods", "default", p["metadata"]["name"])
            assert stored is not None
            stored["status"] = {
                "phase": phase,
                "containerStatuses": [
                    {
                        "name": "c",
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": 0 if phase == "Succeeded" else 1,
                                "finishedAt": format_time(at if at is not None else w.now),
                            }
                        },
                    }
                ],
            }


def sync(w: World, **kw: float) -> jobc.A.Result:
    j = w.get("jobs", "default", "train")
    assert j is not None
    res = jobc.reconcile(j, w.list("pods"), w.now, **kw)
    w.apply(res.actions)
    return res


def test_parallelism_and_completions() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(parallelism=2, completions=3))
    res = sync(w)
    pods = w.list("pods")
    assert len(pods) == 2
    labels = pods[0]["metadata"]["labels"]
    j = w.get("jobs", "default", "train")
    assert j is not None
    uid = j["metadata"]["uid"]
    assert labels["job-name"] == "train" and labels["batch.kubernetes.io/job-name"] == "train"
    assert labels["controller-uid"] == uid == labels["batch.kubernetes.io/controller-uid"]
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert res.of("patch", "jobs")[0].body["status"]["startTime"] == format_time(NOW)  # type: ignore[index]
    finish(w, "Succeeded")
    w.now += 5
    sync(w)
    # 2 succeeded, 1 to go: only one more pod, not two.
    running = [p for p in w.list("pods") if not (p.get("status") or {}).get("phase")]
    assert len(running) == 1
    finish(w, "Succeeded")
    w.now += 5
    res = sync(w)
    j = w.get("jobs", "default", "train")
    assert j is not None
    st = j["status"]
    assert st["succeeded"] == 3 and st["active"] == 0 and st["failed"] == 0
    assert st["completionTime"] == format_time(w.now)
    c = get_condition(j, "Complete")
    assert c and c["status"] == "True"
    assert [e.reason for e in res.of("event")] == ["Completed"]
    # Finished: nothing more happens.
    assert sync(w).actions == []


def test_backoff_limit_fails_the_job() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(backoffLimit=2))
    for i in range(3):
        res = sync(w, backoff_base=1.0)
        assert len(res.of("create")) == 1, f"round {i}"
        finish(w, "Failed")
        # Back-off: 1 s, 2 s … before the next pod.
        wait = sync(w, backoff_base=1.0)
        if i < 2:
            assert not wait.of("create") and wait.requeue_after is not None
            w.now += wait.requeue_after
    j = w.get("jobs", "default", "train")
    assert j is not None
    c = get_condition(j, "Failed")
    assert c and c["reason"] == "BackoffLimitExceeded"
    assert j["status"]["failed"] == 3
    assert len(w.list("pods")) == 3
    assert any(e.reason == "BackoffLimitExceeded" and e.event_type == "Warning" for e in w.events)


def test_backoff_delay_doubles() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(backoffLimit=10))
    sync(w, backoff_base=10.0)
    finish(w, "Failed", at=NOW)
    sync(w, backoff_base=10.0)
    w.now = NOW + 9
    assert not sync(w, backoff_base=10.0).of("create")
    w.now = NOW + 10.01
    assert sync(w, backoff_base=10.0).of("create")
    finish(w, "Failed", at=w.now)
    t = w.now
    w.now = t + 19
    assert not sync(w, backoff_base=10.0).of("create")
    w.now = t + 20.01
    assert sync(w, backoff_base=10.0).of("create")


def test_on_failure_restarts_count_against_backoff() -> None:
    w = World(NOW)
    j = job_obj(backoffLimit=3)
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    w.add("jobs", j)
    sync(w)
    (pod,) = w.list("pods")
    stored = w.get("pods", "default", pod["metadata"]["name"])
    assert stored is not None
    stored["status"] = {"phase": "Running", "containerStatuses": [{"name": "c", "restartCount": 4}]}
    sync(w)
    jj = w.get("jobs", "default", "train")
    assert jj is not None
    c = get_condition(jj, "Failed")
    assert c and c["reason"] == "BackoffLimitExceeded"
    assert w.list("pods") == []  # the running pod was stopped


def test_active_deadline() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(activeDeadlineSeconds=30))
    res = sync(w)
    assert res.requeue_after is not None and 29 < res.requeue_after < 31
    w.now += 31
    sync(w)
    j = w.get("jobs", "default", "train")
    assert j is not None
    c = get_condition(j, "Failed")
    assert c and c["reason"] == "DeadlineExceeded"
    assert w.list("pods") == []


def test_ttl_after_finished_deletes_the_job() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(ttlSecondsAfterFinished=100))
    sync(w)
    finish(w, "Succeeded")
    sync(w)
    w.now += 50
    res = sync(w)
    assert not res.of("delete", "jobs") and res.requeue_after is not None
    w.now += 51
    res = sync(w)
    (d,) = res.of("delete", "jobs")
    assert d.name == "train"


def test_work_queue_mode_completes_when_one_succeeds_and_none_run() -> None:
    w = World(NOW)
    w.add("jobs", job_obj(parallelism=3))
    sync(w)
    assert len(w.list("pods")) == 3
    finish(w, "Succeeded")
    sync(w)
    j = w.get("jobs", "default", "train")
    assert j is not None and get_condition(j, "Complete")
    assert j["status"]["succeeded"] == 3


def test_pods_of_other_owners_are_ignored() -> None:
    w = World(NOW)
    w.add("jobs", job_obj())
    w.add(
        "pods",
        {
            "metadata": {"name": "x", "namespace": "default", "labels": {"job-name": "train"}},
            "status": {"phase": "Failed"},
        },
    )
    sync(w)
    j = w.get("jobs", "default", "train")
    assert j is not None and j["status"]["failed"] == 0
