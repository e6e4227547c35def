"""`kl why` for pods a kubelet (fake runtime) runs: an image that cannot be pulled, a
container that keeps crashing, one that failed, one running and ready. The pods name
their node, so no scheduler is needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ApiServer, Component
from tests.integration.kl_helpers import Kl, namespaced_kl
from tests.wait import wait_for

NODE = "why-node"


@pytest.fixture(scope="module")
def srv(shared_apiserver: ApiServer) -> ApiServer:
    return shared_apiserver


@pytest.fixture(scope="module")
def kubelet(srv: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Component]:
    home = tmp_path_factory.mktemp("why-kubelet")
    proc = srv.component_proc(
        "kubelet",
        *("--home", str(home), "--runtime", "fake", "--node-name", NODE),
        *("--port", "0", "--scheme", "http", "--status-report-period", "1"),
        *("--backoff-initial", "0.5", "--backoff-max", "1"),
    ).start()
    try:
        client = srv.client()

        def node_ready() -> bool:
            conds = (client.get("nodes", NODE).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)

        wait_for(node_ready, "the kubelet's node to be Ready", diagnostics=proc.log)
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def k(srv: ApiServer, kubelet: Component, request: pytest.FixtureRequest) -> Kl:
    return namespaced_kl(srv, request.node.name)


def pod(name: str, image: str, restart: str = "Always", **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeName": NODE,
            "restartPolicy": restart,
            "containers": [{"name": "main", "image": image, **container}],
        },
    }


def why_once(k: Kl, name: str, *texts: str) -> str:
    """``kl why NAME`` once its output holds every one of ``texts`` (the kubelet reports
    in steps, and its events reach the API after the status they go with)."""
    out = ""

    def says() -> bool:
        nonlocal out
        out = k("why", name).ok().out
        return all(t in out for t in texts)

    wait_for(says, f"kl why {name} to say {texts!r}", diagnostics=lambda: out)
    return out


def test_why_follows_a_pod_through_its_life(k: Kl, tmp_path: Path) -> None:
    c = k.c
    c.create("pods", pod("no-image", "lab/model-does-not-exist:v1"), k.ns)
    c.create("pods", pod("crasher", "busybox:1.36", command=["false"]), k.ns)
    c.create("pods", pod("fails", "busybox:1.36", "Never", command=["sh", "-c", "exit 3"]), k.ns)
    c.create("pods", pod("server", "nginx:1.27"), k.ns)

    out = why_once(k, "no-image", "fix: image", "last event: Warning Failed")
    assert out.startswith(f"pod {k.ns}/no-image is Pending on node {NODE}\n"), out
    assert "waiting to start:\n  container main: " in out
    assert "repository does not exist" in out
    assert "last event: Warning Failed" in out
    assert 'fix: image "lab/model-does-not-exist:v1" could not be pulled to why-node' in out
    assert "set imagePullPolicy: IfNotPresent" in out

    out = why_once(k, "crasher", "CrashLoopBackOff")
    assert "last run exited with code 1" in out
    assert "`kl logs crasher -c main --previous`" in out

    out = why_once(k, "fails", "finished: Failed")
    assert "  container main: exited with code 3 (Error)" in out
    assert "`kl logs fails -c main`" in out

    out = why_once(k, "server", "running and ready")
    assert out.startswith(f"pod {k.ns}/server is Running on node {NODE}\n"), out
    assert "running and ready: 1 of 1 containers ready" in out
