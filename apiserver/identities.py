"""Tokens of the built-in identities (scheduler, controller manager, each node's kubelet).

Shared by the launcher (``apiserver.main`` writes their kubeconfigs) and by joining
(``apiserver.join`` hands a node its own token), so it lives below both.
"""

from __future__ import annotations

import os
from pathlib import Path

from apiserver.auth import add_token


def ensure_identity_token(home: Path, user: str, groups: list[str]) -> str:
    """The token of a built-in identity, created once and kept in ``home/identities/``."""
    d = home / "identities"
    d.mkdir(mode=0o700, exist_ok=True)
    f = d / user.replace(":", "_")
    if f.exists():
        return f.read_text().strip()
    tok = add_token(home / "tokens.csv", user, groups)
    fd = os.open(f, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(tok + "\n")
    return tok
