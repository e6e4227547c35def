"""``kl logs``: print (or follow) the log of a container."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.podselect import pick_container, resolve_pod

EXAMPLES = """
  kl logs web-0                       # the only (or default) container
  kl logs web-0 -c sidecar --tail=20
  kl logs -f job/train                # follow a pod of the job
  kl logs web-0 --previous            # the container before its last restart
  kl logs deploy/web --all-containers --timestamps
  kl logs web-0 --since=10m --limit-bytes=65536
"""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def since_seconds(text: str) -> int:
    """``--since``: a duration like 5s, 2m, 3h or 1h30m, as whole seconds rounded up
    (kubectl's rule)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number and a unit, like 30s, 5m or 1h30m"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--since must be more than 0, got {text!r}")
    return math.ceil(seconds)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return value


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "logs", "Print the log of a container in a pod", EXAMPLES)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument(
        "container_arg", nargs="?", metavar="CONTAINER", help="container name (same as -c)"
    )
    p.add_argument("-c", "--container", help="container name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--tail", type=int, default=-1, help="only the last N lines (-1: all)")
    p.add_argument(
        "-p", "--previous", action="store_true", help="the log of the previous (crashed) instance"
    )
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.add_argument(
        "--since",
        type=since_seconds,
        default=None,
        help="only lines newer than this duration, like 5s, 2m or 3h",
    )
    p.add_argument(
        "--limit-bytes",
        type=positive_int,
        default=None,
        help="at most this many bytes of each container's log",
    )
    p.add_argument(
        "--all-containers", action="store_true", help="every container, one after another"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    pod = resolve_pod(ctx, a.pod)
    name = pod["metadata"]["name"]
    ns = pod["metadata"].get("namespace") or ctx.namespace
    if a.all_containers:
        # Init containers first, in the order they ran (kubectl does the same).
        spec = pod.get("spec") or {}
        containers = [
            c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
        ]
    else:
        containers = [pick_container(ctx, pod, a.container or a.container_arg)]
    tail = a.tail if a.tail >= 0 else None
    for container in containers:
        kwargs: dict[str, Any] = {
            "container": container,
            "tail_lines": tail,
            "previous": a.previous,
            "timestamps": a.timestamps,
            "since_seconds": a.since,
            "limit_bytes": a.limit_bytes,
        }
        if a.follow:
            for line in ctx.client.stream_log(name, ns, follow=True, **kwargs):
                ctx.stdout.write(line)
                ctx.stdout.flush()
        else:
            ctx.stdout.write(ctx.client.log(name, ns, **kwargs))
            ctx.stdout.flush()
    return 0
