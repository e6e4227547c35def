"""Tables, YAML and JSON printed the way kubectl prints them, from fixed objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml

from kubectl.printers.columns import build_rows, format_selector, pod_status
from kubectl.printers.serial import as_list, to_json, to_yaml
from kubectl.printers.table import render_table
from kubectl.printers.tabwriter import tabwrite

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def pod(name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "creationTimestamp": "2024-05-01T11:55:00Z",
            "labels": {"app": "web", "tier": "fe"},
        },
        "spec": {"nodeName": "gpu-1", "containers": [{"name": "c"}, {"name": "d"}]},
        "status": status,
    }


RUNNING = {
    "phase": "Running",
    "podIP": "127.0.0.1",
    "containerStatuses": [
        {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}},
        {
            "name": "d",
            "ready": True,
            "restartCount": 3,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}},
        },
    ],
}


def test_render_table_pads_three_spaces_and_no_trailing_space() -> None:
    text = render_table(["NAME", "AGE"], [["a", "5s"], ["longer-name", "3m"]])
    assert text == "NAME          AGE\na             5s\nlonger-name   3m\n"


def test_pod_table_golden() -> None:
    crash = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "c",
                "ready": False,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            },
            {"name": "d", "ready": True, "restartCount": 0, "state": {"running": {}}},
        ],
    }
    p3 = pod("web-2", phase="Pending")
    p3["spec"].pop("nodeName")
    p3["metadata"]["annotations"] = {}
    p1 = pod("web-0", **RUNNING)
    p1["metadata"]["annotations"] = {"kubelab.io/gpu-uuids": "GPU-aaa,GPU-bbb"}
    headers, rows = build_rows("Pod", [p1, pod("web-1", **crash), p3], wide=True, at=AT)
    # kubectl's wide columns, then kubelab's GPUS (as the apiserver's Table has them)
    assert render_table(headers, rows) == (
        "NAME    READY   STATUS             RESTARTS     AGE   IP          NODE     "
        "NOMINATED NODE   READINESS GATES   GPUS\n"
        "web-0   2/2     Running            3 (2m ago)   5m    127.0.0.1   gpu-1    "
        "<none>           <none>            GPU-aaa,GPU-bbb\n"
        "web-1   1/2     CrashLoopBackOff   5            5m    <none>      gpu-1    "
        "<none>           <none>            <none>\n"
        "web-2   0/2     Pending            0            5m    <none>      <none>   "
        "<none>           <none>            <none>\n"
    )


def test_namespace_labels_and_kind_prefix_columns() -> None:
    headers, rows = build_rows(
        "Pod",
        [pod("web-0", **RUNNING)],
        with_namespace=True,
        show_labels=True,
        name_prefix="pod/",
        at=AT,
    )
    assert headers == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    assert rows[0][0] == "default" and rows[0][1] == "pod/web-0"
    assert rows[0][-1] == "app=web,tier=fe"


def test_pod_status_special_cases() -> None:
    done = pod(
        "j",
        phase="Succeeded",
        containerStatuses=[
            {
                "name": "c",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
        ],
    )
    assert pod_status(done)[0] == "Completed"
    killed = pod(
        "k",
        phase="Failed",
        containerStatuses=[{"name": "c", "state": {"terminated": {"exitCode": 137}}}],
    )
    assert pod_status(killed)[0] == "ExitCode:137"
    deleting = pod("t", **RUNNING)
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    assert pod_status(deleting)[0] == "Terminating"
    init = pod(
        "i",
        phase="Pending",
        initContainerStatuses=[
            {"name": "setup", "state": {"waiting": {"reason": "PodInitializing"}}}
        ],
    )
    init["spec"]["initContainers"] = [{"name": "setup"}]
    assert pod_status(init)[0] == "Init:0/1"
    evicted = pod("e", phase="Failed", reason="Evicted")
    assert pod_status(evicted)[0] == "Evicted"


def test_node_table_golden() -> None:
    node = {
        "kind": "Node",
        "metadata": {
            "name": "gpu-1",
            "creationTimestamp": "2024-04-27T12:00:00Z",
            "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "nvidia.com/gpu.product": "H100-80GB",
            },
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
            "nodeInfo": {
                "kubeletVersion": "v1.35.0-kubelab",
                "osImage": "Ubuntu 24.04",
                "kernelVersion": "6.8.0",
                "containerRuntimeVersion": "docker://27.1",
            },
            "gpus": [{"index": 0, "uuid": "GPU-a"}, {"index": 1, "uuid": "GPU-b"}],
        },
    }
    cpu_only = {
        "kind": "Node",
        "metadata": {"name": "cpu-1", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    headers, rows = build_rows("Node", [node, cpu_only], wide=True, at=AT)
    assert render_table(headers, rows) == (
        "NAME    STATUS                     ROLES           AGE   VERSION           INTERNAL-IP   "
        "EXTERNAL-IP   OS-IMAGE       KERNEL-VERSION   CONTAINER-RUNTIME   GPUS\n"
        "gpu-1   Ready,SchedulingDisabled   control-plane   4d    v1.35.0-kubelab   10.0.0.5      "
        "<none>        Ubuntu 24.04   6.8.0            docker://27.1       2xH100-80GB\n"
        "cpu-1   NotReady                   <none>          3h                      <none>        "
        "<none>        <unknown>      <unknown>        <unknown>           <none>\n"
    )


def test_workload_and_service_rows() -> None:
    dep = {
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "n", "image": "nginx:1"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert build_rows("Deployment", [dep], wide=True, at=AT)[1] == [
        ["web", "2/3", "3", "2", "60m", "n", "nginx:1", "app=web"]
    ]
    job = {
        "metadata": {"name": "train", "creationTimestamp": "2024-05-01T11:50:00Z"},
        "spec": {"completions": 2},
        "status": {
            "succeeded": 2,
            "startTime": "2024-05-01T11:50:00Z",
            "completionTime": "2024-05-01T11:52:30Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert build_rows("Job", [job], at=AT)[1] == [["train", "Complete", "2/2", "2m30s", "10m"]]
    svc = {
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:59:55Z"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.3",
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "protocol": "TCP"}],
        },
    }
    assert build_rows("Service", [svc], at=AT)[1] == [
        ["web", "NodePort", "10.96.0.3", "<none>", "80:30080/TCP,443/TCP", "5s"]
    ]
    ev = {
        "metadata": {"name": "e1"},
        "type": "Warning",
        "reason": "FailedScheduling",
        "involvedObject": {"kind": "Pod", "name": "p"},
        "count": 3,
        "firstTimestamp": "2024-05-01T11:50:00Z",
        "lastTimestamp": "2024-05-01T11:59:00Z",
        "message": "0/2 nodes are available:\n 2 Insufficient nvidia.com/gpu.",
    }
    assert build_rows("Event", [ev], at=AT)[1] == [
        [
            "60s",
            "Warning",
            "FailedScheduling",
            "pod/p",
            "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
        ]
    ]
    headers, rows = build_rows("Event", [ev], wide=True, at=AT)
    assert headers == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]
    assert rows[0][4:] == [
        "",
        "<unknown>",
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
        "10m",
        "3",
        "e1",
    ]


def test_unknown_kind_gets_name_and_age() -> None:
    headers, rows = build_rows("Widget", [{"metadata": {"name": "w"}}], at=AT)
    assert headers == ["NAME", "AGE"] and rows == [["w", "<unknown>"]]


def test_format_selector() -> None:
    sel = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "gpu", "operator": "In", "values": ["h100", "a100"]},
            {"key": "x", "operator": "DoesNotExist"},
        ],
    }
    assert format_selector(sel) == "a=1,b=2,gpu in (a100,h100),!x"
    assert format_selector(None) == "<none>"


def test_yaml_sorted_double_quoted_and_block_strings() -> None:
    obj = {
        "metadata": {
            "resourceVersion": "12",
            "name": "x",
            "annotations": {"note": "line1\nline2\n"},
        },
        "apiVersion": "v1",
    }
    text = to_yaml(obj)
    assert text.splitlines()[0] == "apiVersion: v1"
    assert 'resourceVersion: "12"' in text
    assert "note: |\n      line1\n      line2\n" in text
    assert yaml.safe_load(text) == obj


def test_json_and_list() -> None:
    text = to_json(as_list([{"a": 1}]))
    assert text.endswith("\n") and '    "items": [' in text
    assert json.loads(text) == {
        "apiVersion": "v1",
        "items": [{"a": 1}],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def test_tabwriter_aligns_each_block_separately() -> None:
    text = "Name:\tweb\nNamespace:\tdefault\nContainers:\n  c:\n    Image:\tnginx\n    Restart Count:\t0\n"
    assert tabwrite(text) == (
        "Name:       web\nNamespace:  default\nContainers:\n  c:\n"
        "    Image:          nginx\n    Restart Count:  0\n"
    )
