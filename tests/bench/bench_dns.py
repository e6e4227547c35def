"""Cluster DNS lookup latency: `kubelab dns` (its own process, its own identity) on a real
apiserver with 1,000 Services, asked 100,000 A queries for random Services one after
another over UDP, from a separate process on this box's loopback.

Issue 15's figure is from inside a pod (goal p99 <= 2 ms, no lookup over 1 s); until the
pod network reaches this benchmark the line is measured from the host, which leaves out
only the bridge and the ClusterIP DNAT in front of the same server. The same run also
times the queries that are forwarded (to a dnslib upstream on 127.0.0.1 started here).
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from tests.bench.common import QUICK, Results, percentiles, workdir
from tests.harness import Component, free_port, start_apiserver
from tests.wait import wait_for

SERVICES = 1000
NAMESPACE = "bench-dns"

# The load process: serial UDP queries, one socket, a latency per query (seconds).
CLIENT = r"""
import random, socket, sys, time, json
import dns.message
port, n, names = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
wires = [dns.message.make_query(name, "A").to_wire() for name in names]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
lat, lost = [], 0
for i in range(n):
    q = wires[random.randrange(len(wires))]
    t = time.perf_counter()
    s.sendto(q, ("127.0.0.1", port))
    try:
        s.recv(4096)
    except socket.timeout:
        lost += 1
        continue
    lat.append(time.perf_counter() - t)
print(json.dumps({"lat": lat, "lost": lost}))
"""


def _load(port: int, n: int, names: list[str]) -> tuple[list[float], int]:
    import json

    r = subprocess.run(
        [sys.executable, "-c", CLIENT, str(port), str(n), ",".join(names)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(r.stdout)
    return list(out["lat"]), int(out["lost"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dnslib import QTYPE, RR, A
    from dnslib.server import BaseResolver, DNSServer

    quick = bool(getattr(args, "quick", False)) or QUICK
    n = 10_000 if quick else 100_000
    res = Results("dns")
    wd = workdir("dns")
    srv = start_apiserver(wd / "home")

    class Upstream(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: Any, handler: Any) -> Any:
            reply = request.reply()
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.7"), ttl=60))
            return reply

    up_port = free_port()
    upstream = DNSServer(Upstream(), port=up_port, address="127.0.0.1")
    upstream.start_thread()
    dns_srv: Component | None = None
    try:
        c = srv.client()
        c.create("namespaces", {"metadata": {"name": NAMESPACE}})
        for i in range(SERVICES):
            body = {
                "metadata": {"name": f"s{i}"},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            }
            c.create("services", body, NAMESPACE)
        c.close()
        port = free_port()
        dns_srv = Component(
            [
                "dns",
                "--kubeconfig",
                str(srv.home / "dns.kubeconfig"),
                "--port",
                str(port),
                "--no-publish",
                "--upstream",
                f"127.0.0.1:{up_port}",
            ],
            srv.home,
            srv.home / "logs" / "dns.log",
        ).start()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.settimeout(0.5)
        wait_for(
            lambda: (
                dns_srv is not None
                and (dns_srv.check_alive() or "serving cluster.local" in dns_srv.log())
            ),
            "the DNS server serving",
            60,
        )
        names = [
            f"s{i}.{NAMESPACE}.svc.cluster.local." for i in random.sample(range(SERVICES), 200)
        ]
        _load(port, 2000, names)  # warm-up
        t0 = time.perf_counter()
        lat, lost = _load(port, n, names)
        took = time.perf_counter() - t0
        p = percentiles(lat)
        over_1s = lost + sum(1 for x in lat if x > 1.0)
        res.add(
            f"DNS A lookup p99, {n:,} serial UDP queries, {SERVICES:,} Services (from the host)",
            round(p["p99"] * 1000, 3),
            "ms",
            target="<= 2 ms, no lookup over 1 s",
            met=p["p99"] <= 0.002 and over_1s == 0,
            higher_is_better=False,
            stats={f"{k}_ms": round(v * 1000, 3) for k, v in p.items() if k != "n"}
            | {"queries": n, "lost_or_over_1s": over_1s, "qps": round(n / took)},
        )
        fwd, fwd_lost = _load(port, n // 10, ["outside.example."])
        pf = percentiles(fwd)
        res.add(
            f"DNS forwarded lookup p99, {n // 10:,} queries to a 127.0.0.1 upstream",
            round(pf["p99"] * 1000, 3),
            "ms",
            higher_is_better=False,
            stats={f"{k}_ms": round(v * 1000, 3) for k, v in pf.items() if k != "n"}
            | {"lost": fwd_lost},
        )
        res.note(
            "from the host's loopback, not yet from inside a pod (the pod network's line "
            "will add the bridge and the ClusterIP DNAT)"
        )
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if dns_srv is not None:
            dns_srv.stop()
        upstream.stop()
        srv.stop()
        res.write()
        shutil.rmtree(wd, ignore_errors=True)
    return res.as_dict()


if __name__ == "__main__":
    print(run(argparse.Namespace(quick=True, out=None)))
