"""Defaulting and validation of DaemonSets, ControllerRevisions and CronJobs, worded as
kube-apiserver's (each Cause names the field)."""

from __future__ import annotations

import copy
from typing import Any

from api.defaults import apply_defaults
from api.validation import validate

Obj = dict[str, Any]

DS: Obj = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "a", "image": "agent:1"}]},
        },
    },
}
CJ: Obj = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "tick", "namespace": "default"},
    "spec": {
        "schedule": "*/5 * * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            }
        },
    },
}


def causes(kind: str, obj: Obj, **spec: Any) -> list[tuple[str, str]]:
    o = copy.deepcopy(obj)
    o["spec"].update(spec)
    apply_defaults(kind, o)
    return [(c.field, c.message) for c in validate(kind, o)]


def test_daemonset_defaults_as_kubernetes() -> None:
    o = copy.deepcopy(DS)
    apply_defaults("DaemonSet", o)
    assert o["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert o["spec"]["revisionHistoryLimit"] == 10
    assert o["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert validate("DaemonSet", o) == []


def test_daemonset_refusals_name_the_field() -> None:
    stuck = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
    [(field, msg)] = causes("DaemonSet", DS, updateStrategy=stuck)
    assert field == "spec.updateStrategy.rollingUpdate.maxUnavailable" and "may not be 0" in msg
    both = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    assert [f for f, _ in causes("DaemonSet", DS, updateStrategy=both)] == [
        "spec.updateStrategy.rollingUpdate.maxSurge"
    ]
    [(field, msg)] = causes("DaemonSet", DS, updateStrategy={"type": "Recreate"})
    assert field == "spec.updateStrategy.type" and "OnDelete" in msg
    [(field, msg)] = causes("DaemonSet", DS, selector={"matchLabels": {"app": "other"}})
    assert field == "spec.template.metadata.labels" and "does not match" in msg
    tmpl = copy.deepcopy(DS["spec"]["template"])
    tmpl["spec"]["restartPolicy"] = "Never"
    assert [f for f, _ in causes("DaemonSet", DS, template=tmpl)] == [
        "spec.template.spec.restartPolicy"
    ]


def test_daemonset_selector_is_immutable() -> None:
    old = copy.deepcopy(DS)
    apply_defaults("DaemonSet", old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "agent", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert [c.field for c in validate("DaemonSet", new, old)] == ["spec.selector"]


def test_controller_revision_data_is_immutable() -> None:
    rev: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "agent-abc", "namespace": "default"},
        "data": {"spec": {"template": {}}},
        "revision": 1,
    }
    assert validate("ControllerRevision", rev) == []
    changed = {**rev, "data": {"spec": {}}, "revision": 2}
    assert [c.field for c in validate("ControllerRevision", changed, rev)] == ["data"]
    assert [c.field for c in validate("ControllerRevision", {**rev, "revision": -1})] == [
        "revision"
    ]


def test_cronjob_defaults_and_refusals() -> None:
    o = copy.deepcopy(CJ)
    apply_defaults("CronJob", o)
    spec = o["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert validate("CronJob", o) == []
    [(field, msg)] = causes("CronJob", CJ, schedule="every minute")
    assert field == "spec.schedule" and "expected exactly 5 fields" in msg
    [(field, msg)] = causes("CronJob", CJ, timeZone="Mars/Olympus")
    assert field == "spec.timeZone" and msg.endswith("unknown time zone Mars/Olympus")
    assert causes("CronJob", CJ, timeZone="America/New_York") == []
    [(field, _)] = causes("CronJob", CJ, concurrencyPolicy="Sometimes")
    assert field == "spec.concurrencyPolicy"
    [(field, _)] = causes("CronJob", CJ, startingDeadlineSeconds=-1)
    assert field == "spec.startingDeadlineSeconds"
    jt = copy.deepcopy(CJ["spec"]["jobTemplate"])
    del jt["spec"]["template"]["spec"]["restartPolicy"]
    assert [f for f, _ in causes("CronJob", CJ, jobTemplate=jt)] == [
        "spec.jobTemplate.spec.template.spec.restartPolicy"
    ]
    long_name = copy.deepcopy(CJ)
    long_name["metadata"]["name"] = "x" * 53
    apply_defaults("CronJob", long_name)
    assert [c.field for c in validate("CronJob", long_name)] == ["metadata.name"]
