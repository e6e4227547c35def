"""Service throughput: pod -> ClusterIP -> pod against pod -> pod direct, in the same run.

Two busybox containers on a Docker bridge of this benchmark's own (what a pod is on the
pod network: a network namespace on the node's bridge), the server's httpd serving a
256 MiB file from tmpfs, the client fetching it with wget, directly by the server's IP
and through a ClusterIP the kernel proxy (``kubelet/kernelproxy.py``, nftables DNAT)
programs for it. Rounds alternate the two paths; the first round is a warm-up; the
figure is the median. Goal (issue 15): ClusterIP >= 0.9 of direct.

The ClusterIP is in 10.43.254.0/24 under an ``unreachable`` route of this benchmark's for
its run, so nothing for it can leave the box. Needs Docker, root and nft (skipped else).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import time
import uuid
from typing import Any

from kubelet.kernelproxy import KernelProxy, unavailable_reason
from kubelet.proxy_rules import plan
from tests.bench.common import QUICK, Results
from tests.e2e.images import IMAGE, ensure_busybox_image

MIB = 256
GUARD_ROUTE = "10.43.254.0/24"
SERVER = (
    f"dd if=/dev/zero of=/www/big bs=1M count={MIB} 2>/dev/null && exec httpd -f -p 9000 -h /www"
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
    tag = uuid.uuid4().hex[:8]
    kernel = KernelProxy(f"bench-{tag}", "bench")
    route_added = subprocess.run(["ip", "route", "add", "unreachable", GUARD_ROUTE]).returncode == 0
    net = engine.networks.create(f"kpbench-{tag}", driver="bridge")
    containers: list[Any] = []
    try:
        server = engine.containers.run(
            IMAGE, ["sh", "-c", SERVER], network=net.name, detach=True,
            tmpfs={"/www": f"size={MIB + 16}m"},
        )  # fmt: skip
        containers.append(server)
        client = engine.containers.run(IMAGE, ["sleep", "900"], network=net.name, detach=True)
        containers.append(client)
        server.reload()
        ip = server.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        cip = f"10.43.254.{random.randint(2, 250)}"
        svc = {
            "metadata": {"name": "big", "namespace": "bench"},
            "spec": {"clusterIP": cip, "ports": [{"port": 9000}]},
        }
        eps = {"bench/big": {"subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 9000}]}]}}
        asyncio.run(kernel.apply(plan(kernel.cluster_uid, "bench", [svc], eps)))
        deadline = time.monotonic() + 60
        while True:  # the server writes its file before it listens
            try:
                _fetch_seconds(client, ip, 1)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
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
            peer_label="pod -> pod direct, same bridge, same run",
            target=">= 0.9 of direct",
            met=via >= 0.9 * direct,
            stats={
                "direct_MiBps": [round(r) for r in rates["direct"]],
                "clusterip_MiBps": [round(r) for r in rates["clusterip"]],
            },  # fmt: skip
        )
        res.note(
            f"busybox wget of a {MIB} MiB tmpfs file x{fetches} per sample, {rounds} samples "
            "per path after a warm-up round, median; both ends share the box's cores"
        )
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        asyncio.run(kernel.cleanup())
        for c in containers:
            c.remove(force=True)
        net.remove()
        if route_added:
            subprocess.run(["ip", "route", "del", "unreachable", GUARD_ROUTE])
        res.write()
    return res.as_dict()


if __name__ == "__main__":
    print(run(argparse.Namespace(quick=True, out=None)))
