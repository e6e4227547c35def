"""Real usage from the kernel: a container burning a core shows close to one core in the
metrics API (its cgroup's counters, read by the kubelet), an idle one next to nothing, and
both a working set above zero."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from api.quantity import bytes_value, cpu_millis
from tests import cluster as builder
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.docker


def pod(name: str, node: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": IMAGE, "command": ["sh", "-c", script]}],
        },
    }


def test_a_busy_container_uses_a_core_and_an_idle_one_none(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    import docker

    dc = docker.from_env()
    ensure_busybox_image(dc)
    node = f"usage-{uuid.uuid4().hex[:6]}"
    cl = builder.Cluster.on(shared_apiserver)
    try:
        cl.add_kubelet(
            node, "--metrics-report-period", "1", runtime="docker", scheme=None,
            root_dir=tmp_path / "kubelet",
        )  # fmt: skip
        cl.wait_nodes_ready(node, timeout=30)
        api = shared_apiserver.client()
        busy, idle = f"{node}-busy", f"{node}-idle"
        api.create("pods", pod(busy, node, "while :; do :; done"), "default")
        api.create("pods", pod(idle, node, "sleep 3600"), "default")

        def usage(name: str) -> tuple[int, int] | None:
            got = api.request(
                "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/{name}",
                raise_for_status=False,
            )  # fmt: skip
            if got.status_code != 200:
                return None
            u = got.json()["containers"][0]["usage"]
            return cpu_millis(u["cpu"]), bytes_value(u["memory"])

        def busy_enough() -> tuple[int, int] | None:
            u = usage(busy)
            return u if u and u[0] >= 500 else None  # a core, less what 2 shared cores allow

        cpu, mem = wait_for(busy_enough, "the busy container's CPU in the metrics API", 60)
        assert cpu <= 1100 and mem > 0
        idle_use = wait_for(lambda: usage(idle), "the idle container in the metrics API", 30)
        assert idle_use[0] < 100 and idle_use[1] > 0
    finally:
        cl.stop()
        for c in dc.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            c.remove(force=True)
        dc.close()
