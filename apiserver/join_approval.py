"""Joining by approval (``kubelab join --approve-required``, issue 17 item 8): the joining
box sends a certificate signing request for ``system:node:<name>`` with its bootstrap
token; the apiserver files it as a CertificateSigningRequest (signer
``kubernetes.io/kube-apiserver-client-kubelet``, requester ``system:bootstrap:<token id>``)
and answers 202 until an admin approves it (``kubectl certificate approve``) and the
csrsigning controller has issued the certificate; then the node's credentials come with
the certificate. A denied (or failed) request is a 403 naming it.

A bootstrap token made with ``kubelab token create --approve-required`` admits a box only
this way: the token alone no longer does.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from api.certificates import (
    KUBE_APISERVER_CLIENT_KUBELET,
    NODE_PREFIX,
    NODES_GROUP,
    condition,
    parse_request,
)
from api.errors import ApiError
from api.registry import by_plural
from apiserver.objects import WriteOptions

Obj = dict[str, Any]
STORE_KEY = "certificates.k8s.io/certificatesigningrequests"


def csr_name(node: str, request_b64: str) -> str:
    """One name per node and key: a rerun with the same key finds its request again."""
    digest = hashlib.sha256(request_b64.encode()).hexdigest()[:10]
    return f"node-csr-{node}-{digest}"


def check_node_request(node: str, request_b64: Any) -> str:
    """The request's base64 PEM if it asks for exactly ``system:node:<node>`` in
    ``system:nodes``; a 422 Status saying what is wrong otherwise."""
    try:
        req = parse_request(request_b64)
    except ValueError as e:
        raise ApiError(
            422, f"csr: Invalid value: the certificate signing request {e}", "Invalid"
        ) from e
    cn = [a.value for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if cn != [NODE_PREFIX + node] or orgs != [NODES_GROUP]:
        raise ApiError(
            422,
            f"csr: Invalid value: the certificate signing request must be for CN "
            f"{NODE_PREFIX}{node}, O {NODES_GROUP} (the node joining), not CN {cn}, O {orgs}",
            "Invalid",
        )
    pem = req.public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(pem).decode()


@dataclass
class JoinOutcome:
    csr: str
    certificate: str = ""  # base64 PEM once issued


@dataclass
class JoinRequests:
    """The join handler's access to CertificateSigningRequests (the server's
    ObjectService and Store)."""

    objects: Any
    store: Any

    async def submit(self, token_id: str, node: str, request_b64: str) -> JoinOutcome:
        """File the request once, then report where it stands."""
        request_b64 = check_node_request(node, request_b64)
        name = csr_name(node, request_b64)
        obj = self.store.get(STORE_KEY, "", name)
        if obj is None:
            info = by_plural("certificates.k8s.io", "certificatesigningrequests")
            assert info is not None
            body = {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": name, "labels": {"kubelab.io/joining-node": node}},
                "spec": {
                    "request": request_b64,
                    "signerName": KUBE_APISERVER_CLIENT_KUBELET,
                    "usages": ["digital signature", "client auth"],
                    "username": f"system:bootstrap:{token_id}",
                    "groups": ["system:bootstrappers", "system:authenticated"],
                },
            }
            try:
                obj = await self.objects.create(info, body, None, WriteOptions())
            except ApiError as exc:
                if exc.code != 409:
                    raise
                obj = self.store.get(STORE_KEY, "", name) or body
        for refused in ("Denied", "Failed"):
            c = condition(obj, refused)
            if c is not None and c.get("status") == "True":
                why = f": {c.get('message')}" if c.get("message") else ""
                raise ApiError(
                    403,
                    f"the certificate signing request {name} of node {node} was "
                    f"{refused.lower()}{why}; ask an admin, or join with a new key",
                    "Forbidden",
                    name=name,
                    kind="certificatesigningrequests",
                )
        return JoinOutcome(name, str((obj.get("status") or {}).get("certificate") or ""))
