"""``kl apply -f``: create or update objects from manifests, keeping what others set."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from kubectl.applypatch import apply_patch, with_last_applied
from kubectl.cli import add_file_flags, add_verb
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
from kubectl.printers.names import object_name

EXAMPLES = """
  kl apply -f web.yaml                 # create, or update what changed
  kl apply -f manifests/ -R            # every .yaml/.yml/.json below a directory
  cat web.yaml | kl apply -f -         # from stdin
  kl get deploy web -o yaml | kl apply -f -   # a no-op: prints "unchanged"
  kl apply --server-side -f web.yaml   # the server merges (field manager "kl")
  kl apply --validate=warn -f web.yaml # drop unknown fields with a warning (default: refuse)
"""

CONFLICT_RETRIES = 5


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "apply", "Create or update objects from manifests", EXAMPLES)
    add_file_flags(p, required=True)
    p.add_argument(
        "-o",
        "--output",
        choices=["name"],
        default=None,
        help="'name' prints only kind/name of each object",
    )
    p.add_argument(
        "--server-side",
        action="store_true",
        help="let the server merge the manifest (an apply patch) instead of kl",
    )
    p.add_argument(
        "--field-manager",
        default="kl",
        help="with --server-side: the name that owns the fields applied (default kl)",
    )
    p.add_argument(
        "--force-conflicts",
        action="store_true",
        help="with --server-side: take fields that another manager set",
    )
    add_validate_flag(p)
    p.set_defaults(run=run)


def apply_server_side(ctx: Ctx, m: Manifest) -> str:
    """One apply patch: the server creates the object or merges the manifest into it."""
    info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
    name = (m.obj.get("metadata") or {}).get("name")
    if not name:
        raise CliError(f"from {m.source}: apply needs metadata.name")
    args = ctx.args
    try:
        ctx.client.patch(
            info,
            name,
            m.obj,
            ns,
            patch_type="apply",
            field_manager=args.field_manager,
            force=True if args.force_conflicts else None,
            field_validation=args.validate,
        )
    except ApiError as e:
        raise ObjectError("patching", e) from e
    return "serverside-applied"


def apply_one(ctx: Ctx, m: Manifest) -> str:
    """Apply one object; returns ``created``, ``configured`` or ``unchanged``. A refusal
    raises ObjectError naming what kl was doing, worded as kubectl's."""
    info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
    name = m.obj["metadata"].get("name")
    if not name:
        raise CliError(
            f"from {m.source}: apply needs metadata.name (generateName cannot be applied)"
        )
    c = ctx.client
    validation = ctx.args.validate
    for attempt in range(CONFLICT_RETRIES):
        try:
            live = c.get(info, name, ns)
        except ApiError as e:
            if e.code != 404:
                where = f' in namespace "{ns}"' if ns else ""
                raise ObjectError(
                    f'retrieving current configuration of {info.plural} "{name}"{where} '
                    "from server for:",
                    e,
                ) from e
            try:
                c.create(info, with_last_applied(m.obj), ns, field_validation=validation)
            except ApiError as e:
                raise ObjectError("creating", e) from e
            return "created"
        patch = apply_patch(m.obj, live)
        if not patch:
            return "unchanged"
        try:
            c.patch(info, name, patch, ns, patch_type="strategic", field_validation=validation)
            return "configured"
        except ApiError as e:
            # A conflict caused by a resourceVersion the user wrote will not go away.
            user_rv = (m.obj.get("metadata") or {}).get("resourceVersion")
            if e.code != 409 or user_rv or attempt == CONFLICT_RETRIES - 1:
                raise ObjectError("patching", e) from e
    raise AssertionError("unreachable")


def run(ctx: Ctx) -> int:
    """Apply every object, each failure on its own line (as kubectl), exit 1 if any failed."""
    args = ctx.args
    if not args.server_side and (args.force_conflicts or args.field_manager != "kl"):
        raise CliError("--force-conflicts and --field-manager go with --server-side")
    manifests = load_manifests(args.filename, args.recursive, ctx.stdin)
    apply = apply_server_side if args.server_side else apply_one
    failed = 0
    for m in manifests:
        try:
            result = apply(ctx, m)
        except (ObjectError, ApiError, CliError) as e:
            refused = unauthorized(e)
            if refused is not None:
                raise refused from e
            ctx.err(failure_line(m, e))
            failed += 1
            continue
        name = object_name(m.obj)
        ctx.out(name if ctx.args.output == "name" else f"{name} {result}")
    return 1 if failed else 0
