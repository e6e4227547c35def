"""``kl autoscale``: create an autoscaling/v2 HorizontalPodAutoscaler for a Deployment,
ReplicaSet, StatefulSet or ReplicationController, with kubectl's flags and messages."""

from __future__ import annotations

import argparse
from typing import Any

from api.registry import lookup
from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.names import kind_prefix
from kubectl.resources import parse_targets

EXAMPLES = """
  kl autoscale deployment/web --min 1 --max 5 --cpu-percent 50
  kl autoscale rc foo --max 5 --cpu-percent 80   # min 1 (the default)
  kl autoscale sts/model --max 3 --name model-hpa
"""
SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        parent,
        "autoscale",
        "Auto-scale a deployment, replica set, stateful set, or replication controller",
        EXAMPLES,
    )
    p.add_argument("targets", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("--min", type=int, default=-1, help="the lower limit of pods (default 1)")
    p.add_argument("--max", type=int, default=-1, help="the upper limit of pods (required)")
    p.add_argument(
        "--cpu-percent",
        type=int,
        default=-1,
        help="the target average CPU utilization over all the pods, as a percent of their "
        "request (default: the server's, 80)",
    )
    p.add_argument("--name", default="", help="the new autoscaler's name (default: the target's)")
    p.set_defaults(run=run)


def autoscaler(kind: str, api_version: str, name: str, a: argparse.Namespace) -> dict[str, Any]:
    """The HPA ``kl autoscale`` creates (kubectl's, in autoscaling/v2)."""
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": name},
        "maxReplicas": a.max,
    }
    if a.min > 0:
        spec["minReplicas"] = a.min
    if a.cpu_percent >= 0:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": a.cpu_percent},
                },
            }
        ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": a.name or name},
        "spec": spec,
    }


def run(ctx: Ctx) -> int:
    a = ctx.args
    if a.max < 1:
        raise CliError(f"--max=MAXPODS is required and must be at least 1, max: {a.max}")
    if a.max < a.min:
        raise CliError(
            f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {a.max}, min: {a.min}"
        )
    hpa_info = lookup("horizontalpodautoscalers")
    assert hpa_info is not None
    for t in parse_targets(a.targets):
        if t.info.kind not in SCALABLE:
            raise CliError(f"cannot autoscale a {t.info.kind}: not a scalable resource")
        if not t.names:
            raise CliError(f"name the {t.info.plural} to autoscale")
        for name in t.names:
            ctx.client.get(t.info, name, ctx.namespace)  # a missing target is a NotFound
            body = autoscaler(t.info.kind, t.info.api_version, name, a)
            ctx.client.create(hpa_info, body, ctx.namespace)
            ctx.out(f"{kind_prefix(hpa_info)}/{body['metadata']['name']} autoscaled")
    return 0
