"""Init containers on the real Docker engine: an init container prepares an emptyDir the
app container then serves; a failing one keeps the pod Pending, restarted with backoff;
a kubelet killed with -9 and restarted runs none of them again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def init_cluster(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    with running_node(shared_apiserver, "init", tmp_path_factory.mktemp("kubelet-init-root")) as cl:
        yield cl


def _with_init(
    cl: DockerNode, name: str, app: str, inits: list[str], **app_extra: Any
) -> dict[str, Any]:
    body = cl.pod(name, app, **app_extra)
    mount = [{"name": "site", "mountPath": "/site"}]
    body["spec"]["volumes"] = [{"name": "site", "emptyDir": {}}]
    body["spec"]["containers"][0]["volumeMounts"] = mount
    body["spec"]["initContainers"] = [
        {
            "name": f"init{i}",
            "image": cl.pod("x", "")["spec"]["containers"][0]["image"],
            "command": ["sh", "-c", script],
            "env": [{"name": "GREETING", "value": "hello from init"}],
            "volumeMounts": mount,
        }
        for i, script in enumerate(inits)
    ]
    return body


def test_init_container_fills_an_emptydir_the_app_serves(init_cluster: DockerNode) -> None:
    cl = init_cluster
    body = _with_init(
        cl,
        "site",
        "exec httpd -f -p 80 -h /site",
        [
            'echo "$GREETING" > /site/index.html; echo wrote it',
            # Runs only after init0 finished: the file is already there.
            "test -s /site/index.html && sleep 1 && echo second >> /site/index.html",
        ],
        ports=[{"containerPort": 80}],
        readinessProbe={"httpGet": {"port": 80, "path": "/"}, "periodSeconds": 1},
    )
    cl.create(body)
    st = cl.wait_running_ready("site", 30)
    inits = st["initContainerStatuses"]
    assert [s["state"]["terminated"]["exitCode"] for s in inits] == [0, 0]
    assert [s["ready"] for s in inits] == [True, True]
    # In order: init1 started after init0 finished, and the app after init1.
    assert (
        inits[0]["state"]["terminated"]["finishedAt"]
        <= inits[1]["state"]["terminated"]["startedAt"]
    )
    app_started = st["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert inits[1]["state"]["terminated"]["finishedAt"] <= app_started
    port = json.loads(cl.get("site")["metadata"]["annotations"]["kubelab.io/host-ports"])["main/80"]
    assert httpx.get(f"http://127.0.0.1:{port}/index.html").text == "hello from init\nsecond\n"
    assert cl.api.log("site", NS, container="init0") == "wrote it\n"
    every = kl(cl.srv.kubeconfig, "logs", "site", "-n", NS, "--all-containers").ok().out
    assert every.startswith("wrote it\n")  # init containers first, as kubectl prints them
    labels = {c.labels["io.kubelab.container.name"]: c.labels for c in cl.containers("site")}
    assert labels["init0"]["io.kubelab.container.init"] == "true"
    assert "io.kubelab.container.init" not in labels["main"]

    # kill -9 the kubelet and start it again: the same containers, no init rerun.
    before = {c.id for c in cl.containers("site")}
    assert cl.kubelet is not None
    cl.kubelet.kill()
    cl.start_kubelet()
    time.sleep(3)  # to prove the restarted kubelet runs no init container again
    assert {c.id for c in cl.containers("site")} == before
    st = cl.wait_running_ready("site", 10)
    assert [s["restartCount"] for s in st["initContainerStatuses"]] == [0, 0]
    cl.delete("site", wait=True)
    assert cl.containers("site") == []


def test_failing_init_container_keeps_the_pod_pending_with_restarts(
    init_cluster: DockerNode,
) -> None:
    cl = init_cluster
    cl.create(_with_init(cl, "stuck", "exec sleep 3600", ["echo failing; exit 3"]))
    reasons: set[str] = set()

    def restarted_twice() -> dict[str, Any] | None:
        st = cl.status("stuck")
        s = (st.get("initContainerStatuses") or [{}])[0]
        reasons.add(str(((s.get("state") or {}).get("waiting") or {}).get("reason")))
        assert st.get("phase") in (None, "Pending")
        return st if s.get("restartCount", 0) >= 2 else None

    # Backoff 2 s then 4 s in this kubelet: two restarts within ~10 s.
    st = wait_for(restarted_twice, "two restarts of the failing init container")
    assert "CrashLoopBackOff" in reasons
    s = st["initContainerStatuses"][0]
    last = s["lastState"].get("terminated") or s["state"].get("terminated")
    assert last["exitCode"] == 3
    app = st["containerStatuses"][0]
    assert app["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert init["status"] == "False"
    names = {c.labels["io.kubelab.container.name"] for c in cl.containers("stuck")}
    assert names == {"init0"}  # the app container was never created
    assert any(e["reason"] == "BackOff" for e in cl.events("stuck"))
    cl.delete("stuck", wait=True)
