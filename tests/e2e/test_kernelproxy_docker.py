"""The kernel Service proxy against the real kernel and Docker, without a cluster: a bridge
network and two busybox httpd backends of the test's own, rules planned for a fake
ClusterIP in 10.43.255.0/24 pointing at them, and a third container as the client.

Safety: the test installs ``unreachable 10.43.255.0/24`` for its run (as the pod network
does for the whole service range), so a packet for the fake ClusterIP that no rule
catches fails on this box instead of leaving it; every address used is this machine's own
(the bridge, its containers, the dummy interface).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubelet.kernelproxy import KernelProxy, KernelProxyError, reap_orphans, unavailable_reason
from kubelet.proxy import ServiceProxy
from kubelet.proxy_rules import plan
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer, kubelab_cmd
from tests.wait import wait_for, wait_for_async

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

GUARD_ROUTE = "10.43.255.0/24"
WEB = "mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p 8080 -h /www"


@dataclass
class Lab:
    engine: Any
    net: Any
    gateway: str
    backends: dict[str, str]  # name -> IP
    client: Any
    kernel: KernelProxy
    cluster_ip: str

    def apply(self, services: list[dict[str, Any]], endpoints: dict[str, Any]) -> None:
        kp = self.kernel
        wanted = plan(kp.cluster_uid, "n", services, endpoints, None, kp.pod_interfaces)
        asyncio.run(kp.apply(wanted))

    def get(self, host: str, port: int) -> tuple[int, str]:
        """One HTTP request from the client container: (exit code, last line). busybox nc
        with a 5 s limit (this busybox's ``wget -T`` crashes)."""
        request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}"
        code, out = self.client.exec_run(["sh", "-c", request])
        lines = out.decode(errors="replace").strip().splitlines()
        return int(code), lines[-1] if lines else ""


def service(lab: Lab, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "t"},
        "spec": {"clusterIP": lab.cluster_ip, "ports": [{"name": "http", "port": 80}], **spec},
    }


def endpoints(ips: list[str]) -> dict[str, Any]:
    return {
        "t/web": {
            "subsets": [
                {"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "http", "port": 8080}]}
            ]
        }
    }


def nft_table(table: str) -> str:
    done = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


@pytest.fixture
def lab() -> Iterator[Lab]:
    why = unavailable_reason("docker")
    if why:
        pytest.skip(f"kernel proxy unavailable: {why}")
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    tag = uuid.uuid4().hex[:8]
    labels = {"io.kubelab.test": "kernelproxy"}
    kernel = KernelProxy(f"test-{tag}", "n")
    route_added = subprocess.run(["ip", "route", "add", "unreachable", GUARD_ROUTE]).returncode == 0
    net = engine.networks.create(f"kp-{tag}", driver="bridge", labels=labels)
    containers: list[Any] = []
    try:
        net.reload()
        # As the kubelet's own pod bridge: only its containers are DNATed for ClusterIPs.
        kernel.pod_interfaces = (f"br-{net.id[:12]}",)
        gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
        backends = {}
        for name in ("alpha", "beta"):
            c = engine.containers.run(
                IMAGE,
                ["sh", "-c", WEB.format(name=name)],
                name=f"kp-{tag}-{name}",
                network=net.name,
                labels=labels,
                detach=True,
            )
            containers.append(c)
            c.reload()
            backends[name] = c.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        client = engine.containers.run(
            IMAGE, ["sleep", "600"], name=f"kp-{tag}-client", network=net.name,
            labels=labels, detach=True,
        )  # fmt: skip
        containers.append(client)
        cip = f"10.43.255.{random.randint(2, 250)}"
        lab = Lab(engine, net, gateway, backends, client, kernel, cip)
        for ip in backends.values():  # the backends answer directly before any rule
            wait_for(functools.partial(answers, lab, ip), f"{ip} answers", 30)
        yield lab
    finally:
        asyncio.run(kernel.cleanup())
        for c in containers:
            c.remove(force=True)
        net.remove()
        if route_added:
            subprocess.run(["ip", "route", "del", "unreachable", GUARD_ROUTE])


def answers(lab: Lab, ip: str) -> bool:
    return lab.get(ip, 8080)[0] == 0


def hits(lab: Lab, host: str, port: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        code, body = lab.get(host, port)
        assert code == 0, body
        out.append(body)
    return out


def test_cluster_ip_balances_over_ready_endpoints_and_rules_follow_changes(lab: Lab) -> None:
    alpha, beta = lab.backends["alpha"], lab.backends["beta"]
    cip = lab.cluster_ip
    lab.apply([service(lab)], endpoints([alpha, beta]))
    # Random choice per connection: 40 requests all on one backend has odds 2**-39.
    assert set(hits(lab, cip, 80, 40)) == {"alpha", "beta"}

    # From the host too (the ClusterIP is bound on the kubelet's dummy interface, so the
    # route lookup before nat OUTPUT finds it despite the unreachable route).
    with urllib.request.urlopen(f"http://{cip}/", timeout=5) as r:
        assert r.read().decode().strip() in ("alpha", "beta")

    # beta turns not ready: the endpoints controller drops it, and no new connection goes
    # to it.
    lab.apply([service(lab)], endpoints([alpha]))
    assert set(hits(lab, cip, 80, 15)) == {"alpha"}

    # No ready endpoint: refused at once (ICMP port unreachable), not a hang.
    lab.apply([service(lab)], endpoints([]))
    code, out = lab.get(cip, 80)
    assert code != 0 and "refused" in out.lower(), out

    # The Service deleted: its rules and its address go.
    lab.apply([], {})
    assert lab.cluster_ip not in nft_table(lab.kernel.table)
    addrs = subprocess.run(["ip", "-4", "addr", "show", "dev", lab.kernel.dev], text=True,
                           capture_output=True).stdout  # fmt: skip
    assert lab.cluster_ip not in addrs
    code, out = lab.get(cip, 80)
    assert code != 0, out

    asyncio.run(lab.kernel.cleanup())
    assert nft_table(lab.kernel.table) == ""
    assert subprocess.run(["ip", "link", "show", lab.kernel.dev]).returncode != 0


def test_node_port_on_the_node_address(lab: Lab) -> None:
    svc = service(lab, type="NodePort")
    svc["spec"]["ports"][0]["nodePort"] = 31999
    lab.apply([svc], endpoints([lab.backends["alpha"], lab.backends["beta"]]))
    # The bridge's gateway is one of this host's addresses: a NodePort answers there.
    assert set(hits(lab, lab.gateway, 31999, 40)) == {"alpha", "beta"}


def test_client_ip_affinity_sticks_to_one_endpoint_across_syncs(lab: Lab) -> None:
    svc = service(lab, sessionAffinity="ClientIP")
    both = endpoints([lab.backends["alpha"], lab.backends["beta"]])
    lab.apply([svc], both)
    [chosen] = set(hits(lab, lab.cluster_ip, 80, 20))
    # Another Service changes the table: the client's entry stays in its endpoint's set.
    other = {"metadata": {"name": "other", "namespace": "t"},
             "spec": {"clusterIP": "10.43.255.1", "ports": [{"port": 81}]}}  # fmt: skip
    lab.apply([svc, other], both)
    lab.client.reload()
    client_ip = lab.client.attrs["NetworkSettings"]["Networks"][lab.net.name]["IPAddress"]
    [member_of] = [line for line in nft_table(lab.kernel.table).splitlines() if client_ip in line]
    assert "elements" in member_of
    assert set(hits(lab, lab.cluster_ip, 80, 10)) == {chosen}


def test_service_proxy_programs_the_kernel_from_the_api(lab: Lab, apiserver: ApiServer) -> None:
    """The kubelet's proxy with the kernel path: Services and Endpoints from a real
    apiserver become rules, changes follow (debounced), and stop removes them."""
    alpha, beta = lab.backends["alpha"], lab.backends["beta"]
    cip = lab.cluster_ip

    async def spread(n: int) -> set[str]:
        return set(await asyncio.to_thread(hits, lab, cip, 80, n))

    async def scenario() -> None:
        client = apiserver.async_client()
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}
        await client.create("namespaces", ns)
        body = service(lab)
        await client.create("services", {"apiVersion": "v1", "kind": "Service", **body}, "t")
        await client.create(
            "endpoints",
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "web"},
                "subsets": endpoints([alpha, beta])["t/web"]["subsets"],
            },
            "t",
        )
        proxy = ServiceProxy(client, "127.0.0.1", node_name="n", kernel=lab.kernel)
        await proxy.start()
        try:
            await wait_for_async(
                lambda: cip in nft_table(lab.kernel.table), "the Service's rules", 20
            )
            assert await spread(40) == {"alpha", "beta"}
            # The ClusterIP is the kernel's: no userspace listener on 127.0.0.1:80.
            assert proxy.listening() == {}

            # beta turns not ready: the next sync leaves it out.
            not_ready = {"addresses": [{"ip": alpha}], "notReadyAddresses": [{"ip": beta}]}
            subsets = [{**not_ready, "ports": [{"name": "http", "port": 8080}]}]
            await client.patch("endpoints", "web", {"subsets": subsets}, "t")
            await wait_for_async(
                lambda: beta not in nft_table(lab.kernel.table), "beta's rule removed", 20
            )
            assert await spread(15) == {"alpha"}

            await client.delete("services", "web", "t")
            await wait_for_async(
                lambda: cip not in nft_table(lab.kernel.table), "the Service's rules gone", 20
            )
        finally:
            await proxy.stop()
            await client.close()
        assert nft_table(lab.kernel.table) == ""

    asyncio.run(scenario())


def test_udp_flows_follow_the_endpoints(lab: Lab) -> None:
    """UDP has no connection end: a client that keeps its source port keeps its conntrack
    entry, so without the proxy deleting it a removed endpoint would keep getting that
    client's packets. Here the endpoints are two UDP servers of the test on the bridge's
    gateway (an address of this host), the client a host socket with a fixed port."""
    servers = []
    for name in ("one", "two"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((lab.gateway, 0))
        servers.append(s)
        threading.Thread(target=echo_name, args=(s, name), daemon=True).start()
    ports = [s.getsockname()[1] for s in servers]
    svc = service(lab)
    svc["spec"]["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP"}]

    def udp_endpoints(port: int) -> dict[str, Any]:
        subsets = [{"addresses": [{"ip": lab.gateway}], "ports": [{"name": "dns", "port": port}]}]
        return {"t/web": {"subsets": subsets}}

    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    try:
        client.bind(("0.0.0.0", 0))

        def ask() -> str:
            client.sendto(b"?", (lab.cluster_ip, 53))
            return client.recv(64).decode()

        lab.apply([svc], udp_endpoints(ports[0]))
        assert ask() == "one"
        lab.apply([svc], udp_endpoints(ports[1]))  # "one" is no endpoint any more
        assert [ask() for _ in range(3)] == ["two"] * 3
    finally:
        client.close()
        for s in servers:
            s.close()


def echo_name(sock: socket.socket, name: str) -> None:
    with contextlib.suppress(OSError):  # closed at the test's end
        while True:
            _, peer = sock.recvfrom(64)
            sock.sendto(name.encode(), peer)


def test_node_port_from_outside_the_pod_bridge(lab: Lab) -> None:
    """A client that is not on the pods' bridge (as one on the LAN; here a container on a
    second Docker network, whose gateway is this host's address) reaches the NodePort:
    Docker's FORWARD policy (DROP, bridges isolated) must let the DNATed packets pass."""
    other = lab.engine.networks.create(f"{lab.net.name}-out", driver="bridge")
    outsider = None
    try:
        other.reload()
        gateway = other.attrs["IPAM"]["Config"][0]["Gateway"]
        outsider = lab.engine.containers.run(
            IMAGE, ["sleep", "600"], network=other.name, detach=True
        )
        svc = service(lab, type="NodePort")
        svc["spec"]["ports"][0]["nodePort"] = 31998
        lab.apply([svc], endpoints([lab.backends["alpha"]]))
        request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {gateway} 31998"
        code, out = outsider.exec_run(["sh", "-c", request])
        assert code == 0 and out.decode().strip().splitlines()[-1:] == ["alpha"], out
    finally:
        if outsider is not None:
            outsider.remove(force=True)
        other.remove()


KILLED_KUBELET = """
import asyncio, os, sys
from kubelet.kernelproxy import KernelProxy
from kubelet.proxy_rules import plan
kp = KernelProxy(sys.argv[1], "n")
svc = {"metadata": {"name": "w", "namespace": "t"},
       "spec": {"clusterIP": sys.argv[2], "ports": [{"port": 80}]}}
asyncio.run(kp.apply(plan(kp.cluster_uid, "n", [svc], {})))
print(kp.table, kp.dev, flush=True)
os.kill(os.getpid(), 9)  # as a crash: no clean-up
"""


def test_tables_of_a_killed_kubelet_are_reaped_at_the_next_start(lab: Lab) -> None:
    """A kubelet killed without clean-up leaves its table; the next kubelet to start (any
    cluster, any node) removes it, and never a table whose owner is alive."""
    live = lab.kernel
    lab.apply([service(lab)], endpoints([lab.backends["alpha"]]))
    done = subprocess.run(
        [sys.executable, "-c", KILLED_KUBELET, f"dead-{uuid.uuid4().hex[:8]}", "10.43.255.1"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == -9, done.stderr
    table, dev = done.stdout.split()
    assert "10.43.255.1" in nft_table(table)
    try:
        assert table in asyncio.run(reap_orphans(keep="kubelab-none"))
        assert nft_table(table) == ""
        assert subprocess.run(["ip", "link", "show", dev], capture_output=True).returncode != 0
        assert lab.cluster_ip in nft_table(live.table)  # this process's: alive
    finally:
        asyncio.run(KernelProxy("", "", table).cleanup())


def test_hairpin_an_endpoint_reaches_its_own_service(lab: Lab) -> None:
    """An endpoint's connection through its own Service may be DNATed back to itself: it
    is masqueraded so the reply returns through the host's conntrack."""
    alpha, beta = lab.backends["alpha"], lab.backends["beta"]
    kp = lab.kernel
    cidr = lab.net.attrs["IPAM"]["Config"][0]["Subnet"]
    wanted = plan(kp.cluster_uid, "n", [service(lab)], endpoints([alpha, beta]), cidr,
                  kp.pod_interfaces)  # fmt: skip
    asyncio.run(kp.apply(wanted))
    c = lab.engine.containers.get(f"{lab.net.name}-alpha")
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {lab.cluster_ip} 80"
    seen = set()
    for _ in range(30):
        code, out = c.exec_run(["sh", "-c", request])
        assert code == 0, out
        seen.add(out.decode().strip().splitlines()[-1])
    assert seen == {"alpha", "beta"}


def test_cleanup_proxy_flag_removes_this_nodes_rules(lab: Lab, apiserver: ApiServer) -> None:
    """``kubelab kubelet --cleanup-proxy``: the table, interface and DOCKER-USER rule of
    this cluster's node go; another cluster's table (here the lab's) stays."""
    uid = apiserver.client().get("namespaces", "kube-system")["metadata"]["uid"]
    node = f"gone-{uuid.uuid4().hex[:6]}"
    kp = KernelProxy(uid, node)
    lab.apply([service(lab)], endpoints([lab.backends["alpha"]]))
    asyncio.run(kp.apply(plan(uid, node, [service(lab)], endpoints([lab.backends["beta"]]))))
    try:
        assert lab.cluster_ip in nft_table(kp.table)
        done = subprocess.run(
            kubelab_cmd("kubelet", "--kubeconfig", str(apiserver.kubeconfig), "--node-name",
                        node, "--cleanup-proxy"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"removed kernel Service rules ({kp.table}, {kp.dev})"
        assert nft_table(kp.table) == ""
        assert subprocess.run(["ip", "link", "show", kp.dev], capture_output=True).returncode
        rules = subprocess.run(["iptables", "-w", "-S", "DOCKER-USER"], capture_output=True,
                               text=True).stdout  # fmt: skip
        assert kp.table not in rules and lab.kernel.table in rules
        assert lab.cluster_ip in nft_table(lab.kernel.table)
    finally:
        asyncio.run(kp.cleanup())


def test_a_table_deleted_by_hand_comes_back_at_the_next_sync(lab: Lab) -> None:
    same = endpoints([lab.backends["alpha"]])
    lab.apply([service(lab)], same)
    subprocess.run(["nft", "delete", "table", "ip", lab.kernel.table], check=True)
    # Nothing changed in the API: the periodic check finds the table gone and remakes it.
    lab.apply([service(lab)], same)
    assert set(hits(lab, lab.cluster_ip, 80, 3)) == {"alpha"}
    subprocess.run(["nft", "delete", "table", "ip", lab.kernel.table], check=True)
    moved = endpoints([lab.backends["beta"]])
    with pytest.raises(KernelProxyError):  # the flush finds no table: said, not hidden
        lab.apply([service(lab)], moved)
    lab.apply([service(lab)], moved)  # the retry replaces the table whole
    assert set(hits(lab, lab.cluster_ip, 80, 5)) == {"beta"}
