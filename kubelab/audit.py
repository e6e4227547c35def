"""`kubelab audit`: the recent entries of this box's audit log, filtered, one line each.

    kubelab audit --verb delete --resource jobs -n lab      # who deleted my job
    kubelab audit --user alice --since 2h

Reads ``HOME/logs/audit.log`` and its rotated files (the apiserver writes them; see
apiserver/audit.py), newest last.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from api.home import kubelab_home


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab audit",
        description="Show recent entries of the apiserver's audit log on this box.",
        epilog="example: kubelab audit --verb delete --resource jobs -n lab",
    )
    p.add_argument(
        "--home", type=Path, default=kubelab_home(), help="the cluster's state directory"
    )
    p.add_argument(
        "--log", type=Path, default=None, help="the audit log (default HOME/logs/audit.log)"
    )
    p.add_argument("--user", help="only this user")
    p.add_argument("--verb", help="only this verb (create, update, patch, delete, ...)")
    p.add_argument("--resource", help="only this resource (plural: jobs, pods, secrets)")
    p.add_argument("-n", "--namespace", help="only this namespace")
    p.add_argument("--name", help="only objects of this name")
    p.add_argument("--since", default="", help="only entries newer than this: 30m, 2h, 1d")
    p.add_argument("--limit", type=int, default=50, help="at most this many, the newest (50)")
    return p


def _since(text: str) -> datetime | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"--since {text!r}: a number and s, m, h or d (e.g. 30m, 2h)")
    return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])


def _entries(log: Path) -> Iterator[dict[str, Any]]:
    rotated = sorted(log.parent.glob(log.name + ".*"), key=lambda p: -int(p.suffix[1:] or 0))
    for path in [*(p for p in rotated if p.suffix[1:].isdigit()), log]:
        try:
            lines = path.read_bytes().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut by a crash


def matches(e: dict[str, Any], args: argparse.Namespace, since: datetime | None) -> bool:
    ref = e.get("objectRef") or {}
    if args.user and (e.get("user") or {}).get("username") != args.user:
        return False
    if args.verb and e.get("verb") != args.verb:
        return False
    if args.resource and ref.get("resource") != args.resource:
        return False
    if args.namespace and ref.get("namespace") != args.namespace:
        return False
    if args.name and ref.get("name") != args.name:
        return False
    if since is not None:
        stamp = str(e.get("requestReceivedTimestamp") or "")
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        if when < since:
            return False
    return True


def line(e: dict[str, Any]) -> str:
    ref = e.get("objectRef") or {}
    what = ref.get("resource", "")
    if ref.get("subresource"):
        what += "/" + ref["subresource"]
    obj = "/".join(x for x in (ref.get("namespace"), ref.get("name")) if x)
    code = (e.get("responseStatus") or {}).get("code", "")
    return (
        f"{e.get('requestReceivedTimestamp', '')}  {(e.get('user') or {}).get('username', '')}  "
        f"{e.get('verb', '')} {what} {obj}  -> {code}"
    ).rstrip()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        since = _since(args.since)
    except ValueError as exc:
        print(f"kubelab audit: {exc}", file=sys.stderr)
        return 2
    log = args.log or args.home.expanduser() / "logs" / "audit.log"
    if not log.exists():
        print(
            f"kubelab audit: no audit log at {log}: is the apiserver running with this "
            "--home (or give --log)?",
            file=sys.stderr,
        )
        return 1
    found = [e for e in _entries(log) if matches(e, args, since)]
    for e in found[-args.limit :]:
        print(line(e))
    if not found:
        print("no matching entries", file=sys.stderr)
    return 0
