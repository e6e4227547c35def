"""Bearer-token authentication from a static token file (kube-apiserver's format:
``token,user,uid,"group1,group2"``), compared in constant time."""

from __future__ import annotations

import csv
import hmac
import io
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from api.errors import ApiError
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


class TokenAuthenticator:
    """Maps bearer tokens to users; the file is re-read when it changes."""

    def __init__(self, path: Path, bound: BoundTokens | None = None) -> None:
        self.path = path
        # ServiceAccount tokens (JWTs from TokenRequest): checked on every request, never
        # cached, since a token stops working when the pod it is bound to is gone.
        self.bound = bound
        self._mtime = -1.0
        self._tokens: list[tuple[bytes, User]] = []
        self._cache: dict[str, User] = {}
        self.reload()

    def reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._tokens, self._cache = [], {}
            return
        if st.st_mtime == self._mtime:
            return
        self._mtime = st.st_mtime
        tokens: list[tuple[bytes, User]] = []
        for row in csv.reader(io.StringIO(self.path.read_text())):
            if not row or row[0].startswith("#") or len(row) < 2:
                continue
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
            tokens.append((row[0].encode(), User(row[1], row[2] if len(row) > 2 else "", groups)))
        self._tokens = tokens
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
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        self.reload()
        given = token.encode()
        found: User | None = None
        for known, user in self._tokens:
            # compare_digest on every entry: the time taken does not tell which one matched.
            if hmac.compare_digest(known, given):
                found = user
        if found is None:
            raise ApiError(
                401, "Unauthorized: the bearer token is not known to this cluster", "Unauthorized"
            )
        if len(self._cache) < 10000:
            self._cache[token] = found
        return found

    def bound_user(self, token: str, audiences: tuple[str, ...] = (API_AUDIENCE,)) -> User:
        """The ServiceAccount user of a bound token for one of ``audiences``; 401 if none."""
        assert self.bound is not None
        b = self.bound.binding(token, audiences)
        return User(
            service_account_user(b.namespace, b.service_account),
            b.service_account_uid,
            service_account_groups(b.namespace),
        )


def add_token(path: Path, user: str, groups: list[str], uid: str = "") -> str:
    """Append a new random token for ``user`` to the token file and return it."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = path.exists()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        if not exists:
            f.write("# token,user,uid,groups\n")
        g = ",".join(groups)
        f.write(f'{token},{user},{uid or user},"{g}"\n')
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
