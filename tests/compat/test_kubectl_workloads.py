"""DaemonSet, CronJob and ReplicationController through the real kubectl: discovery
(short names, category all), apply, get (upstream columns), get -o yaml, describe,
rollout status/undo ds, create job --from=cronjob, scale rc, delete."""

from __future__ import annotations

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import gone, header, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def _container(image: str) -> dict[str, object]:
    return {"name": "main", "image": image}


DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [_container("busybox:1")]},
        },
    },
}
CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "nightly"},
    "spec": {
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Berlin",
        "suspend": True,
        "jobTemplate": {
            "metadata": {"labels": {"cron": "nightly"}},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{**_container("busybox:1"), "command": ["echo", "hi"]}],
                    }
                }
            },
        },
    },
}
RC = {
    "apiVersion": "v1",
    "kind": "ReplicationController",
    "metadata": {"name": "legacy"},
    "spec": {
        "replicas": 2,
        "selector": {"app": "legacy"},
        "template": {
            "metadata": {"labels": {"app": "legacy"}},
            "spec": {"containers": [_container("nginx:1")]},
        },
    },
}


def test_discovery_names_and_categories(kubectl: Kubectl) -> None:
    table = rows(kubectl("api-resources", "-o", "wide"))
    assert table["daemonsets"]["SHORTNAMES"] == "ds"
    assert table["cronjobs"]["SHORTNAMES"] == "cj"
    assert table["replicationcontrollers"]["SHORTNAMES"] == "rc"
    for name in ("daemonsets", "cronjobs", "replicationcontrollers"):
        assert table[name]["CATEGORIES"] == "all"
    assert table["controllerrevisions"]["APIVERSION"] == "apps/v1"


def test_daemonset_round_trip_and_rollout(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(DAEMONSET))
    out = kubectl("rollout", "status", "ds/agent", "-n", namespace, "--timeout=60s")
    assert 'daemon set "agent" successfully rolled out' in out
    got = kubectl("get", "ds", "-n", namespace)
    assert header(got) == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
    ]
    row = rows(got)["agent"]
    assert (row["DESIRED"], row["READY"], row["NODE SELECTOR"]) == ("1", "1", "<none>")
    stored = yaml.safe_load(kubectl("get", "daemonset", "agent", "-n", namespace, "-o", "yaml"))
    strategy = stored["spec"]["updateStrategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    described = kubectl("describe", "ds", "agent", "-n", namespace)
    assert "Desired Number of Nodes Scheduled: 1" in described and "busybox:1" in described

    kubectl("set", "image", "ds/agent", "main=busybox:2", "-n", namespace)
    kubectl("rollout", "status", "ds/agent", "-n", namespace, "--timeout=60s")
    assert "rolled back" in kubectl("rollout", "undo", "ds/agent", "-n", namespace)
    kubectl("rollout", "status", "ds/agent", "-n", namespace, "--timeout=60s")
    image = cl.get("daemonsets", "agent", namespace)["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "busybox:1"
    history = kubectl("rollout", "history", "ds/agent", "-n", namespace)
    assert "REVISION" in history

    kubectl("delete", "ds", "agent", "-n", namespace)
    assert wait_for(lambda: gone(cl, "daemonsets", "agent", namespace), "ds gone")


def test_cronjob_round_trip_and_create_job_from_it(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(CRONJOB))
    got = kubectl("get", "cj", "-n", namespace)
    assert header(got) == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ]
    row = rows(got)["nightly"]
    assert (row["SCHEDULE"], row["TIMEZONE"], row["SUSPEND"]) == (
        "0 3 * * *",
        "Europe/Berlin",
        "True",
    )
    assert row["LAST SCHEDULE"] == "<none>"
    stored = yaml.safe_load(kubectl("get", "cronjob", "nightly", "-n", namespace, "-o", "yaml"))
    assert stored["spec"]["concurrencyPolicy"] == "Allow"
    assert stored["spec"]["successfulJobsHistoryLimit"] == 3
    assert "0 3 * * *" in kubectl("describe", "cj", "nightly", "-n", namespace)

    out = kubectl("create", "job", "by-hand", "--from=cronjob/nightly", "-n", namespace)
    assert out.strip() == "job.batch/by-hand created"
    job = cl.get("jobs", "by-hand", namespace)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    bad = dict(CRONJOB, metadata={"name": "badzone"})
    bad["spec"] = {**CRONJOB["spec"], "timeZone": "Mars/Olympus"}  # type: ignore[dict-item]
    p = kubectl.fails("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(bad))
    assert "spec.timeZone" in p.stderr and "unknown time zone Mars/Olympus" in p.stderr

    kubectl("delete", "cj", "nightly", "-n", namespace)
    assert wait_for(lambda: gone(cl, "cronjobs", "nightly", namespace), "cj gone")


def test_replication_controller_round_trip(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(RC))

    def ready() -> bool:
        row = rows(kubectl("get", "rc", "-n", namespace)).get("legacy") or {}
        return row.get("READY") == "2"

    wait_for(ready, "rc legacy ready")
    assert header(kubectl("get", "rc", "-n", namespace)) == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
    ]
    assert "Replicas:" in kubectl("describe", "rc", "legacy", "-n", namespace)
    assert "scaled" in kubectl("scale", "rc", "legacy", "--replicas=1", "-n", namespace)
    wait_for(
        lambda: rows(kubectl("get", "rc", "-n", namespace))["legacy"]["CURRENT"] == "1",
        "scaled to one",
    )
    kubectl("delete", "rc", "legacy", "-n", namespace)
    assert wait_for(lambda: gone(cl, "replicationcontrollers", "legacy", namespace), "rc gone")
