"""``kl set image``: change container images of a workload (starts a rollout)."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.cli import KlParser, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.names import kind_prefix
from kubectl.resources import parse_targets

EXAMPLES = """
  kl set image deploy/web nginx=nginx:1.27     # container "nginx" gets a new image
  kl set image deployment web '*=nginx:1.27'   # every container
  kl set image job/train trainer=lab/trainer:v2
"""


def register(sub: Any, parent: KlParser) -> None:
    p = add_verb(sub, parent, "set", "Set fields of objects (image)", EXAMPLES)
    verbs = p.add_subparsers(title="what to set", metavar="FIELD", parser_class=KlParser)
    img = verbs.add_parser(
        "image",
        parents=[parent],
        help="container images",
        description="Set container images; each CONTAINER=IMAGE (or *=IMAGE for all).",
        epilog="examples:\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    img.add_argument(
        "words",
        nargs="+",
        metavar="ARG",
        help="TYPE NAME (or TYPE/NAME), then CONTAINER=IMAGE (or *=IMAGE) pairs",
    )
    img.set_defaults(run=run)
    p.set_defaults(run=_need_field)


def _need_field(ctx: Ctx) -> int:
    raise CliError("say what to set: kl set image TYPE/NAME CONTAINER=IMAGE")


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def run(ctx: Ctx) -> int:
    words = ctx.args.words
    pairs = [w for w in words if "=" in w]
    objects = [w for w in words if "=" not in w]
    if not pairs:
        raise CliError("give at least one CONTAINER=IMAGE")
    images: dict[str, str] = {}
    for p in pairs:
        name, _, image = p.partition("=")
        if not name or not image:
            raise CliError(f"expected CONTAINER=IMAGE, got {p!r}")
        images[name] = image
    for t in parse_targets(objects):
        for name in t.names:
            ns = ctx.namespace if t.info.namespaced else None
            obj = ctx.client.get(t.info, name, ns)
            obj.setdefault("kind", t.info.kind)
            spec = _pod_spec(obj)
            patch_containers: dict[str, list[dict[str, Any]]] = {}
            for field in ("initContainers", "containers"):
                for c in spec.get(field) or []:
                    img = images.get(c.get("name"), images.get("*"))
                    if img is not None:
                        patch_containers.setdefault(field, []).append(
                            {"name": c["name"], "image": img}
                        )
            unknown = [
                n
                for n in images
                if n != "*"
                and not any(
                    c.get("name") == n
                    for f in ("initContainers", "containers")
                    for c in spec.get(f) or []
                )
            ]
            if unknown:
                raise CliError(
                    f"unable to find container named {unknown[0]!r} in {kind_prefix(t.info)}/{name}"
                )
            pod_spec_patch: dict[str, Any] = dict(patch_containers)
            if t.info.kind == "Pod":
                patch = {"spec": pod_spec_patch}
            else:
                patch = {"spec": {"template": {"spec": pod_spec_patch}}}
            ctx.client.patch(t.info, name, patch, ns, patch_type="strategic")
            ctx.out(f"{kind_prefix(t.info)}/{name} image updated")
    return 0
