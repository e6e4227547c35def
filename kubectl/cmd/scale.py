"""``kl scale``: set the replica count of a Deployment, ReplicaSet or StatefulSet through
``/scale``."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.names import kind_prefix
from kubectl.resources import parse_targets

EXAMPLES = """
  kl scale deploy/web --replicas=5
  kl scale deployment web --replicas 0          # stop every pod, keep the deployment
  kl scale deploy/web --replicas=3 --current-replicas=2   # only if it has 2 now
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "scale", "Set the number of replicas", EXAMPLES)
    p.add_argument("targets", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("--replicas", type=int, required=True, help="the new number of replicas")
    p.add_argument(
        "--current-replicas",
        type=int,
        default=-1,
        help="scale only if the current count is this (-1: any)",
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    if a.replicas < 0:
        raise CliError("--replicas must be 0 or more")
    for t in parse_targets(a.targets):
        if "scale" not in t.info.subresources:
            raise CliError(
                f"{t.info.plural} cannot be scaled (deployments, replicasets and statefulsets can)"
            )
        if not t.names:
            raise CliError(f"name the {t.info.plural} to scale")
        for name in t.names:
            ns = ctx.namespace if t.info.namespaced else None
            if a.current_replicas >= 0:
                cur = ctx.client.get(t.info, name, ns, subresource="scale")
                have = int((cur.get("spec") or {}).get("replicas") or 0)
                if have != a.current_replicas:
                    raise CliError(
                        f"expected {a.current_replicas} replicas of {kind_prefix(t.info)}/{name} "
                        f"but it has {have}; nothing changed"
                    )
            ctx.client.patch(
                t.info,
                name,
                {"spec": {"replicas": a.replicas}},
                ns,
                patch_type="merge",
                subresource="scale",
            )
            ctx.out(f"{kind_prefix(t.info)}/{name} scaled")
    return 0
