"""``kl logs``: print (or follow) the log of a container."""

from __future__ import annotations

import argparse
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
"""


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
        "--all-containers", action="store_true", help="every container, one after another"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    pod = resolve_pod(ctx, a.pod)
    name = pod["metadata"]["name"]
    ns = pod["metadata"].get("namespace") or ctx.namespace
    if a.all_containers:
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    else:
        containers = [pick_container(ctx, pod, a.container or a.container_arg)]
    tail = a.tail if a.tail >= 0 else None
    for container in containers:
        kwargs: dict[str, Any] = {
            "container": container,
            "tail_lines": tail,
            "previous": a.previous,
            "timestamps": a.timestamps,
        }
        if a.follow:
            for line in ctx.client.stream_log(name, ns, follow=True, **kwargs):
                ctx.stdout.write(line)
                ctx.stdout.flush()
        else:
            ctx.stdout.write(ctx.client.log(name, ns, **kwargs))
            ctx.stdout.flush()
    return 0
