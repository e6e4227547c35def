"""Cluster DNS from inside pods on the real Docker engine: a busybox pod (dnsPolicy
ClusterFirst, so its resolv.conf names the kube-dns ClusterIP and the namespace's search
path) resolves ``kubernetes.default`` and a Service of its own namespace by short name,
a headless Service's pod by its hostname, and a name outside the cluster through the
server's upstream. The path is the whole one: pod -> 10.43.0.10:53 -> the kubelet's
kernel DNAT -> `kubelab dns` on the node's pod-bridge address.

Every address reached is on this machine: the cluster's own bridge and ClusterIPs; the
upstream is a dnslib server on 127.0.0.1 started here (tests/e2e/cluster_dns.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver

from api.errors import ApiError
from tests.cluster import Cluster
from tests.e2e.cluster_dns import KUBELET_DNS_ARGS, cluster_dns
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import Component
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

NS = "default"
OUTSIDE = "192.0.2.7"  # TEST-NET-1: data in an answer, never contacted


class Upstream(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        if str(request.q.qname).lower() == "outside.example." and request.q.qtype == QTYPE.A:
            reply.add_answer(RR("outside.example.", QTYPE.A, rdata=A(OUTSIDE), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DnsLab:
    def __init__(self, cluster: Cluster, node: str, dns: Component) -> None:
        import docker

        self.cluster, self.node, self.dns = cluster, node, dns
        self.api = cluster.client
        self.docker = docker.from_env()
        self.uid = str(self.api.get("namespaces", "kube-system")["metadata"]["uid"])

    def pod(self, name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> None:
        body = {
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
            "spec": {
                "nodeName": self.node,
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
                **spec,
            },
        }
        self.api.create("pods", body, NS)

    def running(self, name: str) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            st = self.api.get("pods", name, NS).get("status") or {}
            return st if st.get("phase") == "Running" and st.get("podIP") else None

        return dict(wait_for(ok, f"{name} running", 60, diagnostics=self.cluster.logs))

    def endpoints(self) -> list[Any]:
        return [
            (e["metadata"]["name"], e.get("subsets"))
            for e in self.api.list("endpoints", NS)["items"]
        ]

    def container(self, pod: str) -> Any:
        (c,) = self.docker.containers.list(
            filters={
                "label": [
                    f"io.kubelab.pod.name={pod}",
                    f"io.kubelab.cluster.uid={self.uid}",
                    "io.kubelab.container.name=c",
                ]
            }
        )
        return c

    def run_until(self, pod: str, script: str, ok: Any, what: str) -> str:
        """Run ``script`` in the pod until ``ok(output)`` holds; the output."""
        last = [""]

        def done() -> str | None:
            r = self.container(pod).exec_run(["sh", "-c", script])
            last[0] = r.output.decode(errors="replace")
            return last[0] if ok(last[0]) else None

        return str(
            wait_for(
                done,
                what,
                30,
                diagnostics=lambda: (
                    f"{last[0]}\n--- endpoints: {self.endpoints()}\n--- dns log:\n{self.dns.tail()}"
                ),
            )
        )

    def lookup(self, pod: str, name: str, want: str) -> None:
        """busybox ``nslookup name`` in the pod answers exactly ``want``. (This nslookup
        applies the search path only to names without a dot, unlike libc.)"""
        self.run_until(
            pod,
            f"nslookup -type=a {name}",
            lambda out: addresses(out) == [want],
            f"{name} -> {want}",
        )


def addresses(nslookup_output: str) -> list[str]:
    """The answer addresses of busybox nslookup (after the Server/Address header)."""
    _, _, answers = nslookup_output.partition("\n\n")
    return [line.split()[-1] for line in answers.splitlines() if line.startswith("Address")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsLab]:
    import docker

    ensure_busybox_image(docker.from_env())
    home = tmp_path_factory.mktemp("dns")
    node = f"dns-{uuid.uuid4().hex[:6]}"
    cl = Cluster(home)
    lab: DnsLab | None = None
    try:
        cl.add_controllers("--controllers", "nodeipam,endpoints", "--no-leader-elect")
        cl.add_kubelet(
            node,
            "--resync-period",
            "2",
            *KUBELET_DNS_ARGS,
            runtime="docker",
            root_dir=Path(home) / "root",
        )
        cl.wait_nodes_ready(node, timeout=60)
        with cluster_dns(cl, node, Upstream()) as dns:
            lab = DnsLab(cl, node, dns)
            yield lab
            for p in lab.api.list("pods", NS)["items"]:
                try:
                    lab.api.delete("pods", p["metadata"]["name"], NS)
                except ApiError:
                    pass
    finally:
        cl.stop()
        if lab is not None:
            for c in lab.docker.containers.list(
                all=True, filters={"label": f"io.kubelab.cluster.uid={lab.uid}"}
            ):
                c.remove(force=True)
            for net in lab.docker.networks.list(
                filters={"label": f"io.kubelab.cluster.uid={lab.uid}"}
            ):
                net.remove()


def test_pods_resolve_services_by_name_through_the_cluster_dns(lab: DnsLab) -> None:
    lab.api.create(
        "services",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        NS,
    )
    web_ip = lab.api.get("services", "web", NS)["spec"]["clusterIP"]
    lab.api.create(
        "services",
        {
            "metadata": {"name": "peers"},
            "spec": {"clusterIP": "None", "selector": {"app": "peer"}, "ports": [{"port": 80}]},
        },
        NS,
    )
    lab.pod("peer", labels={"app": "peer"})
    lab.pod("client")
    peer_ip = lab.running("peer")["podIP"]
    lab.running("client")
    lab.lookup("client", "kubernetes", "10.43.0.1")
    lab.lookup("client", f"web.{NS}.svc.cluster.local", web_ip)
    lab.lookup("client", "peers", peer_ip)
    # A host name of a headless Service's endpoint (here Endpoints of the test's own, so
    # the check is the DNS's, not the endpoints controller's naming).
    lab.api.create(
        "services",
        {"metadata": {"name": "pets"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
        NS,
    )
    lab.api.create(
        "endpoints",
        {
            "metadata": {"name": "pets"},
            "subsets": [
                {"addresses": [{"ip": peer_ip, "hostname": "pet-0"}], "ports": [{"port": 80}]}
            ],
        },
        NS,
    )
    lab.lookup("client", f"pet-0.pets.{NS}.svc.cluster.local", peer_ip)
    lab.lookup("client", "outside.example", OUTSIDE)
    # libc's resolver (wget) walks the search path with ndots:5: a partial name works.
    # web has no endpoints, so the connection is refused, naming the address it resolved.
    lab.run_until(
        "client",
        "wget -qO- http://web.default/ 2>&1",
        lambda out: f"({web_ip})" in out,
        f"wget resolving web.default to {web_ip}",
    )
