"""Housekeeping against the real engine: a running container of this cluster and node
whose pod the kubelet does not know (no informer entry, no worker) is stopped and removed
within a few resync periods, however it came to be; containers of another cluster or from
an older kubelab (no cluster label) on the same node name are left alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet.runtime.base import LABEL_CLUSTER, LABEL_NODE, LABEL_POD_UID
from tests import cluster as builder
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture()
def node(shared_apiserver: ApiServer, tmp_path: Path) -> Iterator[tuple[str, Any, str]]:
    import docker

    name = f"house-{uuid.uuid4().hex[:6]}"
    dc = docker.from_env()
    ensure_busybox_image(dc)
    cl = builder.Cluster.on(shared_apiserver)
    cl.add_kubelet(
        name,
        "--resync-period", "1",
        runtime="docker",
        scheme=None,
        root_dir=tmp_path / "kubelet",
    )  # fmt: skip
    cl.wait_nodes_ready(name, timeout=30)
    cluster_uid = shared_apiserver.client().get("namespaces", "kube-system")["metadata"]["uid"]
    try:
        yield name, dc, cluster_uid
    finally:
        cl.stop()
        for c in dc.containers.list(all=True, filters={"label": f"{LABEL_NODE}={name}"}):
            c.remove(force=True)
        dc.close()


def _run(dc: Any, node: str, **labels: str) -> str:
    c = dc.containers.run(
        IMAGE,
        ["sleep", "3600"],
        detach=True,
        labels={LABEL_NODE: node, LABEL_POD_UID: str(uuid.uuid4()), **labels},
    )
    return str(c.id)


def test_a_container_of_no_known_pod_is_removed(node: tuple[str, Any, str]) -> None:
    name, dc, cluster_uid = node
    stray = _run(dc, name, **{LABEL_CLUSTER: cluster_uid})
    other_cluster = _run(dc, name, **{LABEL_CLUSTER: str(uuid.uuid4())})
    legacy = _run(dc, name)

    def ids() -> set[str]:
        return {
            c.id for c in dc.containers.list(all=True, filters={"label": f"{LABEL_NODE}={name}"})
        }

    wait_for(lambda: stray not in ids(), "the stray container removed by housekeeping", 30)
    # The pass that removed the stray saw the other two and left them (never touched).
    assert {other_cluster, legacy} <= ids()
