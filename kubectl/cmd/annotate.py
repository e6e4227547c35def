"""``kl annotate``: add, change or remove annotations."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl import labeling
from kubectl.cli import add_verb
from kubectl.context import Ctx

EXAMPLES = """
  kl annotate deploy web owner='alice@lab'
  kl annotate pod web-0 note='debugging' --overwrite
  kl annotate pods --all reviewed=yes
  kl annotate deploy/web owner-               # remove the annotation "owner"
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "annotate", "Update the annotations of objects", EXAMPLES)
    labeling.add_flags(p, "annotations")
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    return labeling.run(ctx, "annotations", "annotate")
