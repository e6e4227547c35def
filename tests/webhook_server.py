"""A real HTTPS admission webhook for tests: its own CA (not the cluster's), a serving
certificate for 127.0.0.1 and the Service names asked for, and AdmissionReview v1
answers by path:

- ``/mutate``: allows, with a JSONPatch adding the label ``webhook.kubelab.test/mutated``;
- ``/validate``: refuses an object whose name starts with ``refused-`` (403, a message),
  and the DELETE of one whose name starts with ``kept-``;
- ``/cap-replicas``: allows, patching a Scale's ``spec.replicas`` down to ``MAX_REPLICAS``;
- ``/slow``: allows after ``SLOW_SECONDS`` (for timeoutSeconds).

Every review received is kept in ``reviews`` (path, request), so a test can check what
the apiserver sent.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apiserver.tls import ensure_ca, issue_serving_cert

MUTATED_LABEL = "webhook.kubelab.test/mutated"
REFUSED_PREFIX = "refused-"
KEPT_PREFIX = "kept-"
SLOW_SECONDS = 3.0
MAX_REPLICAS = 2


def _answer(path: str, request: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
    obj = request.get("object") or {}
    if path == "/mutate" and obj:
        labels = (obj.get("metadata") or {}).get("labels")
        if labels is None:
            ops = [{"op": "add", "path": "/metadata/labels", "value": {MUTATED_LABEL: "yes"}}]
        else:
            key = MUTATED_LABEL.replace("~", "~0").replace("/", "~1")
            ops = [{"op": "add", "path": f"/metadata/labels/{key}", "value": "yes"}]
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        response["warnings"] = ["the label-adding webhook added a label"]
    elif path == "/validate" and str(request.get("name") or "").startswith(REFUSED_PREFIX):
        response["allowed"] = False
        response["status"] = {
            "code": 403,
            "message": f"names beginning with {REFUSED_PREFIX} are not allowed here",
        }
    elif path == "/validate" and request.get("operation") == "DELETE":
        if str(request.get("name") or "").startswith(KEPT_PREFIX):
            response["allowed"] = False
            response["status"] = {"code": 403, "message": f"{KEPT_PREFIX} objects stay"}
    elif path == "/cap-replicas" and int((obj.get("spec") or {}).get("replicas") or 0) > 2:
        ops = [{"op": "replace", "path": "/spec/replicas", "value": MAX_REPLICAS}]
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
    elif path == "/slow":
        time.sleep(SLOW_SECONDS)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (the apiserver's timeoutSeconds on /slow) is expected.
        pass


class WebhookServer:
    """The webhook on 127.0.0.1, in a thread; ``ca_bundle`` goes into clientConfig."""

    def __init__(self, pki_home: Path, names: list[str]) -> None:
        ca, _ = ensure_ca(pki_home)
        cert, key = issue_serving_cert(pki_home, "webhook", ["127.0.0.1", *names])
        self.ca_bundle = base64.b64encode(ca.read_bytes()).decode()
        self.reviews: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as real webhook servers do: the apiserver's pool reuses connections.
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes: without this, Nagle holds the body
            # for the client's delayed ACK (40 ms a request).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length))
                path = self.path.partition("?")[0]
                server.reviews.append((self.path, review["request"]))
                body = json.dumps(_answer(path, review["request"])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def paths_called(self) -> list[str]:
        return [p.partition("?")[0] for p, _ in self.reviews]

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
