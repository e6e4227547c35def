"""CertificateSigningRequest rules, pure: the well-known signers kubelab signs for, what
each accepts (Kubernetes' csrsigning restrictions), the approval conditions, and the
certificate a signer issues (cryptography's x509 builder). The apiserver's validation,
the signer controller (controllers/csrsigning.py) and ``kubelab join`` use these."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Obj = dict[str, Any]

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
SIGNED_BY_KUBELAB = (KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET)
KEY_USAGES = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)
# What a client-certificate signer allows (upstream's IsKubeletClientCSR et al.).
_CLIENT_USAGES = frozenset({"client auth", "digital signature", "key encipherment"})
MIN_EXPIRATION_SECONDS = 600
DEFAULT_DURATION = datetime.timedelta(days=365)
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def parse_request(request_b64: Any) -> x509.CertificateSigningRequest:
    """The CSR in ``spec.request`` (base64 of PEM); ValueError saying what is wrong."""
    if not isinstance(request_b64, str) or not request_b64:
        raise ValueError("must be the base64 of a PEM CERTIFICATE REQUEST block")
    try:
        pem = base64.b64decode(request_b64, validate=False)
    except (ValueError, TypeError) as e:
        raise ValueError(f"is not base64: {e}") from e
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as e:
        raise ValueError(f"invalid certificate request: {e}") from e
    if not csr.is_signature_valid:
        raise ValueError("invalid certificate request: the signature does not verify")
    return csr


def condition(csr: Obj, ctype: str) -> Obj | None:
    for c in (csr.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def is_approved(csr: Obj) -> bool:
    c = condition(csr, "Approved")
    return c is not None and c.get("status") == "True"


def is_denied_or_failed(csr: Obj) -> bool:
    return any(
        (c := condition(csr, t)) is not None and c.get("status") == "True"
        for t in ("Denied", "Failed")
    )


def merge_status(current: Obj, new_status: Any, subresource: str) -> Obj:
    """The status a write to ``subresource`` stores: ``approval`` changes only the
    conditions; ``status`` everything but the Approved/Denied conditions (only the approval
    subresource decides those), as upstream's strategies do."""
    have = dict(current.get("status") or {})
    new = dict(new_status) if isinstance(new_status, dict) else {}
    decisions = ("Approved", "Denied")
    if subresource == "approval":
        have["conditions"] = new.get("conditions")
        return {k: v for k, v in have.items() if v is not None}
    kept = [c for c in have.get("conditions") or [] if c.get("type") in decisions]
    rest = [c for c in new.get("conditions") or [] if c.get("type") not in decisions]
    new["conditions"] = kept + rest or None
    return {k: v for k, v in new.items() if v is not None}


def signer_refusal(csr_obj: Obj, req: x509.CertificateSigningRequest) -> str:
    """Why the signer named in the CSR will not sign it ("" when it will): the usages and,
    for the kubelet client signer, the node identity the request names."""
    spec = csr_obj.get("spec") or {}
    signer = spec.get("signerName")
    usages = set(spec.get("usages") or [])
    if "client auth" not in usages or not usages <= _CLIENT_USAGES:
        return (
            f"{signer} signs client certificates only: usages must include 'client auth' and "
            "be among 'client auth', 'digital signature', 'key encipherment'"
        )
    if signer == KUBE_APISERVER_CLIENT_KUBELET:
        cn = [a.value for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        orgs = [a.value for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if len(cn) != 1 or not str(cn[0]).startswith(NODE_PREFIX) or orgs != [NODES_GROUP]:
            return (
                f"{signer} signs only a node's client certificate: subject CN "
                f"system:node:<name> and O {NODES_GROUP}"
            )
        try:
            if list(req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value):
                return f"{signer} certificates carry no subject alternative names"
        except x509.ExtensionNotFound:
            pass
    return ""


def sign(
    req: x509.CertificateSigningRequest,
    ca_cert: x509.Certificate,
    ca_key: Any,
    expiration_seconds: int | None,
    now: datetime.datetime,
) -> bytes:
    """The client certificate (PEM) for ``req``, issued by the CA, for the requested
    duration (default a year; never past the CA's own expiry)."""
    duration = (
        datetime.timedelta(seconds=expiration_seconds) if expiration_seconds else DEFAULT_DURATION
    )
    not_after = min(now + duration, ca_cert.not_valid_after_utc)
    pub = req.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError("only RSA and ECDSA keys are signed")
    cert = (
        x509.CertificateBuilder()
        .subject_name(req.subject)
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clock skew between boxes
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(pub, rsa.RSAPublicKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def stamp_requester(obj: Obj, username: str, uid: str, groups: list[str]) -> None:
    """A new CSR's ``spec.username/uid/groups`` are the requesting user's, whatever the
    client sent (upstream's strategy: the signer trusts them, so nobody may forge them)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec["username"] = username
    if uid:
        spec["uid"] = uid
    else:
        spec.pop("uid", None)
    spec["groups"] = list(groups)
    spec.pop("extra", None)
