"""``kl top gpus|nodes`` with the GPUs' measured use (NodeMetrics' ``gpus``, reported by the
kubelets): utilisation and memory per GPU next to its holder, and the nodes' GPU watts."""

from __future__ import annotations

from typing import Any

from kubectl.cmd.top import _usage_rows, gpu_rows, reported_gpus, watts

NODE: dict[str, Any] = {
    "metadata": {"name": "box"},
    "status": {
        "allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"},
        "gpus": [
            {"index": 0, "uuid": "GPU-a", "model": "H100", "memoryMiB": 81559, "health": "Healthy"},
            {"index": 1, "uuid": "GPU-b", "model": "H100", "memoryMiB": 81559, "health": "Healthy"},
        ],
    },
}
HOLDER: dict[str, Any] = {
    "metadata": {
        "name": "llm",
        "namespace": "ml",
        "annotations": {"kubelab.io/gpu-uuids": "GPU-a"},
    },
    "spec": {"nodeName": "box", "containers": [{"name": "c"}]},
    "status": {"phase": "Running"},
}
METRICS = {
    "/box": {
        "usage": {"cpu": "500m", "memory": "1Gi"},
        "gpus": [
            {"uuid": "GPU-a", "utilization": 90, "memoryUsed": "30Gi", "powerWatts": 637.0},
            {"uuid": "GPU-b", "utilization": 0, "memoryUsed": "0", "powerWatts": 70.2},
        ],
    }
}


def test_top_gpus_shows_measured_use_next_to_the_holder() -> None:
    rows = gpu_rows([NODE], [HOLDER], wide=False, measured=reported_gpus(METRICS))
    assert rows == [
        ["box", "0", "H100", "30Gi/79.6Gi", "90%", "Healthy", "ml/llm"],
        ["box", "1", "H100", "0Mi/79.6Gi", "0%", "Healthy", "<free>"],
    ]
    # Before any report: what the Node says (nothing measured yet).
    assert gpu_rows([NODE], [HOLDER], wide=False)[0][3:5] == ["-/79.6Gi", "-"]


def test_top_nodes_adds_the_gpus_watts_after_kubectls_columns() -> None:
    (row,) = _usage_rows([NODE], [HOLDER], METRICS)
    assert row == ["box", "500m", "6%", "1024Mi", "3%", "1/2", "707"]
    assert watts({"gpus": [{"uuid": "GPU-x"}]}) == "-"  # no power sensor
    assert watts(None) == "-"
    (row,) = _usage_rows([NODE], [HOLDER], {})
    assert row[-1] == "-" and row[1] == "<unknown>"
