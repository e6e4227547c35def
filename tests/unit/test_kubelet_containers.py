"""From pod spec to runtime spec: hash, labels, names, ports, limits, GPUs."""

from __future__ import annotations

import json
from typing import Any

from kubelet import containers as cs
from kubelet.runtime.base import LABEL_CONTAINER_HASH, LABEL_POD_UID, LABEL_RESTART_COUNT


def pod(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "uid": "0123456789abcdef",
            "annotations": dict(annotations),
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "img:1",
                    "command": ["sh", "-c"],
                    "args": ["echo $(GREETING)"],
                    "ports": [
                        {"containerPort": 80, "name": "http"},
                        {"containerPort": 53, "protocol": "UDP"},
                    ],
                    "livenessProbe": {"httpGet": {"port": 8081}},
                    "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                },
                {
                    "name": "side",
                    "image": "img:1",
                    "ports": [{"containerPort": 9000, "hostPort": 19000}],
                },
            ]
        },
    }


def test_spec_hash_is_stable_and_ignores_probes_and_resources() -> None:
    c = pod()["spec"]["containers"][0]
    h = cs.spec_hash(c)
    assert h == cs.spec_hash(json.loads(json.dumps(c)))
    assert cs.spec_hash({**c, "livenessProbe": {"exec": {"command": ["true"]}}}) == h
    assert cs.spec_hash({**c, "resources": {}}) == h
    assert cs.spec_hash({**c, "image": "img:2"}) != h
    assert cs.spec_hash({**c, "args": ["other"]}) != h


def test_labels_and_name() -> None:
    p = pod()
    c = p["spec"]["containers"][0]
    labels = cs.container_labels("n1", p, c, 2)
    assert labels[LABEL_POD_UID] == "0123456789abcdef"
    assert labels["io.kubelab.pod.namespace"] == "prod"
    assert labels["io.kubelab.pod.name"] == "web"
    assert labels["io.kubelab.container.name"] == "app"
    assert labels[LABEL_CONTAINER_HASH] == cs.spec_hash(c)
    assert labels[LABEL_RESTART_COUNT] == "2"
    assert labels["io.kubelab.node"] == "n1"
    assert cs.container_name(p, c, 2) == "kl_app_web_prod_01234567_2"


def test_port_plan_host_ports_reuse_and_probe_ports() -> None:
    p = pod()
    plan = cs.plan_ports(p, "127.0.0.1")
    assert set(plan) == {"app/80", "app/53", "app/8081", "side/9000"}
    assert plan["side/9000"] == 19000
    assert len(set(plan.values())) == 4
    # Recorded ports are reused (stable across kubelet restarts and container restarts).
    p2 = pod(**{cs.HOST_PORTS_ANNOTATION: json.dumps(plan)})
    assert cs.plan_ports(p2, "127.0.0.1") == plan


def test_build_spec_gpus_limits_env_and_ports() -> None:
    p = pod(**{cs.GPU_ANNOTATION: "GPU-a, GPU-b"})
    c = p["spec"]["containers"][0]
    plan = {"app/80": 31000, "app/53": 31001, "side/9000": 19000}
    spec = cs.build_spec(
        node="n1",
        address="10.0.0.5",
        pod=p,
        container=c,
        restart_count=0,
        env={"GREETING": "hi"},
        mounts=[],
        host_ports=plan,
        real_gpus=True,
    )
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "GPU-a,GPU-b"
    assert spec.gpu_uuids == ["GPU-a", "GPU-b"] and spec.real_gpus
    assert spec.nano_cpus == 500_000_000 and spec.memory_bytes == 64 * 1024 * 1024
    assert spec.command == ["sh", "-c"] and spec.args == ["echo hi"]
    assert {(m.container_port, m.host_port, m.protocol, m.host_ip) for m in spec.ports} == {
        (80, 31000, "TCP", "10.0.0.5"),
        (53, 31001, "UDP", "10.0.0.5"),
    }


def test_no_gpus_means_void_and_simulated_means_env_only() -> None:
    p = pod()
    spec = cs.build_spec(
        node="n1",
        address="a",
        pod=p,
        container=p["spec"]["containers"][1],
        restart_count=0,
        env={},
        mounts=[],
        host_ports={},
        real_gpus=True,
    )
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "void" and not spec.real_gpus
    p = pod(**{cs.GPU_ANNOTATION: "GPU-x"})
    spec = cs.build_spec(
        node="n1",
        address="a",
        pod=p,
        container=p["spec"]["containers"][1],
        restart_count=0,
        env={},
        mounts=[],
        host_ports={},
        real_gpus=False,
    )
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "GPU-x" and not spec.real_gpus
