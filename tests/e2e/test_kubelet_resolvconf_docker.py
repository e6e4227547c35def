"""Every container of a pod sees the resolv.conf its dnsPolicy asks for (real Docker):
ClusterFirst gives the kubelet's --cluster-dns with the namespace's search path, None
gives dnsConfig alone, Default the node's file (here a --resolv-conf the test writes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer, Component
from tests.wait import wait_for

pytestmark = pytest.mark.docker

NODE_FILE = "nameserver 192.0.2.53\nsearch lab.example\noptions timeout:2\n"


class _DnsKubelet:
    """The shared apiserver, whose kubelets get the cluster DNS flags."""

    def __init__(self, srv: ApiServer, *extra: str) -> None:
        self._srv, self._extra = srv, extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._srv, name)

    def component_proc(self, name: str, *args: str) -> Component:
        return self._srv.component_proc(name, *args, *self._extra)


@pytest.fixture(scope="module")
def node(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    host = tmp_path_factory.mktemp("dns") / "resolv.conf"
    host.write_text(NODE_FILE)
    flags = ("--cluster-dns", "10.43.0.10", "--resolv-conf", str(host))
    srv = cast(ApiServer, _DnsKubelet(shared_apiserver, *flags))
    with running_node(srv, "dns", tmp_path_factory.mktemp("kubelet-root")) as cl:
        yield cl


def _resolv_conf(node: DockerNode, pod: str) -> list[str]:
    """The /etc/resolv.conf each container of ``pod`` printed, by container name."""
    node.wait_phase(pod, "Running")

    def printed() -> list[str] | None:
        out = []
        for c in node.containers(pod):
            text = c.logs().decode(errors="replace")
            if "--end--" not in text:
                return None
            out.append(text.split("--end--")[0])
        return out or None

    return wait_for(printed, f"{pod}'s containers printing resolv.conf")


SCRIPT = "cat /etc/resolv.conf; echo --end--; exec sleep 3600"


def test_cluster_first_in_every_container(node: DockerNode) -> None:
    body = node.pod("dns-cluster", SCRIPT)
    body["spec"]["containers"].append({**body["spec"]["containers"][0], "name": "side"})
    node.create(body)
    want = (
        "nameserver 10.43.0.10\n"
        f"search {NS}.svc.cluster.local svc.cluster.local cluster.local lab.example\n"
        "options ndots:5\n"
    )
    assert _resolv_conf(node, "dns-cluster") == [want, want]
    node.delete("dns-cluster", wait=True)


def test_none_and_default(node: DockerNode) -> None:
    none = node.pod("dns-none", SCRIPT)
    none["spec"]["dnsPolicy"] = "None"
    none["spec"]["dnsConfig"] = {
        "nameservers": ["192.0.2.1"],
        "searches": ["a.example"],
        "options": [{"name": "ndots", "value": "1"}],
    }
    node.create(none)
    default = node.pod("dns-default", SCRIPT)
    default["spec"]["dnsPolicy"] = "Default"
    node.create(default)
    assert _resolv_conf(node, "dns-none") == [
        "nameserver 192.0.2.1\nsearch a.example\noptions ndots:1\n"
    ]
    assert _resolv_conf(node, "dns-default") == [NODE_FILE]
    node.delete("dns-none", wait=True)
    node.delete("dns-default", wait=True)
