"""TLS for the Ingress router: one ``ssl.SSLContext`` per ``kubernetes.io/tls`` Secret
named in an Ingress's ``spec.tls``, chosen per connection by SNI (``ssl``'s
``sni_callback``), and a self-signed fallback certificate for a client that sends no
server name or one no Ingress covers (as ingress-nginx's "Fake Certificate")."""

from __future__ import annotations

import base64
import datetime
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _context_from_pem(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server context for one certificate chain and key (``ssl`` loads only files: they
    live for the call, in a private temporary directory)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="kubelab-ingress-") as d:
        cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        for path, data in ((cert, cert_pem), (key, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert, key)
    return ctx


def context_from_secret(secret: Obj) -> ssl.SSLContext:
    """The context of a TLS Secret (``data["tls.crt"]``, ``data["tls.key"]``, base64).
    Raises ValueError naming what is missing or unreadable."""
    data = secret.get("data") or {}
    meta = secret.get("metadata") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    if "tls.crt" not in data or "tls.key" not in data:
        raise ValueError(f"secret {name} has no tls.crt and tls.key (type kubernetes.io/tls)")
    try:
        return _context_from_pem(
            base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
        )
    except (ssl.SSLError, ValueError) as e:
        raise ValueError(
            f"secret {name}: tls.crt/tls.key are not a PEM certificate and key: {e}"
        ) from e


def self_signed_pem(common_name: str) -> tuple[bytes, bytes]:
    """A throwaway self-signed certificate and key (PEM) for ``common_name``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class SniContexts:
    """The listening context and the per-Secret contexts it switches to by server name.

    ``secret_for(host)`` ("ns/name" or "") is the router's routing decision; the contexts
    are kept by ``update`` from Secrets the router fetched (the SNI callback runs inside
    the handshake and cannot wait for the API)."""

    def __init__(self, secret_for: Callable[[str], str]) -> None:
        self.secret_for = secret_for
        self.by_secret: dict[str, tuple[str, ssl.SSLContext]] = {}  # key -> (rv, context)
        self.listening = _context_from_pem(*self_signed_pem("kubelab ingress default"))
        self.listening.sni_callback = self._pick

    def _pick(self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: Any) -> None:
        if not server_name:
            return
        key = self.secret_for(server_name.lower())
        found = self.by_secret.get(key) if key else None
        if found is not None:
            conn.context = found[1]

    def update(self, key: str, secret: Obj | None) -> None:
        """Keep (or drop, for None) the context of Secret ``key`` ("ns/name")."""
        if secret is None:
            self.by_secret.pop(key, None)
            return
        rv = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        if key in self.by_secret and self.by_secret[key][0] == rv:
            return
        try:
            self.by_secret[key] = (rv, context_from_secret(secret))
        except ValueError as e:
            log.warning("ingress router: %s; the default certificate is served instead", e)
            self.by_secret.pop(key, None)

    def forget_except(self, keys: set[str]) -> None:
        for k in set(self.by_secret) - keys:
            del self.by_secret[k]
