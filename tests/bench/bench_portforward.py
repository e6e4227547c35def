"""Port-forward throughput (issue 18: goal >= 0.5 of a direct connection for 100 MiB):
one Docker pod whose busybox httpd serves a 100 MiB file, read from this machine three
ways, in alternating rounds of the same run:

- direct: HTTP to the pod's address on the Docker bridge (the peer);
- ``kubectl port-forward pod/NAME`` (the real kubectl 1.35: SPDY/3.1 tunnelled in a
  WebSocket to the apiserver, which relays each connection over a WebSocket to the kubelet,
  which connects inside the pod's network namespace);
- ``kl port-forward`` (the WebSocket channel protocol v4.channel.k8s.io to the apiserver,
  the same relay after it).

The same client reads all three (a socket into a 1 MiB buffer, the bytes counted); the
first round warms the page cache and is dropped, the figure is the median round.

    .venv/bin/python tests/bench/bench_portforward.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.common import QUICK, Results, workdir  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

NS = "default"
MIB = 100
PORT = 8080
SERVER = (
    f"mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1M count={MIB} 2>/dev/null "
    f"&& touch /tmp/ready && exec httpd -f -p {PORT} -h /tmp/www"
)


def fetch_seconds(host: str, port: int) -> float:
    """Seconds to GET the whole file over one connection (HTTP/1.0: read to the close)."""
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(b"GET /big HTTP/1.0\r\nHost: bench\r\n\r\n")
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        got = 0
        while n := sock.recv_into(view):
            got += n
    took = time.perf_counter() - t0
    if got < MIB << 20:
        raise RuntimeError(f"read {got} bytes from {host}:{port}, not {MIB} MiB and a header")
    return took


def bridge_address(engine: Any, node: str) -> str:
    """The pod's address on the Docker bridge (its sandbox's, whose network namespace the
    containers share): without a pod network the kubelet reports the node's address as
    podIP and publishes ports, so the direct peer goes to the container itself."""
    labels = [f"io.kubelab.node={node}", "io.kubelab.pod.name=web"]
    for ctr in engine.containers.list(filters={"label": labels}):
        for net in (ctr.attrs.get("NetworkSettings") or {}).get("Networks", {}).values():
            if net.get("IPAddress"):
                return str(net["IPAddress"])
    raise RuntimeError("no bridge address for pod web: the direct peer cannot be measured")


def start_forward(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """A port-forward process and the local port it printed."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Forwarding from 127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"{argv[0]} port-forward printed {line!r}: {proc.communicate()[1]}")
    return proc, int(line.split(":")[1].split()[0])


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("portforward")
    rounds = 2 if quick else 4
    suffix = uuid.uuid4().hex[:6]
    node = f"bench-pf-{suffix}"
    wd = workdir("portforward")
    cl = Cluster(wd / "home")
    forwards: list[subprocess.Popen[str]] = []
    try:
        import docker

        from tests.e2e.images import IMAGE, ensure_busybox_image
        from tests.tools.kubectl import ensure_kubectl

        engine = docker.from_env(timeout=10)
        engine.ping()
        ensure_busybox_image(engine)
        kubectl = ensure_kubectl()
        cl.add_kubelet(node, runtime="docker", scheme=None, root_dir=wd / node)
        cl.wait_nodes_ready(timeout=60)
        c = cl.client
        ready = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}
        container = {
            "name": "web",
            "image": IMAGE,
            "command": ["sh", "-c", SERVER],
            "readinessProbe": ready,
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 0,
                "containers": [container],
            },
        }
        c.create("pods", pod, NS)
        deadline = time.monotonic() + 90
        while True:
            status = c.get("pods", "web", NS).get("status") or {}
            ready_now = any(
                x.get("type") == "Ready" and x.get("status") == "True"
                for x in status.get("conditions") or []
            )
            if ready_now and status.get("podIP"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"pod web not ready after 90 s: {status}")
            time.sleep(0.2)
        pod_ip = bridge_address(engine, node)
        env = {
            **os.environ,
            "KUBECONFIG": str(cl.api.kubeconfig),
            "PYTHONPATH": str(REPO),
            "HOME": str(wd / "kube-home"),
        }
        target = ["-n", NS, "port-forward", "pod/web", f":{PORT}"]
        kubectl_pf, kubectl_port = start_forward([str(kubectl), *target], env)
        forwards.append(kubectl_pf)
        kl_pf, kl_port = start_forward([sys.executable, "-m", "kubectl.main", *target], env)
        forwards.append(kl_pf)
        paths = {
            "direct": (pod_ip, PORT),
            "kubectl": ("127.0.0.1", kubectl_port),
            "kl": ("127.0.0.1", kl_port),
        }
        rates: dict[str, list[float]] = {name: [] for name in paths}
        for rnd in range(rounds + 1):
            for name, (host, port) in paths.items():
                try:
                    took = fetch_seconds(host, port)
                except OSError as e:
                    raise RuntimeError(f"the {name} path ({host}:{port}): {e}") from e
                if rnd > 0:  # round 0 warms the page cache and the connections' code paths
                    rates[name].append(MIB / took)
        direct = statistics.median(rates["direct"])
        for name, label in (
            ("kubectl", "kubectl port-forward pod/web (SPDY/3.1 in WebSocket)"),
            ("kl", "kl port-forward pod/web (v4.channel.k8s.io)"),
        ):
            via = statistics.median(rates[name])
            res.add(
                f"port-forward throughput, {label}, {MIB} MiB",
                round(via, 1),
                "MiB/s",
                peer=round(direct, 1),
                peer_label="HTTP to the pod's bridge address directly, same pod, same run",
                target=">= 0.5 of direct",
                met=via >= 0.5 * direct,
                stats={
                    "direct_MiBps": [round(r, 1) for r in rates["direct"]],
                    f"{name}_MiBps": [round(r, 1) for r in rates[name]],
                },
            )
        res.note(
            f"busybox httpd serving {MIB} MiB from the container's /tmp; one reader (socket into "
            f"a 1 MiB buffer) for every path; {rounds} rounds after a warm-up, median; the "
            "apiserver, kubelet, kubectl and the reader share the box's cores"
        )
    except Exception as e:  # noqa: BLE001 - a failure is reported, never hidden
        res.fail(f"port-forward benchmark: {type(e).__name__}: {e}")
    finally:
        for proc in forwards:
            proc.kill()
            proc.wait()
        cl.stop()  # also removes what the Docker kubelet left on the engine
    return res.as_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    print(json.dumps(run(args), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
