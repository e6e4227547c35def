"""``kl label``: add, change or remove labels."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl import labeling
from kubectl.cli import add_verb
from kubectl.context import Ctx

EXAMPLES = """
  kl label pod web-0 tier=frontend
  kl label node gpu-box-1 lab.io/owner=alice
  kl label pods -l app=web version=v2 --overwrite
  kl label deploy/web tier-                  # remove the label "tier"
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "label", "Update the labels of objects", EXAMPLES)
    labeling.add_flags(p, "labels")
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    return labeling.run(ctx, "labels", "label")
