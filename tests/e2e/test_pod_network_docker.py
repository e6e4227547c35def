"""The pod network on the real Docker engine (issue 15 item 1): node IPAM gives each node a
/24 of the cluster's range, each kubelet makes a bridge for it, every pod gets one sandbox
whose address is the pod IP and whose network namespace all its containers share; pods
reach pods on the same node and on another node of this box (two kubelets, two bridges);
hostNetwork pods report the node's address; sandboxes and bridges go with their pods.

Every address reached is on this machine: the test cluster's own range (its own /16, see
tests/cluster.py) on bridges its kubelets made, from the host or from its containers.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import Cluster, pod_cidr_of
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

NS = "default"
LABEL_SANDBOX = "io.kubelab.sandbox"


class Net:
    """A cluster with node IPAM and two Docker kubelets on this box."""

    def __init__(self, cluster: Cluster, nodes: list[str]) -> None:
        import docker

        self.cluster = cluster
        self.api = cluster.client
        self.nodes = nodes
        self.docker = docker.from_env()
        self.uid = str(self.api.get("namespaces", "kube-system")["metadata"]["uid"])

    def pod_cidr(self, node: str) -> str:
        def cidr() -> str | None:
            spec = self.api.get("nodes", node).get("spec") or {}
            return spec.get("podCIDR") or None

        return str(wait_for(cidr, f"{node}'s podCIDR", 30))

    def create(self, name: str, node: str, containers: list[dict[str, Any]], **spec: Any) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 0,
                "containers": containers,
                **spec,
            },
        }
        self.api.create("pods", body, NS)

    def running(self, name: str, timeout: float = 60) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            st = self.api.get("pods", name, NS).get("status") or {}
            statuses = st.get("containerStatuses") or []
            up = statuses and all("running" in (s.get("state") or {}) for s in statuses)
            return st if st.get("phase") == "Running" and up else None

        return dict(wait_for(ok, f"{name} running", timeout, diagnostics=self.cluster.logs))

    def engine_containers(self, pod: str) -> list[Any]:
        return list(
            self.docker.containers.list(
                all=True,
                filters={
                    "label": [f"io.kubelab.pod.name={pod}", f"io.kubelab.cluster.uid={self.uid}"]
                },
            )
        )

    def container(self, pod: str, name: str) -> Any:
        (c,) = [
            c
            for c in self.engine_containers(pod)
            if c.labels.get("io.kubelab.container.name") == name
            and c.labels.get(LABEL_SANDBOX) != "true"
        ]
        return c

    def sandboxes(self, pod: str) -> list[Any]:
        return [c for c in self.engine_containers(pod) if c.labels.get(LABEL_SANDBOX) == "true"]

    def wget(self, pod: str, container: str, url: str) -> str:
        """``wget -qO- url`` run inside the pod's container (retried until it answers).
        No ``-T``: this busybox's wget crashes with it; an address that cannot answer
        fails at once (the bridge answers, or the cluster range's unreachable route)."""

        def fetch() -> str | None:
            r = self.container(pod, container).exec_run(["sh", "-c", f"wget -qO- {url}"])
            return r.output.decode(errors="replace") if r.exit_code == 0 else None

        return str(wait_for(fetch, f"{pod} fetching {url}", 30))

    def delete(self, name: str) -> None:
        try:
            self.api.delete("pods", name, NS)
        except ApiError:
            return

        def gone() -> bool:
            try:
                self.api.get("pods", name, NS)
                return False
            except ApiError as e:
                return e.code == 404

        wait_for(gone, f"{name} deleted", 30)

    def networks(self) -> list[Any]:
        return list(
            self.docker.networks.list(filters={"label": f"io.kubelab.cluster.uid={self.uid}"})
        )


def _httpd(name: str = "web") -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        # -vv: each request's client address in the log
        "command": ["httpd", "-f", "-vv", "-p", "8080", "-h", "/www"],
        "ports": [{"containerPort": 8080}],
    }


def _sleeper(name: str = "client") -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "command": ["sleep", "3600"]}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    import docker

    ensure_busybox_image(docker.from_env())
    home = tmp_path_factory.mktemp("podnet")
    suffix = uuid.uuid4().hex[:6]
    nodes = [f"pn-a-{suffix}", f"pn-b-{suffix}"]
    cl = Cluster(home)
    n: Net | None = None
    try:
        cl.client.patch(
            "namespaces",
            NS,
            {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        )
        cl.add_controllers("--controllers", "nodeipam,endpoints", "--no-leader-elect")
        for node in nodes:
            root = Path(home) / f"root-{node}"
            cl.add_kubelet(node, "--resync-period", "2", runtime="docker", root_dir=root)
        cl.wait_nodes_ready(*nodes, timeout=60)
        n = Net(cl, nodes)
        yield n
    finally:
        if n is not None:
            for p in n.api.list("pods", NS)["items"]:
                n.delete(p["metadata"]["name"])
        cl.stop()
        if n is not None:
            for c in n.docker.containers.list(
                all=True, filters={"label": f"io.kubelab.cluster.uid={n.uid}"}
            ):
                c.remove(force=True)
            for network in n.networks():
                network.remove()


def test_each_node_gets_its_own_24_of_the_cluster_range(net: Net) -> None:
    cidrs = [net.pod_cidr(n) for n in net.nodes]
    cluster = ipaddress.ip_network(pod_cidr_of(net.cluster.api))
    nets = [ipaddress.ip_network(c) for c in cidrs]
    assert all(n.prefixlen == 24 and n.subnet_of(cluster) for n in nets)  # type: ignore[arg-type]
    assert not nets[0].overlaps(nets[1])
    node = net.api.get("nodes", net.nodes[0])
    assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]


def test_pod_ip_in_its_nodes_subnet_and_two_containers_share_it(net: Net) -> None:
    node = net.nodes[0]
    net.create("duo", node, [_httpd(), _sleeper()])
    st = net.running("duo")
    ip = st["podIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(net.pod_cidr(node))
    assert st["podIPs"] == [{"ip": ip}]
    assert st["hostIP"] != ip
    (sandbox,) = net.sandboxes("duo")
    assert sandbox.labels["io.kubelab.node"] == node
    # Both containers are in the sandbox's network namespace: localhost reaches the other.
    assert net.wget("duo", "client", "http://127.0.0.1:8080/") == "ok\n"
    for name in ("web", "client"):
        mode = net.container("duo", name).attrs["HostConfig"]["NetworkMode"]
        assert mode == f"container:{sandbox.id}"
    # No container port is published on the node without a hostPort.
    assert not net.container("duo", "web").attrs["HostConfig"].get("PortBindings")
    # The host reaches the pod at its own address (the bridge is on this box).
    net.create("peer", node, [_sleeper()])
    net.running("peer")
    assert net.wget("peer", "client", f"http://{ip}:8080/") == "ok\n"


def test_share_process_namespace_puts_the_containers_in_the_sandboxs_pids(net: Net) -> None:
    """shareProcessNamespace (what kubectl debug --copy-to asks for): each container sees
    the others' processes; without it, only its own."""
    node = net.nodes[0]
    net.create("pids", node, [_httpd(), _sleeper()], shareProcessNamespace=True)
    net.create("apart", node, [_httpd(), _sleeper()])
    for pod in ("pids", "apart"):
        net.running(pod)
    (sandbox,) = net.sandboxes("pids")
    client = net.container("pids", "client")
    assert client.attrs["HostConfig"]["PidMode"] == f"container:{sandbox.id}"
    seen = client.exec_run(["ps", "-o", "args"]).output.decode(errors="replace")
    assert "httpd" in seen, seen  # the web container's server, seen from the client's
    alone = net.container("apart", "client").exec_run(["ps", "-o", "args"]).output.decode()
    assert "httpd" not in alone, alone
    for pod in ("pids", "apart"):
        net.delete(pod)


def test_pods_on_two_bridges_of_one_box_reach_each_other(net: Net) -> None:
    a, b = net.nodes
    net.create("far-web", a, [_httpd()])
    net.create("far-client", b, [_sleeper()])
    web_ip = net.running("far-web")["podIP"]
    client_ip = net.running("far-client")["podIP"]
    assert ipaddress.ip_address(client_ip) in ipaddress.ip_network(net.pod_cidr(b))
    assert net.wget("far-client", "client", f"http://{web_ip}:8080/") == "ok\n"
    # The client's own address arrives: pod traffic within the cluster's range is not
    # masqueraded (it would be the bridge gateway's with Docker's own masquerade).
    log = net.container("far-web", "web").logs().decode(errors="replace")
    assert f"[::ffff:{client_ip}]" in log, log


def test_a_host_port_is_published_by_the_sandbox_on_the_node_address(net: Net) -> None:
    import urllib.request

    from tests.harness import free_port

    port = free_port()
    web = {**_httpd(), "ports": [{"containerPort": 8080, "hostPort": port}]}
    net.create("published", net.nodes[1], [web])
    net.running("published")
    (sandbox,) = net.sandboxes("published")
    bindings = sandbox.attrs["HostConfig"]["PortBindings"]
    assert bindings == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

    def get() -> str | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            return str(r.read().decode())

    assert wait_for(get, "the hostPort answering", 30) == "ok\n"


def test_host_network_pod_reports_the_nodes_address(net: Net) -> None:
    net.create("hostnet", net.nodes[0], [_sleeper()], hostNetwork=True)
    st = net.running("hostnet")
    assert st["podIP"] == st["hostIP"]
    assert net.sandboxes("hostnet") == []


def test_sandbox_goes_with_its_pod_and_the_bridge_with_the_cluster(net: Net) -> None:
    net.create("brief", net.nodes[1], [_sleeper()])
    net.running("brief")
    assert len(net.sandboxes("brief")) == 1
    net.delete("brief")
    # Nothing of it runs once the object is gone; the engine may still be dropping a
    # removed container's record (docker ps shows it "removing" for a moment).
    assert not [c for c in net.engine_containers("brief") if c.status == "running"]
    wait_for(lambda: net.engine_containers("brief") == [], "the engine's records gone", 15)
    # A sandbox left behind by nobody's pod is housekeeping's to remove.
    names = {n.name for n in net.networks()}
    assert len(names) == 2, names


def test_a_dead_sandbox_is_replaced_and_the_pod_restarted_in_the_new_one(net: Net) -> None:
    node = net.nodes[0]
    net.create("phoenix", node, [_httpd()])
    net.running("phoenix")
    (old,) = net.sandboxes("phoenix")
    old.kill()

    def replaced() -> dict[str, Any] | None:
        sandboxes = [c for c in net.sandboxes("phoenix") if c.status == "running"]
        st = net.api.get("pods", "phoenix", NS).get("status") or {}
        (cs,) = st.get("containerStatuses") or [{}]
        fresh = sandboxes and sandboxes[0].id != old.id
        up = "running" in (cs.get("state") or {}) and cs.get("restartCount", 0) >= 1
        return st if fresh and up and st.get("podIP") else None

    st = wait_for(replaced, "a new sandbox with the container restarted in it", 60)
    reasons = {
        e["reason"]
        for e in net.api.list("events", NS, field_selector="involvedObject.name=phoenix")["items"]
    }
    assert "SandboxChanged" in reasons
    net.create("phoenix-client", node, [_sleeper()])
    net.running("phoenix-client")
    assert net.wget("phoenix-client", "client", f"http://{st['podIP']}:8080/") == "ok\n"


def test_a_finished_pod_gives_its_sandbox_back(net: Net) -> None:
    node = net.nodes[1]
    done = {"name": "job", "image": IMAGE, "command": ["sh", "-c", "exit 0"]}
    net.create("done", node, [done], restartPolicy="Never")

    def succeeded() -> dict[str, Any] | None:
        st = net.api.get("pods", "done", NS).get("status") or {}
        return st if st.get("phase") == "Succeeded" else None

    st = wait_for(succeeded, "done Succeeded", 60)
    # Its address stays in the (final) status, but nothing holds it on the node any more:
    # a node's /24 would fill up with finished Job pods.
    assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network(net.pod_cidr(node))
    wait_for(lambda: net.sandboxes("done") == [], "the finished pod's sandbox removed", 30)
    assert len(net.engine_containers("done")) == 1  # the exited container, for its logs


def test_a_restarted_kubelet_adopts_the_sandbox(net: Net) -> None:
    node = net.nodes[0]
    net.create("keep", node, [_httpd()])
    ip = net.running("keep")["podIP"]
    before = {c.id for c in net.engine_containers("keep")}
    assert len(before) == 2  # the sandbox and the container
    net.cluster.kill(f"kubelet/{node}")
    net.cluster.start(f"kubelet/{node}", new_log=True)
    net.cluster.wait_nodes_ready(node, timeout=60)

    # A new pod on the restarted kubelet: its workers run, and the adopted pod has been
    # synced meanwhile (every 2 s, --resync-period) without replacing anything.
    net.create("keep-client", node, [_sleeper()])
    net.running("keep-client")
    assert net.wget("keep-client", "client", f"http://{ip}:8080/") == "ok\n"
    assert net.running("keep")["podIP"] == ip
    assert {c.id for c in net.engine_containers("keep")} == before


def _our_routes(net: Net) -> set[str]:
    from pyroute2 import IPRoute

    from kubelet.routes import ROUTE_PROTO

    cluster = ipaddress.ip_network(pod_cidr_of(net.cluster.api))
    with IPRoute() as ipr:
        return {
            f"{r.get('dst')}/{r['dst_len']}"
            for r in ipr.get_routes(family=2, proto=ROUTE_PROTO)
            if ipaddress.ip_network(f"{r.get('dst')}/{r['dst_len']}").subnet_of(cluster)  # type: ignore[arg-type]
        }


def _forward_rules(net: Net) -> list[str]:
    import subprocess

    lines = []
    for table, chain in (("filter", "DOCKER-USER"), ("nat", "POSTROUTING")):
        out = subprocess.run(
            ["iptables", "-w", "-t", table, "-S", chain], capture_output=True, text=True
        )
        lines += [line for line in out.stdout.splitlines() if f"kubelab {net.uid[:8]}" in line]
    return lines


def test_zz_routes_rules_and_bridges_go_when_the_kubelets_stop(net: Net) -> None:
    """Last in the module: it stops the kubelets."""
    import os

    if os.geteuid() != 0:
        pytest.skip("routes and forwarding rules need root")
    cluster = pod_cidr_of(net.cluster.api)
    # While they run: the cluster range is unreachable but for the bridges, and each
    # node's subnet may cross Docker's bridge isolation.
    assert _our_routes(net) == {cluster}
    assert len(_forward_rules(net)) == 6  # per node: accept in, accept out, masquerade
    for p in net.api.list("pods", NS)["items"]:
        net.delete(p["metadata"]["name"])
    for node in net.nodes:
        net.cluster.components[f"kubelet/{node}"].stop()
    assert net.networks() == []
    assert _forward_rules(net) == []
    assert _our_routes(net) == set()


def test_docker_network_is_idempotent_and_an_overlap_is_refused_naming_the_flag() -> None:
    import asyncio
    import random

    from kubelet.podnet import network_spec
    from kubelet.runtime.base import RuntimeError_
    from kubelet.runtime.docker import DockerRuntime

    uid = uuid.uuid4().hex
    subnet = f"10.{random.randint(64, 223)}.250.0/24"

    async def run() -> None:
        rt = await DockerRuntime.connect()
        first = network_spec(uid, "net-a", subnet)
        other = network_spec(uid, "net-b", subnet)  # another node asking for the same subnet
        try:
            await rt.ensure_network(first)
            await rt.ensure_network(first)  # already there: nothing to do
            with pytest.raises(RuntimeError_, match="--cluster-cidr"):
                await rt.ensure_network(other)
        finally:
            assert await rt.remove_network(first.name)
            assert await rt.remove_network(other.name)  # never made: gone already
            await rt.close()

    asyncio.run(run())
