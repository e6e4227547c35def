"""Service throughput: pod -> ClusterIP -> pod against pod -> pod direct, in the same run.

A test cluster (apiserver, controllers with node IPAM and endpoints, one Docker kubelet):
two kubelet pods on the node's pod bridge, a server whose busybox httpd serves a 256 MiB
file and a client that fetches it with wget, directly by the server's pod IP and through
the ClusterIP of a Service selecting it: the apiserver allocates the ClusterIP, the
endpoints controller writes podIP:targetPort and the kubelet's kernel proxy
(``kubelet/kernelproxy.py``, nftables DNAT) programs the path, as for any pod. Rounds
alternate the two paths; the first round is a warm-up (it also brings the file, written
in the server's container layer, into the page cache); the figure is the median. Goal
(issue 15): ClusterIP >= 0.9 of direct.

The ClusterIP is in the service range under the kubelet's own ``unreachable`` route, so
nothing for it can leave the box. Needs Docker, root and nft (skipped else).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import uuid
from typing import Any

from kubelet.kernelproxy import unavailable_reason
from kubelet.proxy_rules import table_name
from tests.bench.common import QUICK, Results, workdir
from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

MIB = 256
NAMESPACE = "default"
# The file is written before the pod turns ready, so the rules point at a server serving it.
SERVER = (
    f"mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1M count={MIB} 2>/dev/null "
    "&& touch /tmp/ready && exec httpd -f -p 9000 -h /tmp/www"
)


def _fetch_seconds(client: Any, host: str, times: int) -> float:
    """Seconds for ``times`` fetches of the file, timed inside the client (10 ms clock)."""
    script = (
        "read a b < /proc/uptime; "
        f"for i in $(seq {times}); do wget -q -O /dev/null http://{host}:9000/big || exit 1; done; "
        "read c d < /proc/uptime; echo $a $c"
    )
    code, out = client.exec_run(["sh", "-c", script])
    if code != 0:
        raise RuntimeError(f"wget from {host} failed: {out.decode(errors='replace')}")
    start, end = map(float, out.decode().split()[-2:])
    return end - start


def _pods(node: str) -> list[dict[str, Any]]:
    server = {
        "name": "c",
        "image": IMAGE,
        "command": ["sh", "-c", SERVER],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
    }
    client = {"name": "c", "image": IMAGE, "command": ["sleep", "900"]}
    return [
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 0,
                "containers": [container],
            },
        }
        for name, labels, container in (
            ("server", {"app": "big"}, server),
            ("client", {}, client),
        )
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    rounds, fetches = (2, 1) if quick else (5, 4)
    res = Results("service_throughput")
    title = "pod -> ClusterIP -> pod throughput (nftables DNAT), against pod -> pod direct"
    why = unavailable_reason("docker")
    if why:
        res.add(title, None, "MiB/s", skipped=f"kernel proxy unavailable: {why}")
        res.write()
        return res.as_dict()
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    wd = workdir("service-throughput")
    node = f"bench-svc-{uuid.uuid4().hex[:6]}"
    cl = Cluster(wd / "home")
    api = cl.client
    try:
        cl.add_controllers("--controllers", "nodeipam,endpoints", "--no-leader-elect")
        cl.add_kubelet(node, "--resync-period", "2", runtime="docker", root_dir=wd / "root")
        cl.wait_nodes_ready(node, timeout=60)
        uid = str(api.get("namespaces", "kube-system")["metadata"]["uid"])
        svc = {
            "metadata": {"name": "big"},
            "spec": {"selector": {"app": "big"}, "ports": [{"port": 9000, "targetPort": 9000}]},
        }
        cip = str(api.create("services", svc, NAMESPACE)["spec"]["clusterIP"])
        for pod in _pods(node):
            api.create("pods", pod, NAMESPACE)

        def ready(name: str) -> str | None:
            st = api.get("pods", name, NAMESPACE).get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            return st.get("podIP") if conds.get("Ready") == "True" else None

        ip = str(wait_for(lambda: ready("server"), "the server ready", 90, diagnostics=cl.logs))
        wait_for(lambda: ready("client"), "the client ready", 90, diagnostics=cl.logs)
        table = table_name(uid, node)

        def programmed() -> bool:
            nft = ["nft", "list", "table", "ip", table]
            text = subprocess.run(nft, capture_output=True, text=True).stdout
            return cip in text and f"{ip}:9000" in text

        wait_for(programmed, "the kubelet's rules for the Service", 30, diagnostics=cl.logs)
        (client,) = [
            c
            for c in engine.containers.list(
                filters={"label": ["io.kubelab.pod.name=client", f"io.kubelab.cluster.uid={uid}"]}
            )
            if c.labels.get("io.kubelab.sandbox") != "true"
        ]
        rates: dict[str, list[float]] = {"direct": [], "clusterip": []}
        for rnd in range(rounds + 1):
            for path, host in (("direct", ip), ("clusterip", cip)):
                took = _fetch_seconds(client, host, fetches)
                if rnd > 0:  # round 0 warms up
                    rates[path].append(MIB * fetches / took)
        direct = statistics.median(rates["direct"])
        via = statistics.median(rates["clusterip"])
        res.add(
            title,
            round(via),
            "MiB/s",
            peer=round(direct),
            peer_label="pod -> pod direct by pod IP, same two pods, same run",
            target=">= 0.9 of direct",
            met=via >= 0.9 * direct,
            stats={
                "direct_MiBps": [round(r) for r in rates["direct"]],
                "clusterip_MiBps": [round(r) for r in rates["clusterip"]],
            },  # fmt: skip
        )
        res.note(
            f"two kubelet pods on one node's bridge, the Service's rules the kubelet's; busybox "
            f"wget of a {MIB} MiB file x{fetches} per sample, {rounds} samples per path after "
            "a warm-up round, median; both ends share the box's cores"
        )
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for name in ("server", "client"):
            try:
                api.delete("pods", name, NAMESPACE)
            except Exception:  # noqa: BLE001 - never made, or already gone
                pass
        cl.stop()  # also removes what the Docker kubelet left on the engine
        res.write()
        shutil.rmtree(wd, ignore_errors=True)
    return res.as_dict()


if __name__ == "__main__":
    print(run(argparse.Namespace(quick=True, out=None)))
