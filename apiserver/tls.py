"""The cluster's certificate authority and the apiserver's serving certificate.

Both are made on first start and kept under the home, so clients can pin the CA."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_ca(home: Path) -> tuple[Path, Path]:
    """The CA certificate and key under ``home/pki``, created if missing."""
    pki = home / "pki"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = pki / "ca.crt", pki / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelab-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def issue_serving_cert(
    home: Path, name: str, hosts: list[str], force: bool = False
) -> tuple[Path, Path]:
    """A serving certificate signed by the cluster CA for ``hosts`` (IPs or DNS names)."""
    ca_cert_path, ca_key_path = ensure_ca(home)
    pki = home / "pki"
    cert_path, key_path = pki / f"{name}.crt", pki / f"{name}.key"
    wanted = sorted(set(hosts))
    marker = pki / f"{name}.hosts"
    if (
        not force
        and cert_path.exists()
        and key_path.exists()
        and marker.exists()
        and marker.read_text().split(",") == wanted
    ):
        return cert_path, key_path
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in wanted:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    marker.write_text(",".join(wanted))
    return cert_path, key_path


def default_hosts(listen: str) -> list[str]:
    hosts = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
    if listen not in ("0.0.0.0", "::", ""):
        hosts.add(listen)
    return sorted(hosts)


def in_cluster_hosts(kubernetes_ip: str, cluster_domain: str = "cluster.local") -> list[str]:
    """The names a pod reaches the API by, as kube-apiserver's certificate has them: the
    ``kubernetes`` Service's ClusterIP and DNS names (what load_incluster_config checks)."""
    return [
        kubernetes_ip,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
    ]


def ca_fingerprint(ca_pem: bytes) -> str:
    """``sha256:<hex>`` of the CA certificate's DER form, as `kubelab join` checks it."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
