"""`kl logs --since / --limit-bytes` and the log API's sinceSeconds / limitBytes, through
the apiserver to the kubelet and the real Docker engine."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.errors import ApiError
from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def log_cluster(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    with running_node(shared_apiserver, "logs", tmp_path_factory.mktemp("kubelet-logs-root")) as cl:
        yield cl


def test_logs_since_and_limit_bytes(log_cluster: DockerNode) -> None:
    cl = log_cluster
    cl.create(cl.pod("talker", "echo early-line; sleep 4; echo late-line; exec sleep 3600"))
    wait_for(lambda: "late-line" in cl.api.log("talker", NS), "both lines")
    # early-line is ~4 s old, late-line fresh: a 2 s window holds only the late one.
    assert cl.api.log("talker", NS, since_seconds=2) == "late-line\n"
    assert cl.api.log("talker", NS, since_seconds=60) == "early-line\nlate-line\n"
    assert cl.api.log("talker", NS, limit_bytes=5) == "early"
    assert cl.api.log("talker", NS, tail_lines=1, limit_bytes=4) == "late"
    # Following with a byte limit ends the stream at the limit instead of waiting.
    started = time.monotonic()
    lines = list(cl.api.stream_log("talker", NS, follow=True, limit_bytes=8))
    assert "".join(lines).startswith("early-li") and time.monotonic() - started < 5
    with pytest.raises(ApiError) as err:
        cl.api.log("talker", NS, since_seconds=0)
    assert err.value.code == 400 and "sinceSeconds" in str(err.value)

    kubeconfig = cl.srv.kubeconfig
    assert kl(kubeconfig, "logs", "talker", "-n", NS, "--since=2s").ok().out == "late-line\n"
    assert kl(kubeconfig, "logs", "talker", "-n", NS, "--limit-bytes=5").ok().out == "early"
    bad = kl(kubeconfig, "logs", "talker", "-n", NS, "--since=soon")
    assert bad.rc != 0 and "invalid duration" in bad.err
    cl.delete("talker")
