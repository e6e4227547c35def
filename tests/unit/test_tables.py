"""Server-side Table rendering: the columns and cells kubectl shows (API-COMPAT §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.registry import RESOURCES
from apiserver import tables
from apiserver.tables import human_duration, to_table

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 30, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "creationTimestamp": ts(age),
        "resourceVersion": "7",
        **extra,
    }


def row(plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Cells of a one-row table keyed by column name."""
    t = to_table(plural, [obj], NOW)
    names = [c["name"] for c in t["columnDefinitions"]]
    (r,) = t["rows"]
    assert len(r["cells"]) == len(names)
    return dict(zip(names, r["cells"], strict=True))


def headers(plural: str, wide: bool = False) -> list[str]:
    """Column headers as kubectl prints them (upper case; priority 0 unless wide)."""
    return [
        c["name"].upper() for c in tables.column_definitions(plural) if wide or c["priority"] == 0
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 300, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (700 * 86400, "700d"),
        (730 * 86400, "2y"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_every_registry_kind_has_name_first_and_is_rendered() -> None:
    for r in RESOURCES:
        cols = tables.column_definitions(r.plural)
        if r.plural != "events":
            assert cols[0]["name"] == "Name" and cols[0]["format"] == "name"
        t = to_table(r.plural, [{"metadata": meta("x")}], NOW)
        assert len(t["rows"][0]["cells"]) == len(cols)


def test_table_envelope_and_partial_object_metadata() -> None:
    pod = {"metadata": meta("p1", labels={"app": "web"}), "spec": {"containers": [{"name": "c"}]}}
    t = to_table("pods", [pod], NOW, resource_version="42", continue_token="abc")
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "42", "continue": "abc"}
    obj = t["rows"][0]["object"]
    assert obj == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod["metadata"],
    }
    assert to_table("pods", [pod], NOW, "Object")["rows"][0]["object"] is pod
    assert "object" not in to_table("pods", [pod], NOW, "None")["rows"][0]
    assert to_table("pods", [pod], NOW, with_columns=False)["columnDefinitions"] == []


def test_pod_headers_like_kubectl() -> None:
    assert headers("pods") == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert headers("pods", wide=True)[5:] == [
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
        "GPUS",
    ]


def running_pod(**status_extra: Any) -> dict[str, Any]:
    return {
        "metadata": meta("web-1", age=200, annotations={"kubelab.io/gpu-uuids": "GPU-a,GPU-b"}),
        "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": True, "restartCount": 0, "state": {"running": {}}},
            ],
            **status_extra,
        },
    }


def test_running_pod_row() -> None:
    cells = row("pods", running_pod())
    assert cells == {
        "Name": "web-1",
        "Ready": "2/2",
        "Status": "Running",
        "Restarts": "0",
        "Age": "3m20s",
        "IP": "10.0.0.5",
        "Node": "n1",
        "Nominated Node": "<none>",
        "Readiness Gates": "<none>",
        "GPUs": "GPU-a,GPU-b",
    }


def test_pending_pod_without_status() -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending"},
    }
    cells = row("pods", pod)
    assert (cells["Ready"], cells["Status"], cells["IP"], cells["Node"], cells["GPUs"]) == (
        "0/1",
        "Pending",
        "<none>",
        "<none>",
        "<none>",
    )


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
        ({"waiting": {"reason": "CrashLoopBackOff"}}, "CrashLoopBackOff"),
        ({"waiting": {"reason": "ErrImagePull"}}, "ErrImagePull"),
        ({"terminated": {"reason": "Completed", "exitCode": 0}}, "Completed"),
        ({"terminated": {"reason": "OOMKilled", "exitCode": 137}}, "OOMKilled"),
        ({"terminated": {"exitCode": 3}}, "ExitCode:3"),
        ({"terminated": {"exitCode": 0, "signal": 9}}, "Signal:9"),
    ],
)
def test_pod_status_from_container_state(state: dict, status: str) -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0, "state": state}],
        },
    }
    assert row("pods", pod)["Status"] == status


def test_restarts_show_time_since_last_restart() -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"][0].update(
        restartCount=3, lastState={"terminated": {"exitCode": 1, "finishedAt": ts(90)}}
    )
    pod["status"]["containerStatuses"][1].update(restartCount=1)
    assert row("pods", pod)["Restarts"] == "4 (90s ago)"


def test_completed_but_another_container_running_shows_running_or_notready() -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"][1] = {
        "name": "b",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
    }
    # Containers are walked last to first; "a" is running and ready, "b" completed.
    pod["status"]["containerStatuses"].reverse()
    assert row("pods", pod)["Status"] == "Running"
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert row("pods", pod)["Status"] == "NotReady"


def test_terminating_pod() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ts(1)
    assert row("pods", pod)["Status"] == "Terminating"
    pod["status"]["phase"] = "Succeeded"
    pod["status"]["reason"] = ""
    # A finished pod being deleted keeps its phase (upstream: terminal phases win).
    assert row("pods", pod)["Status"] != "Terminating"


def test_init_container_progress() -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "i1",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0}},
                },
                {"name": "i2", "ready": False, "restartCount": 0, "state": {"running": {}}},
            ],
        },
    }
    assert row("pods", pod)["Status"] == "Init:1/2"
    pod["status"]["initContainerStatuses"][1]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert row("pods", pod)["Status"] == "Init:CrashLoopBackOff"
    pod["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 2}}
    assert row("pods", pod)["Status"] == "Init:ExitCode:2"


def test_succeeded_pod_row_has_completed_condition() -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
                }
            ],
        },
    }
    t = to_table("pods", [pod], NOW)
    assert t["rows"][0]["cells"][2] == "Completed"
    assert t["rows"][0]["conditions"][0]["type"] == "Completed"


def test_readiness_gates() -> None:
    pod = running_pod()
    pod["spec"]["readinessGates"] = [{"conditionType": "x"}, {"conditionType": "y"}]
    pod["status"]["conditions"].append({"type": "x", "status": "True"})
    assert row("pods", pod)["Readiness Gates"] == "1/2"


def node(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": meta(
            "gpu1",
            age=3 * 86400,
            labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "gpu"},
        ),
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "192.0.2.10"},
                {"type": "Hostname", "address": "gpu1"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.35.0-kubelab",
                "osImage": "Debian 13",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "docker://27",
            },
            "gpus": [
                {"index": 0, "uuid": "GPU-a", "model": "H100", "health": "Healthy"},
                {"index": 1, "uuid": "GPU-b", "model": "H100", "health": "Healthy"},
            ],
        },
    }


def test_node_row() -> None:
    assert headers("nodes") == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert headers("nodes", wide=True)[5:] == [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
        "GPUS",
    ]
    assert row("nodes", node()) == {
        "Name": "gpu1",
        "Status": "Ready",
        "Roles": "control-plane,gpu",
        "Age": "3d",
        "Version": "v1.35.0-kubelab",
        "Internal-IP": "192.0.2.10",
        "External-IP": "<none>",
        "OS-Image": "Debian 13",
        "Kernel-Version": "6.1.0",
        "Container-Runtime": "docker://27",
        "GPUs": "2xH100",
    }


def test_cordoned_and_not_ready_nodes() -> None:
    assert row("nodes", node(unschedulable=True))["Status"] == "Ready,SchedulingDisabled"
    n = node()
    n["status"]["conditions"][1]["status"] = "Unknown"
    assert row("nodes", n)["Status"] == "NotReady"
    n["status"]["conditions"] = []
    n["status"]["gpus"] = []
    assert row("nodes", n)["Status"] == "Unknown"
    assert row("nodes", n)["GPUs"] == "<none>"
    n["status"]["capacity"] = {"nvidia.com/gpu": "4"}
    assert row("nodes", n)["GPUs"] == "4"


def test_node_gpu_health_is_shown() -> None:
    n = node()
    n["status"]["gpus"][1]["health"] = "Unhealthy"
    assert row("nodes", n)["GPUs"] == "2xH100 (1 unhealthy)"


def template(*images: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]},
    }


def test_deployment_row() -> None:
    assert headers("deployments") == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    d = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
            "template": template("nginx:1.26", "busybox"),
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert row("deployments", d) == {
        "Name": "web",
        "Ready": "2/3",
        "Up-to-date": 3,
        "Available": 2,
        "Age": "30s",
        "Containers": "c0,c1",
        "Images": "nginx:1.26,busybox",
        "Selector": "app=web,tier=fe",
    }


def test_replicaset_row() -> None:
    assert headers("replicasets") == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    rs = {
        "metadata": meta("web-abc"),
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "beta", "operator": "DoesNotExist"},
                ],
            },
            "template": template("nginx"),
        },
        "status": {"replicas": 1},
    }
    cells = row("replicasets", rs)
    assert (cells["Desired"], cells["Current"], cells["Ready"]) == (2, 1, 0)
    assert cells["Selector"] == "app=web,!beta,env in (dev,prod)"


def test_job_rows() -> None:
    assert headers("jobs") == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    job = {
        "metadata": meta("train", age=600),
        "spec": {"completions": 3, "template": template("pytorch")},
        "status": {"succeeded": 1, "startTime": ts(500)},
    }
    cells = row("jobs", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Running", "1/3", "8m20s")
    job["status"].update(
        succeeded=3, completionTime=ts(440), conditions=[{"type": "Complete", "status": "True"}]
    )
    cells = row("jobs", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Complete", "3/3", "60s")
    failed = {
        "metadata": meta("f"),
        "spec": {"parallelism": 4},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]},
    }
    cells = row("jobs", failed)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Failed", "0/1 of 4", "")


def test_service_rows() -> None:
    assert headers("services") == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    svc = {
        "metadata": meta("web"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "selector": {"app": "web"},
            "ports": [
                {"port": 80, "protocol": "TCP", "nodePort": 30080},
                {"port": 53, "protocol": "UDP"},
            ],
        },
    }
    cells = row("services", svc)
    assert (
        cells["Type"],
        cells["Cluster-IP"],
        cells["External-IP"],
        cells["Port(s)"],
        cells["Selector"],
    ) == ("NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "app=web")
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "ports": []}}
    cells = row("services", lb)
    assert (cells["Cluster-IP"], cells["External-IP"], cells["Port(s)"], cells["Selector"]) == (
        "<none>",
        "<pending>",
        "<none>",
        "<none>",
    )


def test_config_kinds() -> None:
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row("configmaps", cm) == {"Name": "cfg", "Data": 3, "Age": "30s"}
    sec = {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "k": ""}}
    assert row("secrets", sec) == {
        "Name": "s",
        "Type": "kubernetes.io/tls",
        "Data": 2,
        "Age": "30s",
    }
    assert row("serviceaccounts", {"metadata": meta("default")})["Secrets"] == 0
    ns = {"metadata": meta("team"), "status": {"phase": "Terminating"}}
    assert row("namespaces", ns)["Status"] == "Terminating"
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "host_1"}}
    assert row("leases", lease)["Holder"] == "host_1"


def test_endpoints_cell() -> None:
    assert row("endpoints", {"metadata": meta("e")})["Endpoints"] == "<none>"
    ep = {
        "metadata": meta("e"),
        "subsets": [
            {
                "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
                "ports": [{"port": 80}, {"port": 443}],
            }
        ],
    }
    assert row("endpoints", ep)["Endpoints"] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
    headless = {"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.9"}]}]}
    assert row("endpoints", headless)["Endpoints"] == "10.0.0.9"


def test_event_row() -> None:
    assert headers("events") == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    ev = {
        "metadata": meta("web-1.abc"),
        "type": "Warning",
        "reason": "BackOff",
        "message": " Back-off restarting failed container \n",
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{a}"},
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": ts(600),
        "lastTimestamp": ts(5),
        "count": 7,
    }
    assert row("events", ev) == {
        "Last Seen": "5s",
        "Type": "Warning",
        "Reason": "BackOff",
        "Object": "pod/web-1",
        "Subobject": "spec.containers{a}",
        "Source": "kubelet, n1",
        "Message": "Back-off restarting failed container",
        "First Seen": "10m",
        "Count": 7,
        "Name": "web-1.abc",
    }
    new_style = {
        "metadata": meta("x"),
        "eventTime": "2025-06-01T11:59:00.000000Z",
        "involvedObject": {"kind": "Node"},
        "reportingComponent": "ctl",
    }
    cells = row("events", new_style)
    assert (cells["Last Seen"], cells["Object"], cells["Count"], cells["Source"]) == (
        "60s",
        "node",
        1,
        "ctl",
    )


def test_missing_timestamp_is_unknown_and_naive_now_is_utc() -> None:
    t = to_table("configmaps", [{"metadata": {"name": "x"}}], NOW.replace(tzinfo=None))
    assert t["rows"][0]["cells"][2] == "<unknown>"


def test_table_requested_parses_kubectl_accept() -> None:
    accept = (
        "application/json;as=Table;v=v1;g=meta.k8s.io,"
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    )
    assert tables.table_requested(accept) == "meta.k8s.io/v1"
    assert tables.table_requested("application/json;as=Table;v=v1beta1;g=meta.k8s.io") == (
        "meta.k8s.io/v1beta1"
    )
    assert tables.table_requested("application/json") is None
    assert tables.table_requested(None) is None
