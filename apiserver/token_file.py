"""The static token file (``HOME/tokens.csv``): kube-apiserver's ``--token-auth-file``
format, ``token,user,uid,"group1,group2"``, plus an optional fifth column kubelab adds,
when the token expires (RFC 3339, UTC; empty: never). kube-apiserver reads the first four
columns only, so the file stays one it could use.

Rows are read and rewritten here (pure text in, text out) for ``kubelab token revoke``
and ``rotate``; the file is replaced atomically with mode 0600, and the apiserver sees the
change within a second (apiserver/auth.py).
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from api.durations import parse_time

HEADER = "# token,user,uid,groups[,expires]\n"


@dataclass(frozen=True)
class TokenRow:
    token: str
    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    expires: str = ""  # RFC 3339, "" for never

    def expires_at(self) -> float | None:
        """The expiry as seconds since the epoch; None for never (or unreadable: a
        hand-edited file that says something else keeps working, as before the column)."""
        t = parse_time(self.expires) if self.expires else None
        return t.timestamp() if t is not None else None

    def expired(self, now: float) -> bool:
        at = self.expires_at()
        return at is not None and at <= now

    def line(self) -> str:
        out = io.StringIO()
        row = [self.token, self.user, self.uid or self.user, ",".join(self.groups)]
        if self.expires:
            row.append(self.expires)
        csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(row)
        return out.getvalue()


def parse(text: str) -> list[TokenRow]:
    """Every token row of the file's ``text`` (comments and short lines skipped)."""
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].startswith("#") or len(row) < 2:
            continue
        groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
        uid = row[2] if len(row) > 2 else ""
        rows.append(TokenRow(row[0], row[1], uid, groups, row[4].strip() if len(row) > 4 else ""))
    return rows


def render(rows: list[TokenRow]) -> str:
    return HEADER + "".join(r.line() for r in rows)


def expiry(ttl: datetime.timedelta | None, now: datetime.datetime) -> str:
    """The ``expires`` column for a token valid ``ttl`` from ``now`` ('' for never)."""
    if ttl is None:
        return ""
    return (now + ttl).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_user(rows: list[TokenRow], user: str) -> tuple[list[TokenRow], int]:
    """The rows minus every token of ``user``, and how many went."""
    kept = [r for r in rows if r.user != user]
    return kept, len(rows) - len(kept)


def read(path: Path) -> list[TokenRow]:
    try:
        return parse(path.read_text())
    except FileNotFoundError:
        return []


def write(path: Path, rows: list[TokenRow]) -> None:
    """Replace the file with ``rows`` at once (mode 0600): a reader sees old or new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tokens-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(render(rows))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
