"""certificates.k8s.io/v1 CertificateSigningRequest: a request for a certificate from a
named signer, approved or denied by an admin, then signed (``status.certificate``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel, Time
from api.models.meta import ObjectMeta


class CertificateSigningRequestSpec(K8sModel):
    request: str = ""  # base64 of a PEM "CERTIFICATE REQUEST"
    signer_name: str = ""
    expiration_seconds: int | None = None
    usages: list[str] | None = None
    # Set by the apiserver from the requesting user; what a client sends is replaced.
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class CertificateSigningRequestCondition(K8sModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_update_time: Time | None = None
    last_transition_time: Time | None = None


class CertificateSigningRequestStatus(K8sModel):
    conditions: list[CertificateSigningRequestCondition] | None = None
    certificate: str | None = None  # base64 of PEM certificates


class CertificateSigningRequest(K8sModel):
    api_version: Literal["certificates.k8s.io/v1"] = "certificates.k8s.io/v1"
    kind: Literal["CertificateSigningRequest"] = "CertificateSigningRequest"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CertificateSigningRequestSpec = Field(default_factory=CertificateSigningRequestSpec)
    status: CertificateSigningRequestStatus | None = None
