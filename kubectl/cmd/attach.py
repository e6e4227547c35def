"""``kl attach POD``: the output (and with ``-i`` the stdin) of a container's running
process, as ``kubectl attach`` does, over the same WebSocket protocol as ``kl exec``."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.cli import add_verb
from kubectl.cmd.exec import flags, stream, terminal_ok
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.podselect import pick_container, resolve_pod

EXAMPLES = """
  kl attach web-0                           # its output from now on, until it exits
  kl attach -it shell -c main               # its terminal (the container has tty: true)
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "attach", "Attach to a running container", EXAMPLES)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("-c", "--container", help="container name")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="only print output from the remote session"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    pod = resolve_pod(ctx, a.pod)
    container = pick_container(ctx, pod, a.container)
    meta = pod["metadata"]
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot attach a container in a completed pod; current phase is {phase}")
    spec: dict[str, Any] = next(
        (c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == container),
        {},
    )
    tty = bool(a.tty)
    if tty and not spec.get("tty"):
        tty = False
        if not a.quiet:
            ctx.err(f"error: Unable to use a TTY - container {container} did not allocate one")
    elif not tty and spec.get("tty"):
        tty = True  # the container's output is a terminal's: read it as one
    stdin = bool(a.stdin) and bool(spec.get("stdin"))
    if a.stdin and not stdin and not a.quiet:
        ctx.err(f"Unable to attach to stdin: container {container} has no stdin (stdin: true)")
    if tty and stdin:
        tty = terminal_ok(ctx, quiet=a.quiet)
        if tty and not a.quiet:
            ctx.err("If you don't see a command prompt, try pressing enter.")
    query = [("container", container)]
    query += flags(stdin=stdin, stdout=True, stderr=not tty, tty=tty)
    return stream(ctx, meta.get("namespace") or ctx.namespace, meta["name"], "attach", query, tty)
