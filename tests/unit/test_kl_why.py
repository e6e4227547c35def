"""`kl why`: the explanation lines for pending and placed pods, from fixed objects."""

from __future__ import annotations

import json
from typing import Any

from kubectl.cmd.top import gpu_rows, node_rows
from kubectl.cmd.why import explain_pending, explain_placed


def gpu_pod(name: str, node: str | None = None, uuids: str = "", want: int = 2) -> dict[str, Any]:
    ann = {"kubelab.io/gpu-uuids": uuids} if uuids else {}
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ml", "annotations": ann},
        "spec": {
            "containers": [
                {
                    "name": "t",
                    "resources": {
                        "limits": {"nvidia.com/gpu": str(want)},
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                    },
                }
            ]
        },
        "status": {"phase": "Running" if node else "Pending"},
    }
    if node:
        p["spec"]["nodeName"] = node
    return p


NODE = {
    "metadata": {"name": "box-1"},
    "status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "allocatable": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2"},
        "gpus": [
            {"index": 1, "uuid": "GPU-b", "model": "H100", "memoryMiB": 81920, "health": "Healthy"},
            {
                "index": 0,
                "uuid": "GPU-a",
                "model": "H100",
                "memoryMiB": 81920,
                "health": "Healthy",
                "memoryUsedMiB": 2048,
                "utilizationPercent": 37,
            },
        ],
    },
}


def test_pending_pod_shows_each_node_and_gpu() -> None:
    p = gpu_pod("train")
    p["metadata"]["annotations"]["kubelab.io/scheduling-reasons"] = json.dumps(
        {
            "summary": "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) were unschedulable.",
            "nodes": {
                "box-1": ["1 of 2 GPUs free, pod needs 2"],
                "box-2": ["node(s) were unschedulable"],
            },
            "gpus": {"box-1": {"GPU-a": "held by ml/other", "GPU-b": "free"}},
        }
    )
    p["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    ]
    events = [
        {
            "reason": "FailedScheduling",
            "count": 3,
            "message": "0/2 nodes are available",
            "lastTimestamp": "2024-05-01T00:00:00Z",
        }
    ]
    lines = explain_pending(p, events, [NODE])
    text = "\n".join(lines)
    assert lines[0] == "pod ml/train is Pending: not scheduled yet"
    assert "it asks for 2 GPUs" in text
    assert "scheduler: 0/2 nodes are available: 1 Insufficient nvidia.com/gpu" in text
    assert "  box-1: 1 of 2 GPUs free, pod needs 2" in lines
    assert "    gpu GPU-a: held by ml/other" in lines
    assert "  box-2: node(s) were unschedulable" in lines
    assert "condition PodScheduled=False reason=Unschedulable" in text
    assert "events: FailedScheduling x3" in text


def test_pending_pod_without_scheduler_or_nodes() -> None:
    text = "\n".join(explain_pending(gpu_pod("p"), [], []))
    assert "scheduler has not reported" in text and "no nodes in the cluster" in text


def test_placed_pod_lists_its_gpus() -> None:
    lines = explain_placed(gpu_pod("train", "box-1", "GPU-a,GPU-b"), NODE, [])
    assert lines[0] == "pod ml/train is Running on node box-1"
    assert lines[1] == "  node box-1: Ready"
    assert lines[2] == "GPUs (2):"
    assert lines[3].startswith("  gpu 0  GPU-a  H100  81920MiB  Healthy")


def test_top_rows() -> None:
    holder = gpu_pod("train", "box-1", "GPU-a", want=1)
    assert node_rows([NODE], [holder]) == [["box-1", "500m", "12%", "1024Mi", "12%", "1/2"]]
    assert gpu_rows([NODE], [holder], wide=False) == [
        ["box-1", "0", "H100", "2Gi/80Gi", "37%", "Healthy", "ml/train"],
        ["box-1", "1", "H100", "-/80Gi", "-", "Healthy", "<free>"],
    ]
    finished = gpu_pod("done", "box-1", "GPU-b", want=1)
    finished["status"]["phase"] = "Succeeded"
    assert gpu_rows([NODE], [finished], wide=True)[1][-1] == "<free>"
