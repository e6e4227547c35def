"""What ``kl label`` and ``kl annotate`` share: KEY=VALUE / KEY- arguments, overwrite
checks, and a merge patch of ``metadata.labels`` or ``metadata.annotations``."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.names import kind_prefix
from kubectl.resources import parse_targets


def add_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "words",
        nargs="+",
        metavar="ARG",
        help="TYPE NAME (or TYPE/NAME), then KEY=VALUE to set and KEY- to remove",
    )
    p.add_argument(
        "--overwrite", action="store_true", help=f"allow changing {what} that already have a value"
    )
    p.add_argument("-l", "--selector", help="act on objects matching this label selector")
    p.add_argument("--all", action="store_true", help="act on every object of the type")
    p.add_argument("--list", action="store_true", help=f"print the {what} instead")


def split_changes(words: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(object words, keys to set, keys to remove)."""
    objects, sets, removes = [], {}, []
    for w in words:
        if "=" in w:
            k, _, v = w.partition("=")
            if not k:
                raise CliError(f"invalid KEY=VALUE {w!r}")
            sets[k] = v
        elif w.endswith("-") and len(w) > 1:  # object names never end in "-"
            removes.append(w[:-1])
        else:
            objects.append(w)
    return objects, sets, removes


def run(ctx: Ctx, field: str, verb: str) -> int:
    """Label or annotate (``field`` = ``labels``/``annotations``, ``verb`` = ``label``…)."""
    a = ctx.args
    objects, sets, removes = split_changes(a.words)
    if not sets and not removes and not a.list:
        raise CliError(f"give at least one KEY=VALUE or KEY- to {verb}")
    targets = parse_targets(objects)
    if not targets:
        raise CliError("you must specify the type of resource")
    for t in targets:
        ns = ctx.namespace if t.info.namespaced else None
        if t.names:
            objs = [ctx.client.get(t.info, n, ns) for n in t.names]
        elif a.selector or a.all:
            objs = ctx.client.list_all(t.info, ns, label_selector=a.selector)["items"]
        else:
            raise CliError(f"name the {t.info.plural} to {verb}, or use -l SELECTOR or --all")
        for obj in objs:
            meta = obj.get("metadata") or {}
            current: dict[str, Any] = meta.get(field) or {}
            name = meta.get("name", "")
            if a.list:
                for k, v in sorted(current.items()):
                    ctx.out(f"{k}={v}")
                continue
            for k, v in sets.items():
                if k in current and current[k] != v and not a.overwrite:
                    raise CliError(
                        f"'{k}' already has a value ({current[k]}), and --overwrite is false"
                    )
            change: dict[str, Any] = {k: v for k, v in sets.items() if current.get(k) != v}
            change.update({k: None for k in removes if k in current})
            prefix = f"{kind_prefix(t.info)}/{name}"
            past = "labeled" if verb == "label" else "annotated"
            if not change:
                ctx.out(f"{prefix} not {past}")
                continue
            ctx.client.patch(t.info, name, {"metadata": {field: change}}, ns, patch_type="merge")
            if all(v is None for v in change.values()):
                past = "unlabeled" if verb == "label" else "annotated"
            ctx.out(f"{prefix} {past}")
    return 0
