"""A restarted Docker kubelet against the real engine: a pod deleted while the kubelet's
start-up scan runs (after its pod informer synced, before its workers exist) still has its
containers stopped and removed. Found by the chaos soak: since the test clusters' pods
tolerate an unreachable node for only 2 s, a kubelet restart can be met by the eviction of
its pods, and those are deleted at once (grace 0)."""

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
    with running_node(shared_apiserver, "startup", tmp_path_factory.mktemp("kubelet-root")) as cl:
        yield cl


def test_pod_deleted_during_the_startup_scan_leaves_no_container(node: DockerNode) -> None:
    # `sleep` as PID 1 ignores SIGTERM, so stopping the orphan takes the scan's full 2 s
    # grace: the window in which the other pod is deleted.
    node.create(node.pod("orphaned", "exec sleep 3600", grace=0))
    node.create(node.pod("victim", "exec sleep 3600", grace=0))
    node.wait_phase("orphaned", "Running")
    node.wait_phase("victim", "Running")
    victim_ids = {c.id for c in node.containers("victim")}
    kubelet = node.kubelet
    assert kubelet is not None and victim_ids
    kubelet.kill()
    node.api.delete("pods", "orphaned", NS, grace_period_seconds=0)
    node.cluster.start(f"kubelet/{node.node}", new_log=True)
    restarted = node.kubelet
    assert restarted is not None
    wait_for(
        lambda: "removing container" in restarted.log(),
        "the start-up scan removing the orphaned pod's container",
        30,
    )
    node.api.delete("pods", "victim", NS, grace_period_seconds=0)

    def victim_removed() -> bool:
        return not any(r["Id"] in victim_ids for r in node.docker.api.containers(all=True))

    wait_for(victim_removed, "the container of the pod deleted during the scan removed", 20)
    node.cluster.wait_nodes_ready(node.node, timeout=30)
