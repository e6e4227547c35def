"""Bearer-token authentication from a static token file (kube-apiserver's format:
``token,user,uid,"group1,group2"``, with kubelab's optional expiry column:
apiserver/token_file.py), compared in constant time. The file is looked at again at most
once a second, also for tokens already seen, so a revoked token stops working within a
second and an expired one at its time."""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from api.errors import ApiError
from apiserver import token_file
from apiserver.sa_tokens import (
    API_AUDIENCE,
    BoundTokens,
    looks_like_jwt,
    service_account_groups,
    service_account_user,
)


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)


ADMIN_GROUP = "system:masters"
RECHECK_SECONDS = 1.0


class TokenAuthenticator:
    """Maps bearer tokens to users; the file is re-read when it changes."""

    def __init__(self, path: Path, bound: BoundTokens | None = None) -> None:
        self.path = path
        # ServiceAccount tokens (JWTs from TokenRequest): checked on every request, never
        # cached, since a token stops working when the pod it is bound to is gone.
        self.bound = bound
        self._stamp: tuple[float, int, int] = (-1.0, -1, -1)  # mtime, size, inode
        self._checked = -1e18  # monotonic time of the last look at the file
        self._tokens: list[tuple[bytes, User, float | None]] = []
        self._cache: dict[str, tuple[User, float | None]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the file again if it changed (a rewrite by ``kubelab token`` too)."""
        self._checked = time.monotonic()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._tokens, self._cache = [], {}
            self._stamp = (-1.0, -1, -1)
            return
        stamp = (st.st_mtime, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._tokens = [
            (r.token.encode(), User(r.user, r.uid, r.groups), r.expires_at())
            for r in token_file.parse(self.path.read_text())
        ]
        self._cache = {}

    def authenticate(self, header: str | None) -> User:
        """The user behind an ``Authorization`` header; 401 Status if none or unknown."""
        if not header or not header.lower().startswith("bearer "):
            raise ApiError(
                401,
                "Unauthorized: send a bearer token (the kubeconfig that `kubelab up` writes has one)",
                "Unauthorized",
            )
        token = header[7:].strip()
        if self.bound is not None and looks_like_jwt(token):
            return self.bound_user(token)
        if time.monotonic() - self._checked >= RECHECK_SECONDS:
            self.reload()  # a revoked token leaves the cache with the file's change
        hit = self._cache.get(token)
        if hit is None:
            self.reload()
            given = token.encode()
            for known, user, expires in self._tokens:
                # compare_digest on every entry: the time taken does not tell which matched.
                if hmac.compare_digest(known, given):
                    hit = (user, expires)
            if hit is None:
                raise ApiError(
                    401,
                    "Unauthorized: the bearer token is not known to this cluster",
                    "Unauthorized",
                )
            if len(self._cache) < 10000:
                self._cache[token] = hit
        user, expires = hit
        if expires is not None and expires <= time.time():
            raise ApiError(
                401,
                f"Unauthorized: the bearer token of {user.name} expired at "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))}; ask the "
                f"cluster's admin for a new one (kubelab token rotate --user {user.name})",
                "Unauthorized",
            )
        return user

    def bound_user(self, token: str, audiences: tuple[str, ...] = (API_AUDIENCE,)) -> User:
        """The ServiceAccount user of a bound token for one of ``audiences``; 401 if none."""
        assert self.bound is not None
        b = self.bound.binding(token, audiences)
        return User(
            service_account_user(b.namespace, b.service_account),
            b.service_account_uid,
            service_account_groups(b.namespace),
        )


def add_token(path: Path, user: str, groups: list[str], uid: str = "", expires: str = "") -> str:
    """Append a new random token for ``user`` to the token file and return it
    (``expires``: RFC 3339, '' for never)."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = path.exists()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        if not exists:
            f.write(token_file.HEADER)
        f.write(token_file.TokenRow(token, user, uid, tuple(groups), expires).line())
    return token


def ensure_admin_token(home: Path) -> str:
    """The admin token (created on first start), kept in ``home/admin-token``."""
    tok_file = home / "admin-token"
    if tok_file.exists():
        return tok_file.read_text().strip()
    token = add_token(home / "tokens.csv", "admin", [ADMIN_GROUP])
    fd = os.open(tok_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def ensure_secret_file(path: Path) -> str:
    """A random shared secret in ``path`` (mode 0600), created if missing."""
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret
