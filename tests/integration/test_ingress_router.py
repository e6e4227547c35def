"""The kubelet's Ingress router against a real apiserver, controller manager and a
fake-runtime kubelet: Ingress -> Service -> Endpoints pointing at small HTTP servers this
test starts on 127.0.0.1 (the fake runtime runs no containers). Host and path routing,
404 for no rule, 503 for no ready endpoint, TLS by SNI from a kubernetes.io/tls Secret,
the built-in default class, and status.loadBalancer filled with the node's address."""

from __future__ import annotations

import base64
import datetime
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import connect as ws_connect
from websockets.sync.server import ServerConnection
from websockets.sync.server import serve as ws_serve

from tests.cluster import Cluster
from tests.harness import free_port
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


class _Backend(http.server.ThreadingHTTPServer):
    name = ""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = f"{self.server.name} {self.path} {self.headers.get('Host')} " + str(  # type: ignore[attr-defined]
            self.headers.get("X-Forwarded-Proto")
        )
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        data = b"got " + self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_a: Any) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[dict[str, int]]:
    servers = []
    ports: dict[str, int] = {}
    for name in ("chat", "api", "docs"):
        srv = _Backend(("127.0.0.1", 0), _Handler)
        srv.name = name
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        ports[name] = srv.server_address[1]

    def echo(conn: ServerConnection) -> None:
        for message in conn:
            conn.send(f"echo {message} on {conn.request.path if conn.request else ''}")

    ws = ws_serve(echo, "127.0.0.1", 0)
    threading.Thread(target=ws.serve_forever, daemon=True).start()
    ports["ws"] = ws.socket.getsockname()[1]
    yield ports
    ws.shutdown()
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _service(name: str, port: int) -> dict[str, Any]:
    # Selector-less: its Endpoints are the test's to write (the controller leaves them).
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]},
    }


def _endpoints(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": port}]}
        ],
    }


def _cert(host: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _path(path: str, svc: str, path_type: str = "Prefix") -> dict[str, Any]:
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": svc, "port": {"number": 80}}},
    }


def test_router_routes_by_host_and_path_with_tls_and_status(
    tmp_path: Path, backends: dict[str, int]
) -> None:
    http_port, https_port = free_port(), free_port()
    cert_pem, key_pem = _cert("chat.lab.test")
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers()
        cl.add_kubelet(
            "box-a",
            "--ingress-http-port",
            str(http_port),
            "--ingress-https-port",
            str(https_port),
        )
        cl.wait_nodes_ready("box-a")
        c = cl.api.client()
        # The built-in class exists and is the default.
        kubelab = c.get("ingressclasses", "kubelab")
        assert kubelab["spec"]["controller"] == "kubelab.io/ingress-router"
        assert (
            kubelab["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"]
            == "true"
        )
        for name, port in backends.items():
            c.create("services", _service(name, port), "default")
            c.create("endpoints", _endpoints(name, port), "default")
        c.create("services", _service("empty", 1), "default")  # no Endpoints at all
        c.create(
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "chat-tls"},
                "type": "kubernetes.io/tls",
                "data": {
                    "tls.crt": base64.b64encode(cert_pem).decode(),
                    "tls.key": base64.b64encode(key_pem).decode(),
                },
            },
            "default",
        )
        c.create(
            "ingresses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "lab"},  # no class: admission gives it kubelab
                "spec": {
                    "tls": [{"hosts": ["chat.lab.test"], "secretName": "chat-tls"}],
                    "rules": [
                        {
                            "host": "chat.lab.test",
                            "http": {
                                "paths": [
                                    # As the Open WebUI chart renders it (ingress.enabled):
                                    # Prefix "/", the Service port by name.
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {"name": "chat", "port": {"name": "http"}}
                                        },
                                    },
                                    _path("/api", "api"),
                                    _path("/api/exact", "docs", "Exact"),
                                ]
                            },
                        },
                        {"host": "*.docs.test", "http": {"paths": [_path("/", "docs")]}},
                        {"host": "down.test", "http": {"paths": [_path("/", "empty")]}},
                        {"host": "ws.lab.test", "http": {"paths": [_path("/socket", "ws")]}},
                    ],
                },
            },
            "default",
        )
        base = f"http://127.0.0.1:{http_port}"

        def get(host: str, path: str) -> httpx.Response:
            return httpx.get(base + path, headers={"Host": host}, timeout=5, trust_env=False)

        def routed() -> bool:
            try:
                return get("chat.lab.test", "/").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(routed, "the router serving the Ingress", 60)
        assert get("chat.lab.test", "/c/1?x=y").text == "chat /c/1?x=y chat.lab.test http"
        assert get("chat.lab.test", "/api/v1").text.startswith("api /api/v1 ")
        assert get("chat.lab.test", "/apiary").text.startswith("chat /apiary ")
        assert get("chat.lab.test", "/api/exact").text.startswith("docs /api/exact ")
        assert get("a.docs.test", "/x").text.startswith("docs /x a.docs.test")
        post = httpx.post(
            base + "/api/upload",
            headers={"Host": "chat.lab.test"},
            content=b"payload",
            timeout=5,
            trust_env=False,
        )
        assert (post.status_code, post.text) == (201, "got payload")
        for host in ("docs.test", "a.b.docs.test", "nobody.test"):
            miss = get(host, "/")
            assert miss.status_code == 404, host
            assert "no Ingress rule matches" in miss.text
        down = get("down.test", "/")
        assert down.status_code == 503 and "no ready endpoint" in down.text

        # A WebSocket is relayed message by message (Open WebUI's socket.io uses one).
        with ws_connect(
            f"ws://ws.lab.test:{http_port}/socket/io?x=1",
            sock=socket.create_connection(("127.0.0.1", http_port), timeout=5),
            open_timeout=5,
        ) as conn:
            conn.send("hello")
            assert conn.recv(timeout=5) == "echo hello on /socket/io?x=1"
            conn.send("again")
            assert conn.recv(timeout=5) == "echo again on /socket/io?x=1"

        # HTTPS: the Secret's certificate for its host (verified against it, by SNI).
        ctx = ssl.create_default_context(cadata=cert_pem.decode())

        def https_get(host: str, path: str) -> httpx.Response:
            with httpx.Client(verify=ctx, timeout=5, trust_env=False) as tls:
                return tls.get(
                    f"https://127.0.0.1:{https_port}{path}",
                    headers={"Host": host},
                    extensions={"sni_hostname": host},  # as curl --resolve does
                )

        def get_tls() -> httpx.Response | None:
            try:
                return https_get("chat.lab.test", "/api/x")
            except httpx.HTTPError:
                return None  # the router has not fetched the Secret yet

        def served_tls() -> bool:
            r = get_tls()
            return r is not None and r.status_code == 200

        wait_for(served_tls, "the TLS Secret served by SNI", 60)
        r = get_tls()
        assert r is not None and r.text == "api /api/x chat.lab.test https"
        # Another server name gets the router's own certificate, not the Secret's.
        with pytest.raises(httpx.ConnectError):
            https_get("other.test", "/")

        # status.loadBalancer: the Ready node's address (the fake kubelet's 127.0.0.1).
        def lb() -> list[Any]:
            st = c.get("ingresses", "lab", "default").get("status") or {}
            return list((st.get("loadBalancer") or {}).get("ingress") or [])

        wait_for(lambda: lb() == [{"ip": "127.0.0.1"}], "the Ingress's load balancer address", 30)

        # Another controller's class: not served by this router, no status from us.
        c.create(
            "ingressclasses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": "nginx"},
                "spec": {"controller": "k8s.io/ingress-nginx"},
            },
        )
        c.patch("ingresses", "lab", {"spec": {"ingressClassName": "nginx"}}, "default")
        wait_for(
            lambda: get("chat.lab.test", "/").status_code == 404,
            "the Ingress no longer served once it names another class",
            30,
        )
