"""``kl get``: list or fetch objects and print them as tables, YAML, JSON, names or JSONPath."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.registry import lookup
from kubectl.cli import add_output_flag, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.output import (
    Group,
    check_format,
    render_objects,
    render_table_groups,
    with_type_meta,
    without_managed_fields,
)
from kubectl.printers import custom
from kubectl.printers.columns import build_rows
from kubectl.printers.names import kind_prefix
from kubectl.printers.table import column_widths, render_lines
from kubectl.resources import Target, parse_targets

EXAMPLES = """
  kl get pods                          # pods in the current namespace
  kl get po -o wide                    # with IP, node and the GPUs each pod holds
  kl get deploy,svc -l app=web         # several kinds, filtered by label
  kl get pod web-0 -o yaml             # one object as YAML (feeds kl apply -f -)
  kl get pods -A --field-selector spec.nodeName=gpu-box-1
  kl get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\\n"}{end}'
  kl get pods -w                       # keep printing changes
  kl get pods --sort-by=.metadata.creationTimestamp
  kl get pods -o custom-columns=NAME:.metadata.name,GPUS:.metadata.annotations.kubelab\\.io/gpu-uuids
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "get", "Display one or many resources", EXAMPLES)
    p.add_argument("targets", nargs="*", metavar="TYPE[,TYPE] [NAME...] | TYPE/NAME")
    add_output_flag(p)
    p.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.add_argument(
        "--sort-by",
        metavar="JSONPATH",
        help="sort the list by this field, e.g. .metadata.name or .status.startTime",
    )
    p.add_argument("--no-headers", action="store_true", help="print tables without headers")
    p.add_argument(
        "--show-managed-fields",
        action="store_true",
        help="keep metadata.managedFields in JSON and YAML output",
    )
    p.add_argument(
        "-w", "--watch", action="store_true", help="after listing, keep printing changes"
    )
    p.add_argument(
        "--watch-only", action="store_true", help="print only changes, not the initial list"
    )
    p.add_argument(
        "--ignore-not-found", action="store_true", help="names that do not exist are not an error"
    )
    p.set_defaults(run=run)


def fetch(ctx: Ctx, targets: list[Target]) -> tuple[list[Group], list[str]]:
    """Objects for each target (named ones one by one, collections in one list call) and
    the error messages of names that were not found."""
    args = ctx.args
    c = ctx.client
    ns = ctx.list_namespace()
    groups: list[Group] = []
    errors: list[str] = []
    for t in targets:
        g = Group(t.info)
        if t.names:
            for name in t.names:
                try:
                    obj = c.get(t.info, name, ctx.namespace if t.info.namespaced else None)
                except ApiError as e:
                    if e.code == 404:
                        if not getattr(args, "ignore_not_found", False):
                            errors.append(e.message)
                        continue
                    raise
                g.objects.append(with_type_meta(t.info, obj))
                g.resource_version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        else:
            listing = c.list_all(
                t.info,
                ns if t.info.namespaced else None,
                label_selector=getattr(args, "selector", None),
                field_selector=getattr(args, "field_selector", None),
            )
            g.objects = [with_type_meta(t.info, o) for o in listing["items"]]
            g.resource_version = str((listing.get("metadata") or {}).get("resourceVersion", ""))
        groups.append(g)
    return groups, errors


def _no_resources(ctx: Ctx, targets: list[Target]) -> str:
    if ctx.all_namespaces or not any(t.info.namespaced for t in targets):
        return "No resources found"
    return f"No resources found in {ctx.namespace} namespace."


def run(ctx: Ctx) -> int:
    args = ctx.args
    check_format(args.output)
    if not args.targets:
        raise CliError(
            "you must specify the type of resource to get; "
            "'kl api-resources' lists the supported types"
        )
    targets = parse_targets(args.targets)
    watching = args.watch or args.watch_only
    if watching and len(targets) != 1:
        raise CliError("watch works on one resource type at a time")
    if args.sort_by:
        custom.relaxed(args.sort_by)  # an empty path fails before any call
    if args.output in (None, "wide") and not watching and all(t.info.custom for t in targets):
        return _custom_tables(ctx, targets)
    groups, errors = ([], []) if args.watch_only else fetch(ctx, targets)
    if args.sort_by:
        for g in groups:
            g.objects = custom.sort_objects(g.objects, args.sort_by)
    if args.watch_only:
        listing = ctx.client.list(
            targets[0].info,
            ctx.list_namespace() if targets[0].info.namespaced else None,
            label_selector=args.selector,
            field_selector=args.field_selector,
            limit=1,
        )
        groups = [Group(targets[0].info, [], str(listing["metadata"].get("resourceVersion", "")))]
    fmt = args.output
    kinds = {t.info for t in targets}
    with_kind = len(kinds) > 1 or any(w.split(",")[0] == "all" for w in args.targets[:1])
    all_objects = [o for g in groups for o in g.objects]
    widths: list[int] | None = None
    if not args.watch_only:
        if fmt in (None, "wide"):
            text = render_table_groups(
                groups,
                wide=fmt == "wide",
                with_namespace=ctx.all_namespaces,
                show_labels=args.show_labels,
                with_kind=with_kind,
                no_headers=args.no_headers,
            )
            ctx.stdout.write(text)
            if not all_objects and not errors:
                ctx.err(_no_resources(ctx, targets))
            if all_objects and watching:
                g = groups[0]
                headers, rows = _rows(ctx, g.info.kind, g.objects, with_kind)
                widths = column_widths([headers, *rows])
        else:
            single = len(targets) == 1 and len(targets[0].names) == 1
            if all_objects or not single:
                ctx.stdout.write(
                    render_objects(
                        all_objects, fmt, single, args.no_headers, args.show_managed_fields
                    )
                )
            if not all_objects and not errors and custom.columns_for(fmt) is not None:
                ctx.err(_no_resources(ctx, targets))
        ctx.stdout.flush()
    for e in errors:
        ctx.err(f"error: {e}")
    if watching:
        headed = bool(all_objects) and custom.columns_for(fmt or "") is not None
        _watch(ctx, targets[0], groups[0].resource_version, with_kind, widths, headed)
    return 1 if errors else 0


def _custom_tables(ctx: Ctx, targets: list[Target]) -> int:
    """Custom kinds as tables: the server's columns (its CRD's additionalPrinterColumns)."""
    from kubectl.servertable import fetch_table, table_text

    args = ctx.args
    printed = 0
    errors: list[str] = []
    for t in targets:
        ns = ctx.list_namespace() if t.info.namespaced else None
        names = t.names or [""]
        tables = []
        for name in names:
            try:
                tables.append(
                    fetch_table(
                        ctx.client,
                        t.info,
                        ctx.namespace if name and t.info.namespaced else ns,
                        name,
                        args.selector,
                        args.field_selector,
                    )
                )
            except ApiError as e:
                if e.code == 404 and name:
                    if not args.ignore_not_found:
                        errors.append(e.message)
                    continue
                raise
        if not tables:
            continue
        merged = {**tables[0], "rows": [r for tb in tables for r in tb.get("rows") or []]}
        text, n = table_text(
            merged,
            wide=args.output == "wide",
            with_namespace=ctx.all_namespaces and t.info.namespaced,
            no_headers=args.no_headers,
        )
        ctx.stdout.write(text)
        printed += n
    if not printed and not errors:
        ctx.err(_no_resources(ctx, targets))
    for message in errors:
        ctx.err(f"error: {message}")
    return 1 if errors else 0


def _rows(
    ctx: Ctx, kind: str, objects: list[dict[str, Any]], with_kind: bool
) -> tuple[list[str], list[list[str]]]:
    info = lookup(kind)
    prefix = f"{kind_prefix(info)}/" if with_kind and info else ""
    return build_rows(
        kind,
        objects,
        wide=ctx.args.output == "wide",
        with_namespace=ctx.all_namespaces and bool(info and info.namespaced),
        show_labels=ctx.args.show_labels,
        name_prefix=prefix,
    )


def _watch(
    ctx: Ctx,
    target: Target,
    resource_version: str,
    with_kind: bool,
    widths: list[int] | None,
    headed: bool = False,
) -> None:
    """Print each change after ``resource_version`` until interrupted."""
    args = ctx.args
    info = target.info
    field_selector = args.field_selector
    if target.names:
        by_name = f"metadata.name={target.names[0]}"
        field_selector = f"{field_selector},{by_name}" if field_selector else by_name
    fmt = args.output
    header_done = widths is not None or args.no_headers or headed
    for event in ctx.client.watch_forever(
        info,
        ctx.list_namespace() if info.namespaced else None,
        resource_version=resource_version or None,
        label_selector=args.selector,
        field_selector=field_selector,
    ):
        etype = event.get("type")
        if etype in ("BOOKMARK", None):
            continue
        if etype == "ERROR":
            obj = event.get("object") or {}
            raise CliError(str(obj.get("message") or "the watch ended with an error"))
        obj = with_type_meta(info, event.get("object") or {})
        if not args.show_managed_fields:
            obj = without_managed_fields(obj)
        if fmt in (None, "wide"):
            headers, rows = _rows(ctx, info.kind, [obj], with_kind)
            lines: list[list[str]] = rows
            if not header_done:
                lines = [headers, *rows]
                header_done = True
            w = column_widths([headers, *rows])
            if widths is not None:
                w = [max(a, b) for a, b in zip(w, widths + [0] * len(w), strict=False)]
            widths = w
            ctx.stdout.write(render_lines(lines, widths))
        elif custom.columns_for(fmt) is not None:
            ctx.stdout.write(render_objects([obj], fmt, True, no_headers=header_done))
            header_done = True
        elif fmt == "yaml":
            ctx.stdout.write("---\n" + render_objects([obj], fmt, True))
        else:
            ctx.stdout.write(render_objects([obj], fmt, True))
            if fmt.startswith("jsonpath="):
                ctx.stdout.write("\n")
        ctx.stdout.flush()
