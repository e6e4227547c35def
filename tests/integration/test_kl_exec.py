"""``kl exec`` and ``kl attach`` on a fake-runtime cluster: the script form (output, exit
code, stdin with -i), the interactive form through a pseudo-terminal (prompt, window size
following two resizes, exit code), kubectl's messages when no terminal can be used, and
attach following a container's output until it ends."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.harness import REPO
from tests.integration.kl_helpers import kl
from tests.tools.terminal import Terminal
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("kl-exec") / "home") as c:
        c.add_kubelet("n1", scheme=None)  # the kubelet's own HTTPS, as in production
        c.wait_nodes_ready(timeout=60)
        yield c


def pod(cluster: Cluster, name: str, command: list[str], **extra: Any) -> None:
    c = cluster.api.client()
    container = {"name": "main", "image": "busybox", "command": command, **extra}
    c.create(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": "n1", "restartPolicy": "Never", "containers": [container]},
        },
        "default",
    )
    wait_for(
        lambda: (c.get("pods", name, "default").get("status") or {}).get("phase") == "Running",
        f"pod {name} running",
    )


def test_exec_in_scripts(cluster: Cluster) -> None:
    pod(cluster, "s", ["sleep", "infinity"])
    cfg = cluster.api.kubeconfig
    assert kl(cfg, "exec", "s", "--", "echo", "hi").ok().out == "hi\n"
    bad = kl(cfg, "exec", "s", "--", "sh", "-c", "echo partial; exit 3")
    assert (bad.rc, bad.out, bad.err) == (3, "partial\n", "command terminated with exit code 3\n")
    assert kl(cfg, "exec", "-i", "s", "--", "cat", stdin="a\nb\n").ok().out == "a\nb\n"
    # -t with stdin that is no terminal: kubectl's line, then the command as without -t.
    r = kl(cfg, "exec", "-it", "s", "--", "cat", stdin="x\n")
    assert r.ok().out == "x\n"
    assert r.err == "Unable to use a TTY - input is not a terminal or the right kind of file\n"
    assert kl(cfg, "exec", "s").one_error_line() == (
        "error: you must specify at least one command for the container"
    )


def test_exec_with_a_terminal(cluster: Cluster) -> None:
    pod(cluster, "t", ["sleep", "infinity"])
    env = {
        "KUBECONFIG": str(cluster.api.kubeconfig),
        "PYTHONPATH": str(REPO),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cluster.api.home),
    }
    term = Terminal.spawn(
        [sys.executable, "-m", "kubectl.main", "exec", "-it", "t", "--", "sh"], env
    )
    try:
        term.resize(90, 20)
        term.expect("/ # ")
        term.ask_until("stty size\r", "20 90\r\n")
        term.resize(120, 40)
        term.ask_until("stty size\r", "40 120\r\n")
        term.send("exit 5\r")
        assert term.wait() == 5
    finally:
        term.close()
    assert b"command terminated with exit code 5" in term.seen


def test_attach_follows_the_output_until_the_container_ends(cluster: Cluster) -> None:
    pod(cluster, "a", ["sh", "-c", "sleep 3; echo bye"])
    r = kl(cluster.api.kubeconfig, "attach", "a", timeout=60)
    assert (r.rc, r.out) == (0, "bye\n"), r.err
    c = cluster.api.client()
    wait_for(lambda: c.get("pods", "a", "default")["status"]["phase"] == "Succeeded", "a done")
    assert kl(cluster.api.kubeconfig, "attach", "a").one_error_line() == (
        "error: cannot attach a container in a completed pod; current phase is Succeeded"
    )
