"""A Docker kubelet whose pod is deleted while it restarts a container killed with
`docker kill`: right after the kill (its die event has the worker syncing), once the next
instance exists, and during the crash-loop backoff after a second kill. Every time, the
pod's deletion leaves no container of it on the engine, neither at once nor after the
longest backoff (a restart planned before the deletion must not happen after it).

The first case met a race: a sync that found the pod alive awaited the runtime, the
deletion arrived meanwhile, and the view paired the deleted pod with no instance list, so
the termination removed nothing and completed the deletion (a running container would
have run on until housekeeping)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.docker

BACKOFF_MAX = 4.0  # running_node's kubelet: --backoff-initial 2 --backoff-max 4


@pytest.fixture(scope="module")
def node(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    with running_node(shared_apiserver, "killdel", tmp_path_factory.mktemp("kubelet-root")) as n:
        yield n


def _pod_containers(node: DockerNode, uid: str) -> list[str]:
    """``name (state)`` of each container of pod ``uid`` on the engine."""
    rows: list[dict[str, Any]] = node.docker.api.containers(
        all=True, filters={"label": [f"io.kubelab.pod.uid={uid}"]}
    )
    return [f"{r['Names'][0].lstrip('/')} ({r['State']})" for r in rows]


def _running_id(node: DockerNode, name: str, restarts: int) -> str | None:
    cs = node.cstatus(name)
    if cs.get("restartCount") == restarts and "running" in (cs.get("state") or {}):
        return str(cs["containerID"]).removeprefix("docker://")
    return None


def _kill_now(node: DockerNode, name: str) -> None:
    """One kill, the deletion at once: the kubelet is handling the die event."""
    cid = wait_for(lambda: _running_id(node, name, 0), f"{name} running", 20)
    node.docker.containers.get(cid).kill()


def _kill_then_wait_for_the_next(node: DockerNode, name: str) -> None:
    """One kill, the deletion once the next instance exists (created or starting)."""
    cid = wait_for(lambda: _running_id(node, name, 0), f"{name} running", 20)
    uid = node.get(name)["metadata"]["uid"]
    node.docker.containers.get(cid).kill()
    wait_for(lambda: len(_pod_containers(node, uid)) >= 2, f"{name}'s next instance", 20)


def _kill_twice(node: DockerNode, name: str) -> None:
    """Two kills, the deletion during the crash-loop backoff that follows the second."""
    cid = wait_for(lambda: _running_id(node, name, 0), f"{name} running", 20)
    node.docker.containers.get(cid).kill()
    second = wait_for(lambda: _running_id(node, name, 1), f"{name} restarted", 20)
    node.docker.containers.get(second).kill()

    def backing_off() -> bool:
        waiting = (node.cstatus(name).get("state") or {}).get("waiting") or {}
        return waiting.get("reason") == "CrashLoopBackOff"

    wait_for(backing_off, f"{name} in CrashLoopBackOff", 20)


@pytest.mark.parametrize(
    ("before_delete", "times"),
    [(_kill_now, 25), (_kill_then_wait_for_the_next, 3), (_kill_twice, 3)],
    ids=["right-after-the-kill", "next-instance-made", "during-backoff"],
)
def test_pod_deleted_while_its_killed_container_restarts_leaves_nothing(
    node: DockerNode, before_delete: Callable[[DockerNode, str], None], times: int
) -> None:
    # The race is a matter of milliseconds (the deletion arriving while the worker awaits
    # the runtime), so the cheap scenario is tried often enough to meet it.
    uids: dict[str, str] = {}
    for i in range(times):
        name = f"kd-{before_delete.__name__.strip('_').replace('_', '-')}-{i}"[:60]
        # `sleep` as PID 1 ignores SIGTERM: stopping it takes the pod's whole grace (2 s).
        node.create(node.pod(name, "exec sleep 3600"))
        node.wait_phase(name, "Running")
        uids[name] = node.get(name)["metadata"]["uid"]
        before_delete(node, name)
        node.api.delete("pods", name, NS)
        node.wait_gone(name, timeout=30)
        # The kubelet removes the containers before it completes the deletion.
        assert _pod_containers(node, uids[name]) == [], f"pod {name}: a container outlived it"
    # Proving that no restart scheduled before a deletion happens after it: wait past the
    # longest backoff the kubelet could have had pending.
    time.sleep(BACKOFF_MAX + 1.0)
    left = {n: _pod_containers(node, uid) for n, uid in uids.items()}
    assert not any(left.values()), f"containers that outlived their pods: {left}"
