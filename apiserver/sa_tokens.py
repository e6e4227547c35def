"""Bound ServiceAccount tokens, as Kubernetes' TokenRequest issues them.

A token is a JWT (PyJWT, ES256) signed with the cluster's own service-account key
(``HOME/pki/sa.key``, made on first start): audiences, an expiry, and the objects it is
bound to (its ServiceAccount, and a Pod) in Kubernetes' private ``kubernetes.io`` claim.
The static token file cannot carry an audience, an expiry or a binding, so these tokens
are separate from it; the claims are what kube-apiserver's tokens carry, so a client that
decodes one (client-go's token refresh, the Python client) reads what it expects.

``verify`` is pure: signature, issuer, audience and time. Whether the bound objects still
exist (a deleted pod's token stops working) is ``BoundTokens.authenticate``'s, which
looks them up in the store on every request.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.errors import ApiError

# kube-apiserver's default issuer and API audience (--service-account-issuer,
# --api-audiences) in clusters made by kubeadm, k3s and kind.
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = ISSUER
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32  # Kubernetes' bound: expirationSeconds must be < 2^32
SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
CLOCK_SKEW = 60  # seconds a token's nbf may be ahead of this server's clock


class InvalidToken(Exception):
    """The token is not one of this cluster's, or no longer valid; the message says why."""


@dataclass(frozen=True)
class Binding:
    """What a verified token says about itself."""

    namespace: str
    service_account: str
    service_account_uid: str
    audiences: tuple[str, ...]
    expires: int
    pod_name: str = ""
    pod_uid: str = ""


def looks_like_jwt(token: str) -> bool:
    """A JWT has three base64url parts, the first a JSON header (``eyJ``)."""
    return token.startswith("eyJ") and token.count(".") == 2


def service_account_user(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return (SA_GROUP, f"{SA_GROUP}:{namespace}", "system:authenticated")


def _ensure_key(home: Path) -> ec.EllipticCurvePrivateKey:
    pki = home / "pki"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = pki / "sa.key"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


class TokenSigner:
    """Issues and verifies this cluster's bound tokens."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = key.public_key()
        # The key id, as Kubernetes': it names which key signed a token.
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = uuid.uuid5(uuid.NAMESPACE_OID, der.hex()).hex

    @classmethod
    def for_home(cls, home: Path) -> TokenSigner:
        return cls(_ensure_key(home))

    def issue(self, binding: Binding, now: float | None = None) -> str:
        """A signed token for ``binding`` (its ``expires`` is absolute, in seconds)."""
        issued = int(now if now is not None else time.time())
        private: dict[str, Any] = {
            "namespace": binding.namespace,
            "serviceaccount": {
                "name": binding.service_account,
                "uid": binding.service_account_uid,
            },
        }
        if binding.pod_name:
            private["pod"] = {"name": binding.pod_name, "uid": binding.pod_uid}
        claims = {
            "iss": ISSUER,
            "sub": service_account_user(binding.namespace, binding.service_account),
            "aud": list(binding.audiences),
            "exp": binding.expires,
            "iat": issued,
            "nbf": issued,
            "jti": secrets.token_hex(16),
            "kubernetes.io": private,
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def verify(self, token: str, audiences: tuple[str, ...], now: float | None = None) -> Binding:
        """The binding of a token of ours that is for one of ``audiences`` and not expired;
        InvalidToken otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=["ES256"],
                issuer=ISSUER,
                # Time and audience are checked below, against ``now``.
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "sub"],
                },
            )
        except jwt.PyJWTError as e:
            raise InvalidToken(f"not a token of this cluster ({e})") from e
        at = now if now is not None else time.time()
        if int(claims.get("nbf") or 0) > at + CLOCK_SKEW:
            raise InvalidToken("the token is not valid yet")
        if int(claims["exp"]) <= at:
            raise InvalidToken("the token has expired: request a new one (TokenRequest)")
        aud = claims.get("aud") or []
        token_aud = tuple([aud] if isinstance(aud, str) else [str(a) for a in aud])
        if not set(token_aud) & set(audiences):
            raise InvalidToken(
                f"the token's audiences ({', '.join(token_aud)}) are not of this server "
                f"({', '.join(audiences)})"
            )
        private = claims.get("kubernetes.io") or {}
        sa = private.get("serviceaccount") or {}
        pod = private.get("pod") or {}
        return Binding(
            namespace=str(private.get("namespace") or ""),
            service_account=str(sa.get("name") or ""),
            service_account_uid=str(sa.get("uid") or ""),
            audiences=token_aud,
            expires=int(claims["exp"]),
            pod_name=str(pod.get("name") or ""),
            pod_uid=str(pod.get("uid") or ""),
        )


def still_bound(
    binding: Binding, account: dict[str, Any] | None, pod: dict[str, Any] | None
) -> str:
    """Why the objects a token is bound to no longer hold it ("" if they do): the
    ServiceAccount (same uid), and the Pod if it names one (same uid, not being deleted)."""
    who = f"{binding.namespace}/{binding.service_account}"
    if account is None or (account.get("metadata") or {}).get("uid") != binding.service_account_uid:
        return f"the service account {who} the token was issued for no longer exists"
    if binding.pod_name:
        meta = (pod or {}).get("metadata") or {}
        if pod is None or meta.get("uid") != binding.pod_uid:
            return f"the pod {binding.namespace}/{binding.pod_name} the token is bound to no longer exists"
        if meta.get("deletionTimestamp"):
            return f"the pod {binding.namespace}/{binding.pod_name} the token is bound to is being deleted"
    return ""


class BoundTokens:
    """Authenticates bound tokens against the store's ServiceAccounts and Pods."""

    def __init__(self, signer: TokenSigner, store: Any) -> None:
        self.signer = signer
        self.store = store

    def binding(self, token: str, audiences: tuple[str, ...] = (API_AUDIENCE,)) -> Binding:
        """The binding of a valid token whose objects still exist; 401 Status if none."""
        try:
            b = self.signer.verify(token, audiences)
        except InvalidToken as e:
            raise ApiError(401, f"Unauthorized: {e}", "Unauthorized") from e
        account = self.store.get("/serviceaccounts", b.namespace, b.service_account)
        pod = self.store.get("/pods", b.namespace, b.pod_name) if b.pod_name else None
        why = still_bound(b, account, pod)
        if why:
            raise ApiError(401, f"Unauthorized: {why}", "Unauthorized")
        return b


def expiration_seconds(value: Any) -> int:
    """``spec.expirationSeconds`` of a TokenRequest (default 3600, at least 600); 422 naming
    the field when it is not a whole number in range."""
    if value is None:
        return DEFAULT_EXPIRATION
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("spec.expirationSeconds", "must be a whole number of seconds")
    if value < MIN_EXPIRATION:
        raise _invalid(
            "spec.expirationSeconds",
            f"may not specify a duration less than 10 minutes ({MIN_EXPIRATION} s)",
        )
    if value >= MAX_EXPIRATION:
        raise _invalid(
            "spec.expirationSeconds", "may not specify a duration larger than 2^32 seconds"
        )
    return value


def _invalid(field: str, why: str) -> ApiError:
    from api.errors import Cause, invalid

    return invalid("TokenRequest", "", [Cause(field, why)], "authentication.k8s.io")
