"""Services through the real kubelet's kernel proxy (issue 15 item 2), on the real Docker
engine: pods on the node's pod bridge (NET-POD's network), a ClusterIP allocated by the
apiserver, Endpoints written by the endpoints controller, and the kubelet's nftables
table, with the cluster DNS (tests/e2e/cluster_dns.py). A client pod created after the
Service reaches both replicas by the Service's name (``wget -qO- http://web``), by its
FQDN, by ``$WEB_SERVICE_HOST:$WEB_SERVICE_PORT`` and by the ClusterIP, and each replica
by its record under a headless Service (``web-a.web-pods``, straight to the pod); a
backend reaches its own Service (hairpin); so does a pod of a second node on this box;
the host reaches the ClusterIP and the NodePort; a pod that turns not ready gets no new
connections; a deleted Service's rules go and its name stops resolving; a kubelet that
stops removes its table.

Every address reached is on this machine: the test cluster's own pod range on the bridge
its kubelet made, the service range under the kubelet's unreachable route, the node's
own addresses.
"""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet.kernelproxy import unavailable_reason
from kubelet.proxy_rules import table_name
from tests.cluster import Cluster
from tests.e2e.cluster_dns import KUBELET_DNS_ARGS, cluster_dns
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

NS = "default"
# Each replica answers with its pod name; ready while /tmp/ready exists.
WEB = "mkdir -p /www && echo $POD_NAME > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www"


class Lab:
    def __init__(self, cluster: Cluster, node: str, other_node: str) -> None:
        import docker

        self.cluster = cluster
        self.api = cluster.client
        self.node = node
        self.other_node = other_node  # a second kubelet on this box, its own bridge
        self.docker = docker.from_env()
        self.uid = str(self.api.get("namespaces", "kube-system")["metadata"]["uid"])
        self.table = table_name(self.uid, node)
        self.other_table = table_name(self.uid, other_node)

    def pod(
        self,
        name: str,
        container: dict[str, Any],
        labels: dict[str, str],
        node: str = "",
        **spec: Any,
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {
                "nodeName": node or self.node,
                "terminationGracePeriodSeconds": 0,
                "containers": [container],
                **spec,
            },
        }
        self.api.create("pods", body, NS)

    def ready(self, name: str) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            st = self.api.get("pods", name, NS).get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            return st if conds.get("Ready") == "True" else None

        return dict(wait_for(ok, f"{name} ready", 90, diagnostics=self.cluster.logs))

    def container(self, pod: str) -> Any:
        (c,) = [
            c
            for c in self.docker.containers.list(
                filters={
                    "label": [f"io.kubelab.pod.name={pod}", f"io.kubelab.cluster.uid={self.uid}"]
                }
            )
            if c.labels.get("io.kubelab.sandbox") != "true"
        ]
        return c

    def get(self, pod: str, url: str) -> str:
        """One request from inside ``pod`` (busybox wget; no ``-T``, which crashes it)."""
        r = self.container(pod).exec_run(["sh", "-c", f"wget -qO- {url}"])
        assert r.exit_code == 0, r.output
        return str(r.output.decode().strip())

    def spread(self, pod: str, url: str, n: int) -> set[str]:
        return {self.get(pod, url) for _ in range(n)}

    def answered(self, pod: str, url: str, want: str) -> None:
        """Wait until one request from ``pod`` to ``url`` answers ``want`` (the DNS server
        learns of endpoints from its informer, a moment after the kubelet's rules)."""
        last = [""]

        def ok() -> bool:
            r = self.container(pod).exec_run(["sh", "-c", f"wget -qO- {url} 2>&1"])
            last[0] = r.output.decode(errors="replace").strip()
            return r.exit_code == 0 and last[0] == want

        wait_for(ok, f"{url} from {pod} answering {want}", 30, diagnostics=lambda: last[0])

    def table_text(self, table: str = "") -> str:
        done = subprocess.run(
            ["nft", "list", "table", "ip", table or self.table], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else ""


def web(name: str) -> dict[str, Any]:
    return {
        "name": "web",
        "image": IMAGE,
        "imagePullPolicy": "Never",
        "command": ["sh", "-c", WEB],
        "env": [{"name": "POD_NAME", "value": name}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
    }


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    why = unavailable_reason("docker")
    if why:
        pytest.skip(f"kernel proxy unavailable: {why}")
    import docker

    ensure_busybox_image(docker.from_env())
    suffix = uuid.uuid4().hex[:6]
    node, other = f"kp-a-{suffix}", f"kp-b-{suffix}"
    cl = Cluster(tmp_path / "home")
    lab_: Lab | None = None
    try:
        cl.client.patch(
            "namespaces",
            NS,
            {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        )
        cl.add_controllers("--controllers", "nodeipam,endpoints", "--no-leader-elect")
        for n in (node, other):
            cl.add_kubelet(
                n,
                "--resync-period",
                "2",
                *KUBELET_DNS_ARGS,
                runtime="docker",
                root_dir=tmp_path / n,
            )
        cl.wait_nodes_ready(node, other, timeout=60)
        with cluster_dns(cl, node):
            lab_ = Lab(cl, node, other)
            yield lab_
            for p in lab_.api.list("pods", NS)["items"]:
                lab_.api.delete("pods", p["metadata"]["name"], NS)
    finally:
        cl.stop()
        if lab_ is not None:
            engine = lab_.docker
            label = f"io.kubelab.cluster.uid={lab_.uid}"
            for c in engine.containers.list(all=True, filters={"label": label}):
                c.remove(force=True)
            for network in engine.networks.list(filters={"label": label}):
                network.remove()


def test_service_through_the_kubelets_kernel_proxy(lab: Lab) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    created = lab.api.create("services", svc, NS)
    cip = created["spec"]["clusterIP"]
    node_port = created["spec"]["ports"][0]["nodePort"]
    # The replicas' own records: hostname + subdomain under a headless Service.
    headless = {
        "metadata": {"name": "web-pods"},
        "spec": {
            "clusterIP": "None",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 8080}],
        },
    }
    lab.api.create("services", headless, NS)
    # Every pod made after the Services, so their environment names them.
    for name in ("web-a", "web-b"):
        lab.pod(name, web(name), {"app": "web"}, hostname=name, subdomain="web-pods")
    sleeper = {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}
    lab.pod("client", sleeper, {})
    lab.pod("far-client", sleeper, {}, node=lab.other_node)
    for name in ("web-a", "web-b", "client", "far-client"):
        lab.ready(name)
    wait_for(
        lambda: cip in lab.table_text(), "the Service's rules", 30, diagnostics=lab.cluster.logs
    )

    # Endpoints are podIP:targetPort; the client reaches both through the ClusterIP.
    def both_endpoints() -> bool:
        eps = lab.api.get("endpoints", "web", NS)
        ips = [a["ip"] for s in eps.get("subsets") or [] for a in s.get("addresses") or []]
        tables = [lab.table_text(), lab.table_text(lab.other_table)]
        return len(ips) == 2 and all(ip in t for ip in ips for t in tables)

    wait_for(both_endpoints, "both endpoints in the rules", 30)
    assert lab.spread("client", f"http://{cip}/", 30) == {"web-a", "web-b"}
    # By name (the search path of the pod's resolv.conf), by FQDN, by the environment.
    assert lab.spread("client", "http://web/", 30) == {"web-a", "web-b"}
    assert lab.spread("client", f"http://web.{NS}.svc.cluster.local/", 30) == {"web-a", "web-b"}
    env = lab.container("client").exec_run(["sh", "-c", "echo $WEB_SERVICE_HOST:$WEB_SERVICE_PORT"])
    assert env.output.decode().strip() == f"{cip}:80"
    env_url = "http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT/"
    assert lab.spread("client", env_url, 30) == {"web-a", "web-b"}
    # A headless Service's pod records lead to the pods themselves (no DNAT: targetPort).
    lab.answered("client", "http://web-a.web-pods:8080/", "web-a")
    lab.answered("client", f"http://web-b.web-pods.{NS}.svc.cluster.local:8080/", "web-b")
    # From a pod of the other node (its own bridge, its own kubelet's table).
    assert lab.spread("far-client", f"http://{cip}/", 30) == {"web-a", "web-b"}
    # Hairpin: a backend reaching its own Service gets itself too (masqueraded).
    assert lab.spread("web-a", f"http://{cip}/", 30) == {"web-a", "web-b"}
    # From the host: the ClusterIP, and the NodePort on the bridge's gateway (this host).
    with urllib.request.urlopen(f"http://{cip}/", timeout=5) as r:
        assert r.read().decode().strip() in ("web-a", "web-b")
    client_ip = lab.api.get("pods", "client", NS)["status"]["podIP"]
    gateway = client_ip.rsplit(".", 1)[0] + ".1"
    assert lab.spread("client", f"http://{gateway}:{node_port}/", 30) == {"web-a", "web-b"}

    # web-b turns not ready: from the next sync on it gets no new connection.
    lab.container("web-b").exec_run(["rm", "/tmp/ready"])
    b_ip = lab.api.get("pods", "web-b", NS)["status"]["podIP"]
    wait_for(lambda: f"{b_ip}:8080" not in lab.table_text(), "web-b's rule removed", 30)
    assert lab.spread("client", f"http://{cip}/", 15) == {"web-a"}

    # The Service deleted: its rules go; a new connection to its address fails at once.
    lab.api.delete("services", "web", NS)
    wait_for(lambda: cip not in lab.table_text(), "the Service's rules gone", 30)
    r = lab.container("client").exec_run(["sh", "-c", f"wget -qO- http://{cip}/"])
    assert r.exit_code != 0
    # ... and its name no longer resolves (NXDOMAIN from the DNS: "bad address").
    last = [""]

    def name_gone() -> bool:
        r = lab.container("client").exec_run(["sh", "-c", "wget -qO- http://web/ 2>&1"])
        last[0] = r.output.decode(errors="replace")
        return r.exit_code != 0 and "bad address" in last[0]

    wait_for(name_gone, "web's name gone from the DNS", 30, diagnostics=lambda: last[0])

    # A kubelet that stops removes its table.
    assert lab.table_text() != ""
    lab.cluster.components[f"kubelet/{lab.node}"].stop()
    assert lab.table_text() == ""
