"""``kl delete``: delete objects by name, from manifests, by label or all of a kind."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo
from kubectl.cli import add_bool_flag, add_file_flags, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError, one_line
from kubectl.manifests import (
    Manifest,
    ObjectError,
    failure_line,
    load_manifests,
    resolve_manifest,
    unauthorized,
)
from kubectl.printers.names import object_name, quoted_name
from kubectl.resources import parse_targets
from kubectl.waiting import wait_deleted

EXAMPLES = """
  kl delete pod web-0                  # waits until it is gone
  kl delete deploy/web svc/web
  kl delete -f web.yaml
  kl delete pods -l app=web --wait=false
  kl delete jobs --all
  kl delete deploy web --cascade=orphan   # keep its ReplicaSets and pods
  kl delete pod stuck --grace-period=0 --force
"""

CASCADE = {
    "background": "Background",
    "true": "Background",
    "foreground": "Foreground",
    "orphan": "Orphan",
    "false": "Orphan",
}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "delete", "Delete objects", EXAMPLES)
    p.add_argument("targets", nargs="*", metavar="TYPE [NAME...] | TYPE/NAME")
    add_file_flags(p)
    p.add_argument("-l", "--selector", help="delete the objects matching this label selector")
    p.add_argument("--all", action="store_true", help="delete every object of the type")
    p.add_argument(
        "--cascade",
        default="background",
        choices=sorted(CASCADE),
        help="what happens to dependents: background (default), foreground, orphan",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        help="seconds the pod gets to stop (-1: the pod's own setting)",
    )
    p.add_argument("--now", action="store_true", help="same as --grace-period=1")
    p.add_argument(
        "--force",
        action="store_true",
        help="with --grace-period=0: remove at once, without waiting for the node",
    )
    add_bool_flag(p, "--wait", True, "wait until the objects are gone (default true)")
    p.add_argument(
        "--timeout", type=float, default=0, help="seconds to wait with --wait (0: no limit)"
    )
    p.add_argument(
        "--ignore-not-found", action="store_true", help="names that do not exist are not an error"
    )
    p.add_argument(
        "-o",
        "--output",
        choices=["name"],
        default=None,
        help="'name' prints only kind/name of each deleted object",
    )
    p.set_defaults(run=run)


Item = tuple[ResourceInfo, str, str | None]


def _collect(ctx: Ctx) -> tuple[list[Item], dict[Item, Manifest], list[str]]:
    """(kind, name, namespace) of everything to delete, the manifest each came from
    (with -f), and the errors found on the way."""
    a = ctx.args
    items: list[Item] = []
    sources: dict[Item, Manifest] = {}
    errors: list[str] = []
    if a.filename:
        if a.targets:
            raise CliError("give either -f or TYPE NAME, not both")
        for m in load_manifests(a.filename, a.recursive, ctx.stdin):
            info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
            item = (info, m.obj["metadata"]["name"], ns)
            items.append(item)
            sources[item] = m
        return items, sources, errors
    if not a.targets:
        raise CliError(
            "you must specify the type of resource to delete, e.g. 'kl delete pod NAME', or -f FILE"
        )
    targets = parse_targets(a.targets)
    for t in targets:
        ns = ctx.namespace if t.info.namespaced else None
        if t.names:
            if a.all or a.selector:
                raise CliError("names cannot be combined with --all or -l")
            items.extend((t.info, n, ns) for n in t.names)
            continue
        if not (a.all or a.selector):
            raise CliError(
                f"resource(s) were provided, but no name was specified: name the "
                f"{t.info.plural} to delete, or use -l SELECTOR or --all"
            )
        listing = ctx.client.list_all(
            t.info, ctx.list_namespace() if t.info.namespaced else None, label_selector=a.selector
        )
        for obj in listing["items"]:
            meta = obj.get("metadata") or {}
            items.append((t.info, meta.get("name", ""), meta.get("namespace") or None))
    return items, sources, errors


def run(ctx: Ctx) -> int:
    a = ctx.args
    items, sources, errors = _collect(ctx)
    grace: int | None = None if a.grace_period < 0 else a.grace_period
    if a.now:
        grace = 1
    if a.force and grace is None:
        grace = 0
    if not items and not errors:
        ctx.err("No resources found")
        return 0
    deleted: list[tuple[ResourceInfo, str, str | None]] = []
    for info, name, ns in items:
        try:
            ctx.client.delete(
                info, name, ns, propagation_policy=CASCADE[a.cascade], grace_period_seconds=grace
            )
        except ApiError as e:
            # Every object is tried (a 403 for one kind says nothing of the next);
            # only a refused token stops, since it fails every request alike.
            if e.code == 404 and a.ignore_not_found:
                continue
            m = sources.get((info, name, ns))
            if m is not None:
                if unauthorized(e):
                    raise
                errors.append(failure_line(m, ObjectError("deleting", e)))
                continue
            if e.code != 404 and (e.code == 401 or len(items) == 1):
                raise
            errors.append(f"error: {one_line(e.message)}")
            continue
        deleted.append((info, name, ns))
        if a.output == "name":
            ctx.out(
                object_name(
                    {"apiVersion": info.api_version, "kind": info.kind, "metadata": {"name": name}},
                    info,
                )
            )
        else:
            # kubectl 1.35 names the namespace it deleted from.
            where = f" from {ns} namespace" if ns else ""
            ctx.out(f"{quoted_name(info, name)} deleted{where}")
    if a.wait and deleted:
        left = wait_deleted(ctx.client, deleted, a.timeout or None)
        for info, name, _ in left:
            errors.append(f"error: timed out waiting for {quoted_name(info, name)} to be deleted")
    for line in errors:
        ctx.err(line)
    return 1 if errors else 0
