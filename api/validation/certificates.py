"""Validation of CertificateSigningRequests (certificates.k8s.io/v1) with kube-apiserver's
rules and wording: a parseable request, a signer name, known usages, the conditions an
approval may set, and what may change once stored."""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography import x509

from api.certificates import KEY_USAGES, MIN_EXPIRATION_SECONDS, parse_request
from api.validation.common import Errs, duplicate, forbidden, invalid, required, unsupported

Obj = dict[str, Any]

_SIGNER_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_STATUSES = ("True", "False", "Unknown")
_DECISIONS = ("Approved", "Denied")


def _check_conditions(errs: Errs, conditions: Any) -> None:
    seen: set[str] = set()
    for i, c in enumerate(conditions or []):
        f = f"status.conditions[{i}]"
        if not isinstance(c, dict) or not c.get("type"):
            required(errs, f"{f}.type", "each condition needs a type (Approved, Denied, Failed)")
            continue
        ctype = c["type"]
        if c.get("status") not in _STATUSES:
            if c.get("status") is None:
                required(errs, f"{f}.status", "set status True, False or Unknown")
            else:
                unsupported(errs, f"{f}.status", c.get("status"), _STATUSES)
        if ctype in ("Approved", "Denied", "Failed"):
            if ctype in seen:
                duplicate(errs, f"{f}.type", ctype, "give each condition type once")
            seen.add(ctype)
    if {"Approved", "Denied"} <= seen:
        invalid(
            errs,
            "status.conditions",
            sorted(seen),
            "Approved and Denied conditions are mutually exclusive",
        )


def validate_csr(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a CertificateSigningRequest needs spec.request and signerName")
        return
    try:
        parse_request(spec.get("request"))
    except ValueError as e:
        invalid(errs, "spec.request", "<request>", str(e))
    signer = spec.get("signerName")
    if not signer:
        required(
            errs, "spec.signerName", "name the signer (e.g. kubernetes.io/kube-apiserver-client)"
        )
    elif not isinstance(signer, str) or not _SIGNER_RE.match(signer):
        invalid(
            errs,
            "spec.signerName",
            signer,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )
    usages = spec.get("usages")
    if not usages:
        required(errs, "spec.usages", "usages must be provided (e.g. [client auth])")
    else:
        seen: set[str] = set()
        for i, u in enumerate(usages if isinstance(usages, list) else [usages]):
            if u not in KEY_USAGES:
                unsupported(errs, f"spec.usages[{i}]", u, KEY_USAGES)
            elif u in seen:
                duplicate(errs, f"spec.usages[{i}]", u, "list each usage once")
            seen.add(str(u))
    exp = spec.get("expirationSeconds")
    if exp is not None and (not isinstance(exp, int) or exp < MIN_EXPIRATION_SECONDS):
        invalid(
            errs,
            "spec.expirationSeconds",
            exp,
            "may not specify a duration less than 600 seconds (10 minutes)",
        )
    status = obj.get("status") or {}
    _check_conditions(errs, status.get("conditions"))
    cert = status.get("certificate")
    if cert:
        try:
            x509.load_pem_x509_certificates(base64.b64decode(cert))
        except (ValueError, TypeError) as e:
            invalid(
                errs,
                "status.certificate",
                "<certificate data>",
                f"must be PEM CERTIFICATE blocks: {e}",
            )


def validate_csr_update(errs: Errs, new: Obj, old: Obj) -> None:
    """The spec never changes; an Approved or Denied condition is never taken back; the
    certificate, once issued, stays."""
    if new.get("spec") != old.get("spec"):
        invalid(
            errs, "spec", "<spec>", "field is immutable; create a new CertificateSigningRequest"
        )
    new_types = {c.get("type") for c in (new.get("status") or {}).get("conditions") or []}
    for c in (old.get("status") or {}).get("conditions") or []:
        if c.get("type") in _DECISIONS and c.get("type") not in new_types:
            forbidden(
                errs,
                "status.conditions",
                f"updates may not remove a condition of type {c.get('type')!r}",
            )
    old_cert = (old.get("status") or {}).get("certificate")
    if old_cert and (new.get("status") or {}).get("certificate") != old_cert:
        forbidden(errs, "status.certificate", "updates may not modify existing certificate content")
