"""``kl patch``: change fields of objects with a strategic merge, JSON merge or JSON patch."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo
from kubectl.cli import add_output_flag, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError, one_line
from kubectl.patches import (
    apply_locally,
    check_patch_type,
    parse_dry_run,
    patch_body,
    patch_outcome,
    patch_text,
)
from kubectl.printers.names import kind_prefix
from kubectl.resources import parse_targets

EXAMPLES = """
  kl patch deploy/web -p '{"spec":{"replicas":3}}'          # strategic merge (default)
  kl patch deploy web --type merge -p 'spec: {replicas: 3}'  # YAML works too
  kl patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":3}]'
  kl patch deploy web --patch-file fix.yaml
  kl patch deploy web --subresource scale -p '{"spec":{"replicas":2}}'
  kl patch node gpu-1 -p '{"spec":{"unschedulable":true}}' --dry-run=server -o yaml
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "patch", "Update fields of objects with a patch", EXAMPLES)
    p.add_argument("targets", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        metavar="PATH",
        help="patch the objects named in these manifests",
    )
    p.add_argument("-p", "--patch", default=None, help="the patch, JSON or YAML")
    p.add_argument("--patch-file", default=None, metavar="PATH", help="read the patch from PATH")
    p.add_argument(
        "--type",
        default="strategic",
        metavar="TYPE",
        help="json, merge or strategic (default)",
    )
    p.add_argument(
        "--subresource",
        default="",
        help="patch this subresource (status, scale) instead of the object",
    )
    p.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        default="none",
        metavar="MODE",
        help="none (default), server (the server checks, stores nothing) or client "
        "(kl applies the patch to the object it read, sends nothing)",
    )
    add_output_flag(p)
    p.set_defaults(run=run)


def _objects(ctx: Ctx) -> list[tuple[ResourceInfo, str, str | None]]:
    """Every (kind, name, namespace) named on the command line or in ``-f`` files."""
    a = ctx.args
    out: list[tuple[ResourceInfo, str, str | None]] = []
    if a.filename:
        if a.targets:
            raise CliError("name the objects either with -f or as TYPE NAME, not both")
        from kubectl.manifests import load_manifests, resolve_manifest

        for m in load_manifests(a.filename, False, ctx.stdin):
            info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
            out.append((info, str(m.obj["metadata"].get("name", "")), ns))
        return out
    if not a.targets:
        raise CliError("you must provide one or more resources by argument or filename")
    for t in parse_targets(a.targets):
        if not t.names:
            raise CliError("resource(s) were provided, but no name was specified")
        for name in t.names:
            out.append((t.info, name, ctx.namespace if t.info.namespaced else None))
    return out


def printed_name(info: ResourceInfo, name: str, obj: dict[str, Any]) -> str:
    """kubectl names what the server answered: ``scale.autoscaling/web`` for a patch of
    ``--subresource scale``, ``deployment.apps/web`` for the object itself."""
    kind, api_version = str(obj.get("kind") or ""), str(obj.get("apiVersion") or "")
    if not kind or kind == info.kind:
        return f"{kind_prefix(info)}/{name}"
    group = api_version.rpartition("/")[0]
    return f"{kind.lower()}.{group}/{name}" if group else f"{kind.lower()}/{name}"


def _print(ctx: Ctx, info: ResourceInfo, name: str, obj: dict[str, Any], outcome: str) -> None:
    fmt = ctx.args.output
    if fmt and fmt != "name":
        from kubectl.output import render_objects

        ctx.out(render_objects([obj], fmt, single=True), end="")
    elif fmt == "name":
        ctx.out(printed_name(info, name, obj))
    else:
        ctx.out(f"{printed_name(info, name, obj)} {outcome}")


def patch_one(
    ctx: Ctx,
    info: ResourceInfo,
    name: str,
    ns: str | None,
    body: bytes,
    dry_run: str,
) -> None:
    a = ctx.args
    before = ctx.client.get(info, name, ns, subresource=a.subresource)
    if dry_run == "client":
        after = apply_locally(before, body, a.type)
    else:
        after = ctx.client.patch(
            info,
            name,
            body,
            ns,
            patch_type=a.type,
            subresource=a.subresource,
            dry_run=dry_run == "server",
        )
    _print(ctx, info, name, after, patch_outcome(before, after))


def run(ctx: Ctx) -> int:
    """Patch each object; a refusal is one line and the others still go (as kubectl)."""
    a = ctx.args
    check_patch_type(a.type)
    dry_run = parse_dry_run(a.dry_run)
    if a.output:
        from kubectl.output import check_format

        check_format(a.output)
    body = patch_body(patch_text(a.patch, a.patch_file))
    failed = 0
    for info, name, ns in _objects(ctx):
        try:
            patch_one(ctx, info, name, ns, body, dry_run)
        except ApiError as e:
            if e.code in (401, 403):  # the same for every object: said once, by main
                raise
            ctx.err(f"error: {one_line(e.message)}")
            failed += 1
    return 1 if failed else 0
