"""``kubectl port-forward`` (the real kubectl 1.35) on the compat cluster's fake runtime:
the SPDY/3.1 session end to end (the 101, SYN_STREAM/SYN_REPLY of the error and data
streams, the error stream's message, FIN), both ways kubectl reaches it: tunnelled in a
WebSocket (its first choice) and over a plain ``Upgrade: SPDY/3.1`` (its fallback, and
older kubectl's only way; ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false`` makes 1.35 take it).
The fake runtime runs no processes, so the forward itself fails, readably; HTTP through
it is tests/e2e/test_exec_docker's. A refused SPDY upgrade answers a Status."""

from __future__ import annotations

import socket
import subprocess

import httpx
import pytest

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl_exec import running_pod


@pytest.mark.parametrize("websockets", ["true", "false"], ids=["ws-tunnel", "spdy-upgrade"])
def test_port_forward_reports_the_pods_error_through_spdy(
    cluster: Cluster, kubectl: Kubectl, namespace: str, websockets: str
) -> None:
    running_pod(cluster, namespace, "pf")
    proc = subprocess.Popen(
        [str(kubectl.binary), "-n", namespace, "port-forward", "pod/pf", ":80", "-v=6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**kubectl.env(), "KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets},
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1:") and line.endswith(" -> 80\n"), line
        local = int(line.split(":")[1].split()[0])
        with socket.create_connection(("127.0.0.1", local), timeout=30) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert sock.recv(10) == b""  # closed: nothing listens in a fake pod
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert "101 Switching Protocols" in err
    assert "fallback to secondary dialer" not in err  # the way asked for was the way taken
    if websockets == "true":
        assert "negotiated protocol: portforward.k8s.io" in err
    else:
        assert 'verb="POST"' in err and "tunneling_dialer" not in err
    assert (
        "an error occurred forwarding " in err
        and "error forwarding port 80 to pod" in err
        and "the fake runtime runs no processes" in err
    ), err


def test_a_refused_spdy_upgrade_answers_a_status(cluster: Cluster, namespace: str) -> None:
    api = cluster.api.client()
    upgrade = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    upgrade["X-Stream-Protocol-Version"] = "portforward.k8s.io"
    path = f"/api/v1/namespaces/{namespace}/pods/nowhere/portforward"
    r = api.request("POST", path, headers=upgrade, raise_for_status=False)
    assert r.status_code == 404, r.text
    assert r.json()["kind"] == "Status" and "nowhere" in r.json()["message"]
    # Without credentials: the 401, before anything about the pod is said.
    with httpx.Client(verify=False, base_url=api.base_url) as anonymous:
        r = anonymous.post(path, headers=upgrade)
    assert r.status_code == 401 and r.json()["kind"] == "Status", r.text
