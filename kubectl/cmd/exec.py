"""``kl exec POD -- CMD...``: run a command in a container (non-interactive)."""

from __future__ import annotations

import argparse
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.podselect import pick_container, resolve_pod

EXAMPLES = """
  kl exec web-0 -- ls /usr/share/nginx/html
  kl exec web-0 -c sidecar -- cat /etc/hostname
  kl exec deploy/web -- env                 # in one of the deployment's pods
  kl exec train-x7k2 -- nvidia-smi -L       # which GPUs the container sees
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "exec", "Run a command in a container", EXAMPLES)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("-c", "--container", help="container name")
    p.add_argument(
        "-i", "--stdin", action="store_true", help="not supported (kubelab exec is non-interactive)"
    )
    p.add_argument(
        "-t", "--tty", action="store_true", help="not supported (kubelab exec is non-interactive)"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    command = list(a.trailing)
    if not command:
        raise CliError("give the command after --, e.g. kl exec POD -- ls /")
    if a.stdin or a.tty:
        raise CliError(
            "kubelab exec is non-interactive; drop -i/-t (output is returned when the command ends)"
        )
    pod = resolve_pod(ctx, a.pod)
    container = pick_container(ctx, pod, a.container)
    meta = pod["metadata"]
    ns = meta.get("namespace") or ctx.namespace
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    path = f"/api/v1/namespaces/{ns}/pods/{meta['name']}/exec"
    resp = ctx.client.request(
        "POST", path, params={"container": container}, json={"command": command}
    )
    body = resp.json()
    ctx.stdout.write(str(body.get("stdout") or ""))
    ctx.stdout.flush()
    ctx.stderr.write(str(body.get("stderr") or ""))
    ctx.stderr.flush()
    code = int(body.get("exitCode") or 0)
    if code:
        ctx.err(f"command terminated with exit code {code}")
    return code
