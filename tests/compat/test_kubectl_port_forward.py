"""``kubectl port-forward`` (the real kubectl 1.35) on the compat cluster's fake runtime:
the SPDY/3.1 session tunnelled in WebSocket end to end (the 101 with the subprotocol,
SYN_STREAM/SYN_REPLY of the error and data streams, the error stream's message, FIN).
The fake runtime runs no processes, so the forward itself fails, readably; HTTP through
it is tests/e2e/test_exec_docker's."""

from __future__ import annotations

import socket
import subprocess

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl_exec import running_pod


def test_port_forward_reports_the_pods_error_through_the_spdy_tunnel(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "pf")
    proc = subprocess.Popen(
        [str(kubectl.binary), "-n", namespace, "port-forward", "pod/pf", ":80", "-v=6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=kubectl.env(),
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
    assert "101 Switching Protocols" in err and "negotiated protocol: portforward.k8s.io" in err
    assert "fallback to secondary dialer" not in err  # the WebSocket tunnel was used
    assert (
        "an error occurred forwarding " in err
        and "error forwarding port 80 to pod" in err
        and "the fake runtime runs no processes" in err
    ), err
