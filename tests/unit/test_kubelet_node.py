"""The Node object the kubelet registers."""

from __future__ import annotations

from kubelet.gpu import fake_gpus
from kubelet.node import NodeFacts, build_node, node_status

NOW = "2024-05-01T12:00:00Z"


def facts() -> NodeFacts:
    return NodeFacts(
        name="gpu1",
        address="10.0.0.5",
        kubelet_port=10250,
        scheme="https",
        cpu="16",
        memory="65536Ki",
        runtime_version="docker://20.10.24",
    )


def test_node_object() -> None:
    gpus = fake_gpus("2xH100-80GB", "gpu1")
    gpus[1].healthy = False
    node = build_node(facts(), gpus, now=NOW)
    meta, status = node["metadata"], node["status"]
    assert meta["labels"]["kubernetes.io/hostname"] == "gpu1"
    assert meta["labels"]["nvidia.com/gpu.count"] == "2"
    assert meta["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert meta["labels"]["nvidia.com/gpu.memory"] == "81559"
    assert meta["annotations"]["kubelab.io/kubelet-scheme"] == "https"
    assert status["capacity"] == {
        "cpu": "16",
        "memory": "65536Ki",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "2",
        "kubelab.io/gpu-memory": "163118Mi",
    }
    assert status["allocatable"]["nvidia.com/gpu"] == "1"  # the unhealthy one is not offered
    assert status["allocatable"]["kubelab.io/gpu-memory"] == "81559Mi"  # nor its memory
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert {"type": "InternalIP", "address": "10.0.0.5"} in status["addresses"]
    info = status["nodeInfo"]
    assert set(info) == {
        "machineID",
        "systemUUID",
        "bootID",
        "kernelVersion",
        "osImage",
        "containerRuntimeVersion",
        "kubeletVersion",
        "kubeProxyVersion",
        "operatingSystem",
        "architecture",
    }
    assert all(isinstance(v, str) and v for v in info.values())
    assert info["containerRuntimeVersion"] == "docker://20.10.24"
    assert [g["health"] for g in status["gpus"]] == ["Healthy", "Unhealthy"]
    assert set(status["gpus"][0]) == {"index", "uuid", "model", "memoryMiB", "health"}
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    assert conds["MemoryPressure"]["status"] == "False"


def test_runtime_down_is_not_ready_and_transition_times() -> None:
    first = node_status(facts(), [], runtime_ok=True, now=NOW)
    again = node_status(facts(), [], runtime_ok=True, now="2024-05-01T12:01:00Z", previous=first)
    ready = next(c for c in again["conditions"] if c["type"] == "Ready")
    assert (
        ready["lastTransitionTime"] == NOW and ready["lastHeartbeatTime"] == "2024-05-01T12:01:00Z"
    )
    down = node_status(facts(), [], runtime_ok=False, now="2024-05-01T12:02:00Z", previous=again)
    ready = next(c for c in down["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["lastTransitionTime"] == "2024-05-01T12:02:00Z"
    assert down["capacity"]["nvidia.com/gpu"] == "0"


def test_hollow_nodes_get_distinct_ids() -> None:
    a = NodeFacts(name="h-0", address="127.0.0.1", kubelet_port=1, hollow=True)
    b = NodeFacts(name="h-1", address="127.0.0.1", kubelet_port=1, hollow=True)
    assert a.machine_id != b.machine_id and a.system_uuid != b.system_uuid
