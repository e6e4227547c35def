"""``kl config view|get-contexts|current-context|use-context|set-context``."""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from client.kubeconfig import KubeconfigError, read_kubeconfig
from kubectl.cli import KlParser
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.serial import to_json, to_yaml
from kubectl.printers.table import render_table

EXAMPLES = """
  kl config view                     # secrets shown as REDACTED / DATA+OMITTED
  kl config view --raw               # the file as is
  kl config get-contexts
  kl config use-context lab-b
  kl config set-context --current --namespace=research
  kl config current-context
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "config",
        parents=[parent],
        help="Show or change kubeconfig contexts",
        description="Show or change the kubeconfig file kl uses.",
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=_need_verb)
    verbs = p.add_subparsers(title="config verbs", metavar="VERB", parser_class=KlParser)

    def add(name: str, summary: str, fn: Any, example: str) -> argparse.ArgumentParser:
        # "resolve": set-context's own --namespace wins over the global one.
        v = verbs.add_parser(
            name,
            parents=[parent],
            help=summary,
            description=summary,
            conflict_handler="resolve",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        v.set_defaults(run=fn)
        return v

    v = add("view", "Print the kubeconfig", view, "kl config view --minify")
    v.add_argument("--raw", action="store_true", help="show tokens and certificates")
    v.add_argument("--minify", action="store_true", help="only the current context")
    v.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    v = add("get-contexts", "List contexts", get_contexts, "kl config get-contexts")
    v.add_argument("name", nargs="?", help="only this context")
    add(
        "current-context", "Print the current context", current_context, "kl config current-context"
    )
    v = add("use-context", "Switch the current context", use_context, "kl config use-context lab-b")
    v.add_argument("name")
    v = add(
        "set-context",
        "Change a context's namespace",
        set_context,
        "kl config set-context --current --namespace=research",
    )
    v.add_argument("name", nargs="?", help="context to change (or --current)")
    v.add_argument("--current", action="store_true", help="change the current context")
    v.add_argument("--namespace", dest="ctx_namespace", help="the context's default namespace")


def _need_verb(ctx: Ctx) -> int:
    raise CliError("say which: kl config view|get-contexts|current-context|use-context|set-context")


def _load(ctx: Ctx) -> tuple[Path, dict[str, Any]]:
    try:
        return read_kubeconfig(ctx.args.kubeconfig)
    except KubeconfigError as e:
        raise CliError(str(e)) from e


def _save(path: Path, doc: dict[str, Any]) -> None:
    """Write atomically and keep the file private (it holds a token)."""
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _redact(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for c in out.get("clusters") or []:
        cl = c.get("cluster") or {}
        if "certificate-authority-data" in cl:
            cl["certificate-authority-data"] = "DATA+OMITTED"
    for u in out.get("users") or []:
        us = u.get("user") or {}
        for k in ("token", "password"):
            if k in us:
                us[k] = "REDACTED"
        for k in ("client-certificate-data", "client-key-data"):
            if k in us:
                us[k] = "DATA+OMITTED"
    return out


def _current_name(ctx: Ctx, doc: dict[str, Any]) -> str:
    return str(ctx.args.context or doc.get("current-context") or "")


def view(ctx: Ctx) -> int:
    _, doc = _load(ctx)
    if ctx.args.minify:
        cur = _current_name(ctx, doc)
        context = next((c for c in doc.get("contexts") or [] if c.get("name") == cur), None)
        if context is None:
            raise CliError(f'current-context "{cur}" is not in the kubeconfig')
        inner = context.get("context") or {}
        doc = {
            **{k: v for k, v in doc.items() if k not in ("clusters", "users", "contexts")},
            "clusters": [
                c for c in doc.get("clusters") or [] if c.get("name") == inner.get("cluster")
            ],
            "users": [u for u in doc.get("users") or [] if u.get("name") == inner.get("user")],
            "contexts": [context],
            "current-context": cur,
        }
    if not ctx.args.raw:
        doc = _redact(doc)
    ctx.stdout.write(to_json(doc) if ctx.args.output == "json" else to_yaml(doc))
    return 0


def get_contexts(ctx: Ctx) -> int:
    _, doc = _load(ctx)
    cur = _current_name(ctx, doc)
    rows = []
    for c in doc.get("contexts") or []:
        name = str(c.get("name", ""))
        if ctx.args.name and name != ctx.args.name:
            continue
        inner = c.get("context") or {}
        rows.append(
            [
                "*" if name == cur else "",
                name,
                inner.get("cluster", ""),
                inner.get("user", ""),
                inner.get("namespace", ""),
            ]
        )
    if ctx.args.name and not rows:
        raise CliError(f"context {ctx.args.name} not found")
    ctx.stdout.write(render_table(["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"], rows))
    return 0


def current_context(ctx: Ctx) -> int:
    _, doc = _load(ctx)
    cur = doc.get("current-context")
    if not cur:
        raise CliError("current-context is not set")
    ctx.out(str(cur))
    return 0


def use_context(ctx: Ctx) -> int:
    path, doc = _load(ctx)
    names = [c.get("name") for c in doc.get("contexts") or []]
    if ctx.args.name not in names:
        raise CliError(f'no context exists with the name: "{ctx.args.name}"')
    doc["current-context"] = ctx.args.name
    _save(path, doc)
    ctx.out(f'Switched to context "{ctx.args.name}".')
    return 0


def set_context(ctx: Ctx) -> int:
    path, doc = _load(ctx)
    name = doc.get("current-context") if ctx.args.current else ctx.args.name
    if not name:
        raise CliError("name a context or pass --current")
    for c in doc.get("contexts") or []:
        if c.get("name") == name:
            if ctx.args.ctx_namespace is not None:
                c.setdefault("context", {})["namespace"] = ctx.args.ctx_namespace
            _save(path, doc)
            ctx.out(f'Context "{name}" modified.')
            return 0
    raise CliError(f'no context exists with the name: "{name}"')
