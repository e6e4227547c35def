"""Joining a node with a bootstrap token (issue 8).

``kubelab token create`` (on the control-plane box) writes a bootstrap token
``<id>.<secret>`` (Kubernetes' format: 6 + 16 characters of ``[a-z0-9]``) into
``HOME/bootstrap-tokens.csv`` as ``id,sha256(secret),expires,description``; only the hash
of the secret is kept.

Two paths, outside the Kubernetes API and before normal authentication:

- ``GET /kubelab/v1/cluster-info`` (public): the cluster's CA certificate. The joining box
  fetches it without trusting the connection, then checks its SHA-256 fingerprint against
  the one ``kubelab token create`` printed (kubeadm's discovery-token-ca-cert-hash idea).
- ``POST /kubelab/v1/join`` with ``Authorization: Bearer <id>.<secret>`` and
  ``{"nodeName": "gpu2"}``: returns that node's own credentials, a token for user
  ``system:node:gpu2`` in group ``system:nodes`` (which the authorizer confines to its own
  Node, Lease and pods), plus the kubelet secret the apiserver uses to read logs.
"""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import hmac
import io
import logging
import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.durations import parse_time
from api.errors import ApiError
from apiserver.authz import NODE_USER_PREFIX, NODES_GROUP
from apiserver.bodies import json_response
from apiserver.identities import ensure_identity_token
from apiserver.join_approval import JoinRequests

log = logging.getLogger("kubelab.apiserver.join")

PREFIX = "/kubelab/v1/"
CLUSTER_INFO_PATH = "/kubelab/v1/cluster-info"
JOIN_PATH = "/kubelab/v1/join"
TOKENS_FILE = "bootstrap-tokens.csv"
APPROVE_REQUIRED = "approve-required"
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class BootstrapToken:
    id: str
    secret_sha256: str
    expires: str  # RFC 3339, UTC; "" never expires
    description: str = ""
    # "approve-required": the token admits a box only with an approved CSR
    # (apiserver/join_approval.py), never on its own.
    policy: str = ""

    @property
    def approve_required(self) -> bool:
        return self.policy == APPROVE_REQUIRED

    def expired(self, now: datetime.datetime | None = None) -> bool:
        if not self.expires:
            return False
        now = now or datetime.datetime.now(datetime.UTC)
        return now >= datetime.datetime.fromisoformat(self.expires.replace("Z", "+00:00"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_tokens(home: Path) -> list[BootstrapToken]:
    """The bootstrap tokens in ``HOME/bootstrap-tokens.csv`` (none if it is missing)."""
    try:
        text = (home / TOKENS_FILE).read_text()
    except FileNotFoundError:
        return []
    out = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3 and not row[0].startswith("#"):
            out.append(
                BootstrapToken(
                    row[0],
                    row[1],
                    row[2],
                    row[3] if len(row) > 3 else "",
                    row[4] if len(row) > 4 else "",
                )
            )
    return out


def create_token(
    home: Path,
    ttl: datetime.timedelta | None,
    description: str = "",
    approve_required: bool = False,
) -> str:
    """A new bootstrap token ``<id>.<secret>``, appended to the tokens file (mode 0600);
    ``approve_required``: it admits a box only once an admin approves the box's CSR."""
    token_id = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    expires = ""
    if ttl is not None and ttl.total_seconds() > 0:
        when = datetime.datetime.now(datetime.UTC) + ttl
        expires = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = home / TOKENS_FILE
    new = not path.exists()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            f.write("# id,sha256(secret),expires,description,policy\n")
        row = [token_id, _sha256(secret), expires, description]
        w.writerow(row + [APPROVE_REQUIRED] if approve_required else row)
    return f"{token_id}.{secret}"


def check_token(home: Path, header: str | None) -> str:
    """The id of the valid, unexpired bootstrap token in ``header``; 401 Status if none."""
    return check_bootstrap_token(home, header).id


def check_bootstrap_token(home: Path, header: str | None) -> BootstrapToken:
    """The valid, unexpired bootstrap token in ``header``; 401 Status if none."""
    if not header or not header.lower().startswith("bearer "):
        raise ApiError(
            401,
            "Unauthorized: joining needs a bootstrap token (kubelab token create prints one)",
            "Unauthorized",
        )
    m = TOKEN_RE.match(header[7:].strip())
    if m is None:
        raise ApiError(
            401,
            "Unauthorized: a bootstrap token looks like abcdef.0123456789abcdef "
            "(kubelab token create prints one)",
            "Unauthorized",
        )
    token_id, digest = m.group(1), _sha256(m.group(2))
    for t in load_tokens(home):
        if t.id == token_id and hmac.compare_digest(t.secret_sha256, digest):
            if t.expired():
                raise ApiError(
                    401,
                    f"Unauthorized: bootstrap token {token_id} expired at {t.expires}; "
                    "create a new one with kubelab token create",
                    "Unauthorized",
                )
            return t
    raise ApiError(
        401,
        f"Unauthorized: bootstrap token {token_id} is not known to this cluster "
        "(kubelab token list shows the valid ones)",
        "Unauthorized",
    )


def cluster_info(home: Path) -> dict[str, str]:
    ca = (home / "pki" / "ca.crt").read_bytes()
    return {
        "apiVersion": "kubelab.io/v1",
        "kind": "ClusterInfo",
        "caData": base64.b64encode(ca).decode(),
    }


def lease_liveness(lease: dict[str, Any] | None, now: datetime.datetime) -> str | None:
    """How a node's Lease shows it alive ("renewed 3 s ago"), or None when it has expired."""
    spec = (lease or {}).get("spec") or {}
    renewed = parse_time(spec.get("renewTime"))
    if renewed is None:
        return None
    age = (now - renewed).total_seconds()
    if age > float(spec.get("leaseDurationSeconds") or 40):
        return None
    return f"its lease was renewed {max(0, round(age))} s ago"


def holds_node_identity(home: Path, node: str, token: object) -> bool:
    """Whether ``token`` is the current token of ``system:node:<node>``: the box that joined
    under that name before, asking again (a kubelet rerun with the same home)."""
    if not isinstance(token, str) or not token:
        return False
    f = home / "identities" / (NODE_USER_PREFIX + node).replace(":", "_")
    try:
        current = f.read_text().strip()
    except FileNotFoundError:
        return False
    return hmac.compare_digest(current.encode(), token.encode())


def issue_node_credentials(home: Path, node: str) -> dict[str, str]:
    """The token of ``system:node:<node>`` (created once, then the same one) and the rest a
    kubelet needs."""
    token = ensure_identity_token(home, NODE_USER_PREFIX + node, [NODES_GROUP])
    return {
        "apiVersion": "kubelab.io/v1",
        "kind": "NodeCredentials",
        "nodeName": node,
        "user": NODE_USER_PREFIX + node,
        "groups": NODES_GROUP,
        "token": token,
        "kubeletSecret": (home / "kubelet-secret").read_text().strip(),
        **{"caData": cluster_info(home)["caData"]},
    }


async def handle(
    home: Path,
    request: Request,
    path: str,
    node_lease: Callable[[str], dict[str, Any] | None] = lambda _: None,
    requests: JoinRequests | None = None,
) -> Response:
    """Serve ``/kubelab/v1/cluster-info`` and ``/kubelab/v1/join``.

    ``node_lease(name)`` is the node's heartbeat Lease, if any: a bootstrap token must not
    let a second box take the name (and so the credentials) of a node that is alive. The
    box that holds that node's token may ask again (a rerun of ``kubelab join``); a node
    whose lease has expired may be taken over, which is how a reinstalled box rejoins.

    With a ``csr`` in the body (``kubelab join --approve-required``), or always for a token
    made with ``--approve-required``, the credentials come only once an admin has approved
    the box's CertificateSigningRequest (``requests``; 202 until then)."""
    p = path.rstrip("/")
    if p == CLUSTER_INFO_PATH and request.method == "GET":
        return json_response(cluster_info(home))
    if p != JOIN_PATH:
        raise ApiError(404, f"the server could not find the requested resource {path}", "NotFound")
    if request.method != "POST":
        raise ApiError(405, f"{JOIN_PATH} takes POST", "MethodNotAllowed")
    token = check_bootstrap_token(home, request.headers.get("authorization"))
    token_id = token.id
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as e:
        raise ApiError(400, f"the join request is not JSON: {e}", "BadRequest") from e
    node = str((body or {}).get("nodeName") or "")
    if not node or len(node) > 253 or not _NODE_NAME_RE.match(node):
        raise ApiError(
            422,
            f"nodeName: Invalid value: {node!r}: a node name is a lowercase DNS name "
            "(letters, digits, '-', '.'), e.g. gpu2; pass --node-name",
            "Invalid",
        )
    live = lease_liveness(node_lease(node), datetime.datetime.now(datetime.UTC))
    if live and not holds_node_identity(home, node, (body or {}).get("nodeToken")):
        raise ApiError(
            409,
            f"node {node} is already part of the cluster and alive ({live}); join this box "
            "under another --node-name, or stop that node's kubelet and retry once its "
            "lease has expired",
            "AlreadyExists",
            name=node,
            kind="nodes",
        )
    csr = (body or {}).get("csr")
    if token.approve_required and not csr:
        raise ApiError(
            403,
            f"bootstrap token {token_id} admits a box only once an admin approves its "
            "certificate signing request: run kubelab join with --approve-required",
            "Forbidden",
        )
    certificate = ""
    if csr:
        if requests is None:
            raise ApiError(
                503, "this server cannot file certificate signing requests", "ServiceUnavailable"
            )
        outcome = await requests.submit(token_id, node, csr)
        if not outcome.certificate:
            log.warning("node %s asks to join: waiting for approval of %s", node, outcome.csr)
            return json_response(
                {
                    "apiVersion": "kubelab.io/v1",
                    "kind": "JoinPending",
                    "nodeName": node,
                    "csrName": outcome.csr,
                    "message": f"waiting for an admin: kubectl certificate approve {outcome.csr}",
                },
                status=202,
            )
        certificate = outcome.certificate
    creds = issue_node_credentials(home, node)
    if certificate:
        creds["clientCertificate"] = certificate
    log.warning("node %s joined with bootstrap token %s", node, token_id)
    return json_response(creds)
