"""``kl api-resources``: the kinds the server serves (from its discovery documents)."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.printers.table import render_table

EXAMPLES = """
  kl api-resources
  kl api-resources --namespaced=false
  kl api-resources -o name
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "api-resources", "List the kinds the server serves", EXAMPLES)
    p.add_argument("--namespaced", choices=["true", "false"], help="only (not) namespaced kinds")
    p.add_argument("--api-group", help="only this API group ('' for core)")
    p.add_argument(
        "-o", "--output", choices=["wide", "name"], help="wide adds VERBS; name lists names"
    )
    p.set_defaults(run=run)


def discover(ctx: Ctx) -> list[dict[str, Any]]:
    """Every top-level resource from /api/v1 and each group's preferred version."""
    c = ctx.client
    out: list[dict[str, Any]] = []
    lists: list[dict[str, Any]] = []
    for v in c.request("GET", "/api").json().get("versions") or []:
        lists.append(c.request("GET", f"/api/{v}").json())
    for g in c.request("GET", "/apis").json().get("groups") or []:
        gv = (g.get("preferredVersion") or {}).get("groupVersion")
        if gv:
            lists.append(c.request("GET", f"/apis/{gv}").json())
    for rl in lists:
        gv = rl.get("groupVersion", "")
        for r in rl.get("resources") or []:
            if "/" in r.get("name", ""):
                continue  # subresources
            out.append({**r, "groupVersion": gv})
    return out


def run(ctx: Ctx) -> int:
    a = ctx.args
    rows = []
    for r in sorted(
        discover(ctx),
        key=lambda r: (
            r["groupVersion"].partition("/")[0] if "/" in r["groupVersion"] else "",
            r["name"],
        ),
    ):
        group = r["groupVersion"].split("/")[0] if "/" in r["groupVersion"] else ""
        if a.namespaced is not None and bool(r.get("namespaced")) != (a.namespaced == "true"):
            continue
        if a.api_group is not None and group != a.api_group:
            continue
        if a.output == "name":
            ctx.out(f"{r['name']}.{group}" if group else r["name"])
            continue
        row = [
            r["name"],
            ",".join(r.get("shortNames") or []),
            r["groupVersion"],
            "true" if r.get("namespaced") else "false",
            r.get("kind", ""),
        ]
        if a.output == "wide":
            row.append("[" + " ".join(r.get("verbs") or []) + "]")
        rows.append(row)
    if a.output != "name":
        headers = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if a.output == "wide":
            headers.append("VERBS")
        ctx.stdout.write(render_table(headers, rows))
    return 0
