"""``kl version``: the client's and the server's versions."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.printers.serial import to_json, to_yaml

EXAMPLES = """
  kl version
  kl version --client
  kl version -o json
"""

# The Kubernetes API level kl speaks (kubectl's minor version it mirrors).
KUBERNETES_VERSION = "v1.35.0"


def client_version() -> dict[str, str]:
    try:
        lab = metadata.version("kubelab")
    except metadata.PackageNotFoundError:
        lab = "0.1.0"
    return {
        "gitVersion": f"{KUBERNETES_VERSION}+kubelab.{lab}",
        "major": "1",
        "minor": "35",
        "kubelab": lab,
    }


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "version", "Print the client and server versions", EXAMPLES)
    p.add_argument("--client", action="store_true", help="only the client version")
    p.add_argument("-o", "--output", choices=["yaml", "json"], help="structured output")
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    info: dict[str, Any] = {"clientVersion": client_version()}
    if not ctx.args.client:
        info["serverVersion"] = ctx.client.request("GET", "/version").json()
    if ctx.args.output == "json":
        ctx.stdout.write(to_json(info))
    elif ctx.args.output == "yaml":
        ctx.stdout.write(to_yaml(info))
    else:
        ctx.out(f"Client Version: {info['clientVersion']['gitVersion']}")
        if "serverVersion" in info:
            ctx.out(f"Server Version: {info['serverVersion'].get('gitVersion', 'unknown')}")
    return 0
