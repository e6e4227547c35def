"""``kl replace -f``: put whole objects from manifests in place of the live ones (PUT);
``--force`` deletes each object, waits until it is gone and creates it again."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from api.errors import ApiError
from kubectl.cli import add_file_flags, add_output_flag, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.fieldvalidation import add_validate_flag
from kubectl.manifests import (
    Manifest,
    ObjectError,
    failure_line,
    load_manifests,
    resolve_manifest,
    unauthorized,
)
from kubectl.patches import parse_dry_run
from kubectl.printers.names import object_name, quoted_name

EXAMPLES = """
  kl replace -f web.yaml                   # the object becomes exactly what the file says
  kl get deploy web -o yaml | sed 's/1.25/1.27/' | kl replace -f -
  kl replace --force -f job.yaml           # delete and create again (fields that cannot change)
  kl replace --dry-run=server -f web.yaml  # the server checks it, stores nothing
"""

# Server-owned metadata that a re-created object must not carry.
_CREATE_DROPS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "replace", "Replace objects with the manifests' versions", EXAMPLES)
    add_file_flags(p, required=True)
    p.add_argument(
        "--force",
        action="store_true",
        help="delete each object, wait until it is gone, then create it from the file",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        help="with --force: seconds the deleted object gets to stop (-1: its own default)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --force: how long to wait for the deletion (default 60)",
    )
    p.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        default="none",
        metavar="MODE",
        help="none (default), server (the server checks, stores nothing) or client (print "
        "what would be sent)",
    )
    add_output_flag(p)
    add_validate_flag(p)
    p.set_defaults(run=run)


def _replace(ctx: Ctx, m: Manifest, dry_run: str) -> dict[str, Any]:
    """PUT one object. Without a resourceVersion in the file the live one is used (kubectl's
    overwrite): the file wins, whatever changed since."""
    info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
    name = str(m.obj["metadata"].get("name") or "")
    if not name:
        raise CliError(f"from {m.source}: replace needs metadata.name")
    if dry_run == "client":
        return m.obj
    body = copy.deepcopy(m.obj)
    if not body["metadata"].get("resourceVersion"):
        try:
            live = ctx.client.get(info, name, ns)
            body["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
        except ApiError as e:
            if e.code != 404:
                raise ObjectError("replacing", e) from e
    try:
        return ctx.client.replace(
            info,
            name,
            body,
            ns,
            field_validation=ctx.args.validate,
            dry_run=dry_run == "server",
        )
    except ApiError as e:
        raise ObjectError("replacing", e) from e


def _force_replace(ctx: Ctx, m: Manifest) -> dict[str, Any]:
    """Delete, wait for the object to be gone, create it from the file."""
    from kubectl.waiting import wait_deleted

    info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
    name = str(m.obj["metadata"].get("name") or "")
    a = ctx.args
    try:
        ctx.client.delete(
            info,
            name,
            ns,
            propagation_policy="Background",
            grace_period_seconds=a.grace_period if a.grace_period >= 0 else None,
        )
        ctx.out(f"{quoted_name(info, name)} deleted")
    except ApiError as e:
        if e.code != 404:
            raise ObjectError("deleting", e) from e
    if wait_deleted(ctx.client, [(info, name, ns)], a.timeout):
        raise CliError(
            f"timed out waiting for {quoted_name(info, name)} to be deleted "
            f"(--timeout {a.timeout:g}s); it was not created again"
        )
    body = copy.deepcopy(m.obj)
    for k in _CREATE_DROPS:
        body["metadata"].pop(k, None)
    body.pop("status", None)
    try:
        return ctx.client.create(info, body, ns, field_validation=a.validate)
    except ApiError as e:
        raise ObjectError("creating", e) from e


def run(ctx: Ctx) -> int:
    """Replace every object, each failure on its own line (as kubectl), exit 1 if any."""
    a = ctx.args
    dry_run = parse_dry_run(a.dry_run)
    if a.force and dry_run != "none":
        raise CliError("--dry-run can not be used when --force is set")
    if not a.force and a.grace_period >= 0:
        raise CliError("--grace-period must have --force specified")
    if a.output:
        from kubectl.output import check_format

        check_format(a.output)
    failed = 0
    for m in load_manifests(a.filename, a.recursive, ctx.stdin):
        try:
            obj = _force_replace(ctx, m) if a.force else _replace(ctx, m, dry_run)
        except (ObjectError, ApiError, CliError) as e:
            refused = unauthorized(e)
            if refused is not None:
                raise refused from e
            ctx.err(failure_line(m, e))
            failed += 1
            continue
        if a.output and a.output != "name":
            from kubectl.output import render_objects

            ctx.out(render_objects([obj], a.output, single=True), end="")
        elif a.output == "name":
            ctx.out(object_name(m.obj))
        else:
            suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
            ctx.out(f"{object_name(m.obj)} replaced{suffix}")
    return 1 if failed else 0
