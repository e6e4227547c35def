"""The joining box's side of ``kubelab join --approve-required``: its own key (made once,
kept in ``HOME/pki/kubelet-client.key``), a certificate signing request for
``system:node:<name>`` in ``system:nodes``, and the wait until an admin approves it
(the server answers 202 until then; apiserver/join_approval.py)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.certificates import NODE_PREFIX, NODES_GROUP

KEY_FILE = "kubelet-client.key"
CERT_FILE = "kubelet-client.crt"
POLL_SECONDS = 2.0  # how often a waiting box asks again


def node_key(pki: Path) -> ec.EllipticCurvePrivateKey:
    """This box's client key: the same one on a rerun, so its request is found again."""
    path = pki / KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key
    except FileNotFoundError:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def node_csr(key: ec.EllipticCurvePrivateKey, node: str) -> str:
    """The base64 PEM request of ``system:node:<node>`` (what the kubelet signer takes)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, NODE_PREFIX + node),
        ]
    )
    req = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()


def wait_for_approval(
    ask: Callable[[], tuple[int, dict[str, object]]],
    say: Callable[[str], None],
    timeout: float,
) -> dict[str, object]:
    """Ask until the answer is not 202 (pending); ``say`` the pending message once.
    ``timeout`` 0 waits for ever. Returns the last answer's body (the caller checks it)."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    told = False
    while True:
        code, body = ask()
        if code != 202:
            return body | {"_code": code}
        if not told:
            say(str(body.get("message") or "waiting for an admin to approve the request"))
            told = True
        if deadline is not None and time.monotonic() >= deadline:
            return body | {"_code": code}
        time.sleep(POLL_SECONDS)


def save_certificate(pki: Path, certificate_b64: str) -> Path:
    path = pki / CERT_FILE
    path.write_bytes(base64.b64decode(certificate_b64))
    return path
