"""CSR signing controller: an approved CertificateSigningRequest for one of the signers
kubelab implements (``kubernetes.io/kube-apiserver-client`` and
``kubernetes.io/kube-apiserver-client-kubelet``) gets ``status.certificate``, signed by
the cluster CA; one the signer refuses (wrong usages, a kubelet request that names no
node) gets a ``Failed`` condition saying why. Other signers' requests are left to them.

Signing happens here, as in kube-controller-manager (``--cluster-signing-cert-file`` and
``--cluster-signing-key-file``), not in the apiserver: the apiserver stays a store with
admission, and the key is read only by the process that signs. On a box without the CA
key (a controller manager started elsewhere) nothing is signed and the log says so once.
The default is the CA of ``$KUBELAB_HOME/pki``, which ``kubelab up`` gives the apiserver.
``reconcile`` is pure."""

from __future__ import annotations

import base64
import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from api.certificates import (
    SIGNED_BY_KUBELAB,
    is_approved,
    is_denied_or_failed,
    parse_request,
    sign,
    signer_refusal,
)
from api.home import kubelab_home

from . import actions as A
from .base import Controller, apply_all
from .objutil import Obj, name_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningCA:
    cert: x509.Certificate
    key: Any


def load_ca(cert_file: str, key_file: str) -> SigningCA | None:
    """The CA from the given files, else from ``$KUBELAB_HOME/pki``; None when absent."""
    if not cert_file or not key_file:
        home = kubelab_home()
        cert_file, key_file = str(home / "pki" / "ca.crt"), str(home / "pki" / "ca.key")
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
    except (OSError, ValueError) as e:
        log.warning(
            "csrsigning: no cluster CA to sign with (%s): approved CertificateSigningRequests "
            "get no certificate here; pass --cluster-signing-cert-file/--cluster-signing-key-file",
            e,
        )
        return None
    return SigningCA(cert, key)


def _failed(csr: Obj, message: str, now: str) -> A.Action:
    conditions = [
        c
        for c in (csr.get("status") or {}).get("conditions") or []
        if c.get("type") in ("Approved", "Denied")
    ]
    conditions.append(
        {
            "type": "Failed",
            "status": "True",
            "reason": "SignerValidationFailure",
            "message": message,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        }
    )
    return A.patch(
        "certificatesigningrequests",
        None,
        name_of(csr),
        {"status": {"conditions": conditions}},
        subresource="status",
    )


def reconcile(csr: Obj, ca: SigningCA, now: datetime.datetime) -> A.Result:
    """The status patch that signs (or fails) one approved request of our signers."""
    res = A.Result()
    spec = csr.get("spec") or {}
    status = csr.get("status") or {}
    if (
        spec.get("signerName") not in SIGNED_BY_KUBELAB
        or not is_approved(csr)
        or is_denied_or_failed(csr)
        or status.get("certificate")
    ):
        return res
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        req = parse_request(spec.get("request"))
    except ValueError as e:
        res.actions.append(_failed(csr, f"the request cannot be read: {e}", stamp))
        return res
    refusal = signer_refusal(csr, req)
    if refusal:
        res.actions.append(_failed(csr, refusal, stamp))
        return res
    try:
        pem = sign(req, ca.cert, ca.key, spec.get("expirationSeconds"), now)
    except ValueError as e:
        res.actions.append(_failed(csr, str(e), stamp))
        return res
    res.actions.append(
        A.patch(
            "certificatesigningrequests",
            None,
            name_of(csr),
            {"status": {"certificate": base64.b64encode(pem).decode()}},
            subresource="status",
        )
    )
    return res


class CSRSigningController(Controller):
    """One key per CertificateSigningRequest."""

    name = "csrsigning"

    def setup(self) -> None:
        opts = self.ctx.options
        self.ca = load_ca(opts.cluster_signing_cert_file, opts.cluster_signing_key_file)
        self.csrs = self.ctx.index("certificatesigningrequests")
        self.csrs.informer.add_handler(
            on_add=lambda o: self.enqueue(name_of(o)),
            on_update=lambda _o, n: self.enqueue(name_of(n)),
        )

    async def sync(self, key: str) -> float | None:
        csr = self.csrs.get(key)
        if csr is None or self.ca is None:
            return None
        now = datetime.datetime.fromtimestamp(self.ctx.clock(), datetime.UTC)
        await apply_all(self.ctx, reconcile(csr, self.ca, now).actions)
        return None
