"""Against the real Docker engine: a pod mounting a ConfigMap that does not exist yet makes
no container, waits in ContainerCreating with a FailedMount event, and runs with the
ConfigMap's content once it is created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def node(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    with running_node(shared_apiserver, "mnt", tmp_path_factory.mktemp("kubelet-root")) as cl:
        yield cl


def test_a_pod_waits_for_its_configmap_volume_then_runs_with_it(node: DockerNode) -> None:
    body = node.pod(
        "late-cfg",
        "exec sleep 3600",
        volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}],
    )
    body["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "late-cm"}}]
    node.create(body)

    def failed_mount() -> str | None:
        for e in node.events("late-cfg"):
            if e["reason"] == "FailedMount":
                return str(e["message"])
        return None

    message = wait_for(failed_mount, "a FailedMount event", 20)
    assert message == 'MountVolume.SetUp failed for volume "cfg" : configmap "late-cm" not found'
    assert node.status("late-cfg")["phase"] == "Pending"
    waiting = node.cstatus("late-cfg")["state"]["waiting"]
    assert waiting["reason"] == "ContainerCreating"
    # The kubelet's sandbox may exist; no container of the pod's own was made.
    assert not [c for c in node.containers("late-cfg") if "main" in c.name]
    node.api.create(
        "configmaps", {"metadata": {"name": "late-cm"}, "data": {"greeting": "hello"}}, NS
    )
    node.wait_running_ready("late-cfg", 30)
    (c,) = [c for c in node.containers("late-cfg") if "main" in c.name]
    out = c.exec_run(["cat", "/cfg/greeting"]).output.decode(errors="replace")
    assert out == "hello", out
    node.delete("late-cfg", wait=True)
