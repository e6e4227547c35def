"""`kl logs` and `kl exec` against real containers: an apiserver and one Docker-backed
kubelet (pods are bound by name, so no scheduler is needed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer
from tests.integration.kl_helpers import Kl, namespaced_kl
from tests.wait import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def node(shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    name = f"kl-{uuid.uuid4().hex[:6]}"
    cl = Cluster.on(shared_apiserver)
    try:
        root = tmp_path_factory.mktemp("kl-kubelet")
        cl.add_kubelet(name, runtime="docker", scheme=None, root_dir=root)
        cl.wait_nodes_ready(timeout=60)
        yield name
    finally:
        cl.stop()
        for ctr in engine.containers.list(all=True, filters={"label": f"io.kubelab.node={name}"}):
            ctr.remove(force=True)


@pytest.fixture
def k(shared_apiserver: ApiServer, request: pytest.FixtureRequest) -> Iterator[Kl]:
    kl = namespaced_kl(shared_apiserver, request.node.name)
    yield kl
    kl("delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false")


def run_pod(k: Kl, node: str, name: str, script: str, policy: str = "Always") -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", script]}],
        },
    }
    k("apply", "-f", "-", stdin=yaml.safe_dump(pod)).ok()


def phase(k: Kl, name: str) -> str:
    return str((k.c.get("pods", name, k.ns).get("status") or {}).get("phase") or "")


def test_logs_tail_and_follow(k: Kl, node: str) -> None:
    run_pod(k, node, "talker", "echo hello; echo world; sleep 3600")
    wait_for(lambda: phase(k, "talker") == "Running", "talker running", 60)
    wait_for(lambda: k("logs", "talker").out == "hello\nworld\n", "two log lines", 60)
    assert k("logs", "talker", "--tail=1").ok().out == "world\n"
    stamped = k("logs", "pod/talker", "--timestamps").ok().out.splitlines()
    assert stamped[0].endswith(" hello") and stamped[0][:4].isdigit()

    run_pod(k, node, "counter", "for i in 1 2 3; do echo line$i; sleep 0.3; done", "Never")
    wait_for(lambda: phase(k, "counter") in ("Running", "Succeeded"), "counter started", 60)
    # -f returns when the container ends, with every line.
    assert k("logs", "-f", "counter", timeout=60).ok().out == "line1\nline2\nline3\n"


def test_exec_output_and_exit_code(k: Kl, node: str) -> None:
    run_pod(k, node, "shell", "sleep 3600")
    wait_for(lambda: phase(k, "shell") == "Running", "shell running", 60)
    ok = k("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2").ok()
    assert ok.out == "out\n" and ok.err == "err\n"
    bad = k("exec", "shell", "--", "sh", "-c", "echo partial; exit 3")
    assert bad.rc == 3 and bad.out == "partial\n"
    assert bad.err == "command terminated with exit code 3\n"
    assert (
        k("exec", "shell", "-c", "nope", "--", "true")
        .one_error_line()
        .startswith("error: container nope is not valid for pod shell")
    )
