"""CronJob reconcile with a moved clock: Jobs at scheduled times (named by minute), the
three concurrency policies, history limits, startingDeadlineSeconds, too many missed
starts, suspend, time zones, status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.cronschedule import ScheduleError, most_recent, parse_schedule, parse_time_zone
from controllers import cronjob
from controllers.objutil import format_time
from tests.unit.ctrl_world import World

Obj = dict[str, Any]
T0 = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC).timestamp()  # 30 s past a minute


def cj_obj(schedule: str = "*/1 * * * *", **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": "tick", "namespace": "default"},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def step(w: World) -> Any:
    cj = w.get("cronjobs", "default", "tick")
    assert cj is not None
    res = cronjob.reconcile(cj, w.list("jobs", "default"), w.now)
    w.apply(res.actions)
    return res


def finish(w: World, name: str, ok: bool = True) -> None:
    job = w.objects[("jobs", "default", name)]
    job["status"] = {
        "startTime": job["metadata"]["creationTimestamp"],
        "completionTime": format_time(w.now),
        "conditions": [{"type": "Complete" if ok else "Failed", "status": "True"}],
    }


def job_names(w: World) -> list[str]:
    return sorted(j["metadata"]["name"] for j in w.list("jobs", "default"))


def test_a_job_per_scheduled_minute_named_by_minutes_since_the_epoch() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj())
    res = step(w)
    assert not res.of("create", "jobs")  # the first start is at 12:01:00
    assert res.requeue_after == pytest.approx(30.1)
    w.now = T0 + 40
    res = step(w)
    minute = int(T0 + 30) // 60
    assert job_names(w) == [f"tick-{minute}"]
    job = w.list("jobs", "default")[0]
    assert job["metadata"]["labels"] == {"app": "tick"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["annotations"][cronjob.SCHEDULED_AT] == format_time(T0 + 30)
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    st = w.get("cronjobs", "default", "tick")["status"]  # type: ignore[index]
    assert st["lastScheduleTime"] == format_time(T0 + 30)
    assert [r["name"] for r in st["active"]] == [f"tick-{minute}"]
    # The same minute again starts nothing.
    assert not step(w).of("create", "jobs")
    finish(w, f"tick-{minute}")
    w.now += 5
    step(w)
    st = w.get("cronjobs", "default", "tick")["status"]  # type: ignore[index]
    assert "active" not in st and st["lastSuccessfulTime"] == format_time(w.now - 5)


def test_forbid_skips_while_a_job_runs_and_replace_replaces_it() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj(concurrencyPolicy="Forbid"))
    w.now = T0 + 40
    step(w)
    w.now = T0 + 100
    assert not step(w).of("create", "jobs")
    assert len(job_names(w)) == 1
    cj = w.get("cronjobs", "default", "tick")
    assert cj is not None
    cj["spec"]["concurrencyPolicy"] = "Replace"
    res = step(w)
    assert len(res.of("delete", "jobs")) == 1 and len(res.of("create", "jobs")) == 1
    assert job_names(w) == [f"tick-{int(T0 + 90) // 60}"]


def test_allow_runs_jobs_side_by_side() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj())
    for t in (40, 100, 160):
        w.now = T0 + t
        step(w)
    assert len(job_names(w)) == 3
    assert len(w.get("cronjobs", "default", "tick")["status"]["active"]) == 3  # type: ignore[index]


def test_history_limits_prune_the_oldest_finished_jobs() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1))
    for i in range(5):
        w.now = T0 + 40 + 60 * i
        step(w)
        name = f"tick-{int(T0 + 30 + 60 * i) // 60}"
        finish(w, name, ok=i != 1 and i != 2)
    w.now += 1
    step(w)
    minute = int(T0 + 30) // 60
    # Succeeded: 0, 3, 4 (the two newest stay); failed: 1, 2 (the newest stays).
    assert job_names(w) == [f"tick-{minute + i}" for i in (2, 3, 4)]
    deletes = [a for a in w.log if a.verb == "delete"]
    assert len(deletes) == 2 and all(a.propagation_policy == "Background" for a in deletes)


def test_starting_deadline_skips_a_late_start_and_limits_the_look_back() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj(startingDeadlineSeconds=10))
    w.now = T0 + 30 + 25  # 25 s after 12:01:00, past the 10 s deadline
    res = step(w)
    # Only start times within the deadline are looked at: 12:01:00 is left behind.
    assert not res.of("create", "jobs")
    w.now = T0 + 30 + 65  # 5 s after 12:02:00
    assert len(step(w).of("create", "jobs")) == 1


def test_too_many_missed_start_times_warns_and_starts_the_latest() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj())
    w.now = T0 + 3 * 3600
    res = step(w)
    assert "TooManyMissedTimes" in [a.reason for a in res.of("event")]
    assert job_names(w) == [f"tick-{int(w.now) // 60}"]


def test_suspend_starts_nothing() -> None:
    w = World(T0)
    w.add("cronjobs", cj_obj(suspend=True))
    w.now = T0 + 200
    assert not step(w).of("create", "jobs")


def test_time_zone_decides_the_hour() -> None:
    w = World(datetime(2026, 3, 1, 7, 59, tzinfo=UTC).timestamp())
    w.add("cronjobs", cj_obj("0 9 * * *", timeZone="Europe/Berlin"))
    w.now = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC).timestamp()  # 09:00:05 in Berlin
    assert len(step(w).of("create", "jobs")) == 1


def test_schedule_parsing() -> None:
    assert parse_schedule("@hourly") == "0 * * * *"
    for bad, why in [
        ("bad", "expected exactly 5 fields, found 1"),
        ("61 * * * *", "out of range"),
        ("CRON_TZ=UTC 0 * * * *", "use timeZone field instead"),
        ("0 0 * * * *", "expected exactly 5 fields, found 6"),
    ]:
        with pytest.raises(ScheduleError, match=why):
            parse_schedule(bad)
    with pytest.raises(ScheduleError, match="unknown time zone Mars/Olympus"):
        parse_time_zone("Mars/Olympus")
    _, count = most_recent("*/1 * * * *", UTC, T0, T0 + 10_000)
    assert count == 101
