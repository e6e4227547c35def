"""`kubelab token`: bootstrap tokens for joining boxes, and tokens for people.

- ``kubelab token create`` prints the join command for another box:
  ``kubelab join --server URL --token abcdef.0123456789abcdef --ca-fingerprint sha256:...``
- ``kubelab token create --user alice --role edit --namespace team-a`` makes a user
  token bound to a role and writes a kubeconfig for that user.
- ``kubelab token list`` shows the bootstrap tokens and the user and node tokens (never
  their secrets) and when they expire.
- ``kubelab token revoke --user alice`` (or ``--node gpu2``) removes every token of that
  user or node; the apiserver refuses them within a second. ``kubelab token rotate --user
  alice`` replaces alice's tokens with a new one and writes her kubeconfig again (a node
  is rotated by revoking it and running ``kubelab join`` on it again).
- ``--ttl`` gives a user token an expiry too (``--ttl 30d``); without it a user token
  does not expire, and a bootstrap token lasts 24 hours.

Run on the control-plane box: it writes into the cluster's home (the apiserver re-reads
those files on its own).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

from api.home import kubelab_home
from apiserver import token_file
from apiserver.auth import add_token
from apiserver.authz import NODE_USER_PREFIX, ROLES, add_binding
from apiserver.join import create_token, load_tokens
from apiserver.main import write_kubeconfig
from apiserver.tls import ca_fingerprint
from kubelab.netaddr import is_loopback, is_wildcard, route_address

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def parse_ttl(text: str) -> datetime.timedelta | None:
    """``24h``, ``30m``, ``7d``, ``90s``; ``0`` means never expires (None)."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 24h, 30m or 7d")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    return datetime.timedelta(seconds=seconds) if seconds else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab token",
        description="Create and list tokens: bootstrap tokens that let another box join, "
        "and user tokens bound to a role.",
        epilog="examples: kubelab token create | kubelab token create --user alice --role "
        "edit --namespace team-a | kubelab token list",
    )
    p.add_argument(
        "verb",
        choices=("create", "list", "revoke", "rotate"),
        help="create a token, list them, revoke a user's or node's, or rotate a user's",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="the cluster's home (default $KUBELAB_HOME or ~/.kubelab)",
    )
    p.add_argument(
        "--ttl",
        default=None,
        help="how long the token stays valid: 30m, 24h, 7d; 0 for ever (default: 24h for a "
        "bootstrap token, for ever for a user token)",
    )
    p.add_argument("--node", default=None, help="revoke: the node whose tokens go")
    p.add_argument(
        "--server",
        default=None,
        help="API URL the joining box should use (default: this box's address and the API port)",
    )
    p.add_argument("--description", default="", help="a note kept with a bootstrap token")
    p.add_argument(
        "--approve-required",
        action="store_true",
        help="the bootstrap token alone admits no box: each joining box files a certificate "
        "signing request that an admin approves (kubectl certificate approve)",
    )
    p.add_argument("--user", default=None, help="make a token for this user instead")
    p.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="role the user gets: admin, edit (deploy and debug) or view (read-only)",
    )
    p.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="limit the user's role to this namespace (repeatable; default every namespace)",
    )
    return p


def _saved_up_settings(home: Path) -> dict[str, object]:
    try:
        return dict(json.loads((home / "up.json").read_text()))
    except (OSError, ValueError):
        return {}


def join_server(home: Path, given: str | None) -> tuple[str, str]:
    """The server URL to print in the join command, and a warning ('' if none)."""
    if given:
        return given, ""
    cfg = yaml.safe_load((home / "kubeconfig").read_text())
    url = urlparse(str(cfg["clusters"][0]["cluster"]["server"]))
    port = url.port or 6443
    listen = str(_saved_up_settings(home).get("listen") or url.hostname or "")
    if is_wildcard(listen):
        return f"https://{route_address()}:{port}", ""
    if is_loopback(listen):
        return (
            f"https://{url.hostname}:{port}",
            "note: the API listens on loopback only, so only this box can join; to let "
            "other boxes join, restart with `kubelab up --listen 0.0.0.0`",
        )
    return f"https://{listen}:{port}", ""


def create_join_token(
    home: Path,
    ttl: datetime.timedelta | None,
    server: str | None,
    description: str = "",
    approve_required: bool = False,
) -> tuple[str, str]:
    """A new bootstrap token; (the join command, a warning or '')."""
    token = create_token(home, ttl, description, approve_required)
    url, warning = join_server(home, server)
    fingerprint = ca_fingerprint((home / "pki" / "ca.crt").read_bytes())
    command = f"kubelab join --server {url} --token {token} --ca-fingerprint {fingerprint}"
    return (command + " --approve-required" if approve_required else command, warning)


def create_user_token(
    home: Path,
    user: str,
    role: str | None,
    namespaces: list[str],
    ttl: datetime.timedelta | None = None,
) -> Path:
    """A token for ``user`` (bound to ``role`` when given: a rotation keeps the bindings
    the user has); returns the kubeconfig written for them."""
    expires = token_file.expiry(ttl, datetime.datetime.now(datetime.UTC))
    token = add_token(home / "tokens.csv", user, [], expires=expires)
    if role:
        add_binding(home / "rbac.yaml", user, role, namespaces)
    cfg = yaml.safe_load((home / "kubeconfig").read_text())
    server = str(cfg["clusters"][0]["cluster"]["server"])
    out = home / "users" / f"{user}.kubeconfig"
    out.parent.mkdir(mode=0o700, exist_ok=True)
    write_kubeconfig(out, server, (home / "pki" / "ca.crt").read_bytes(), token, user=user)
    return out


# The cluster's own identities: revoking one would stop a component, not a person.
PROTECTED = ("admin",)


def revoke(home: Path, user: str) -> int:
    """Remove every token of ``user`` from the token file; how many went."""
    path = home / "tokens.csv"
    kept, gone = token_file.without_user(token_file.read(path), user)
    if gone:
        token_file.write(path, kept)
    return gone


def _list(home: Path) -> None:
    print(f"{'ID':<8} {'EXPIRES':<22} DESCRIPTION")
    for t in load_tokens(home):
        state = " (expired)" if t.expired() else ""
        print(f"{t.id:<8} {(t.expires or 'never') + state:<22} {t.description}")
    rows = token_file.read(home / "tokens.csv")
    if not rows:
        return
    now = time.time()
    print()
    print(f"{'USER':<40} {'EXPIRES':<22} GROUPS")
    for r in rows:
        state = " (expired)" if r.expired(now) else ""
        print(f"{r.user:<40} {(r.expires or 'never') + state:<22} {','.join(r.groups)}")


def _revoke_or_rotate(home: Path, args: argparse.Namespace) -> int:
    if bool(args.user) == bool(args.node):
        print(f"kubelab token {args.verb}: name one --user NAME or --node NAME", file=sys.stderr)
        return 2
    if args.verb == "rotate" and args.node:
        print(
            "kubelab token rotate: a node gets new credentials by joining again: "
            f"kubelab token revoke --node {args.node}, then kubelab join on that box",
            file=sys.stderr,
        )
        return 2
    user = args.user or f"{NODE_USER_PREFIX}{args.node}"
    if user in PROTECTED or user.startswith("system:kube") or user == "system:kubelet":
        print(
            f"kubelab token {args.verb}: {user} is one of the cluster's own identities; "
            "its token is made again at the next start, so revoking it only stops that part",
            file=sys.stderr,
        )
        return 2
    gone = revoke(home, user)
    if args.verb == "revoke":
        if not gone:
            print(f"kubelab token revoke: {user} has no token here", file=sys.stderr)
            return 1
        print(f"revoked {gone} token(s) of {user}; the API refuses them within a second")
        return 0
    path = create_user_token(home, args.user, None, [], args.ttl)
    print(f"rotated {args.user}: {gone} old token(s) revoked, new kubeconfig: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = (args.home or kubelab_home()).expanduser().resolve()
    if not (home / "pki" / "ca.crt").exists() or not (home / "kubeconfig").exists():
        print(
            f"kubelab token: no cluster in {home}: run `kubelab up` first (or pass --home)",
            file=sys.stderr,
        )
        return 1
    try:
        # None: not given (24 hours for a bootstrap token, no expiry for a user token).
        args.ttl_given = args.ttl is not None
        args.ttl = parse_ttl(args.ttl) if args.ttl is not None else None
    except argparse.ArgumentTypeError as exc:
        print(f"kubelab token: --ttl: {exc}", file=sys.stderr)
        return 2
    if args.verb == "list":
        _list(home)
        return 0
    if args.verb in ("revoke", "rotate"):
        return _revoke_or_rotate(home, args)
    if args.user:
        if not args.role:
            print("kubelab token: --user needs --role admin|edit|view", file=sys.stderr)
            return 2
        path = create_user_token(home, args.user, args.role, args.namespace, args.ttl)
        ns = ", ".join(args.namespace) or "every namespace"
        print(f"kubeconfig for {args.user} ({args.role} in {ns}): {path}")
        return 0
    ttl = args.ttl if args.ttl_given else datetime.timedelta(hours=24)
    command, warning = create_join_token(
        home, ttl, args.server, args.description, args.approve_required
    )
    print(command)
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
