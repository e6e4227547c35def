"""``kl dashboard``: the web dashboard's address on this cluster's API, as a link that
signs the browser in with the kubeconfig's token."""

from __future__ import annotations

import argparse
import webbrowser
from typing import Any

from api.dashboard import dashboard_url
from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError

EXAMPLES = """
  kl dashboard            # print the link (it carries your token: do not share it)
  kl dashboard --open     # and open it in this machine's browser
  kl dashboard --no-token # the plain address; the page asks for a token
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "dashboard", "Print (or open) the web dashboard's link", EXAMPLES)
    p.add_argument("--open", action="store_true", help="open the link in a browser too")
    p.add_argument(
        "--no-token", action="store_true", help="leave the token out (sign in on the page)"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    cfg = ctx.config
    token = "" if ctx.args.no_token else (cfg.token or "")
    # The token rides in the URL's fragment, which a browser never sends to a server.
    url = dashboard_url(cfg.server, token, ctx.namespace if ctx.explicit_namespace else "")
    ctx.stdout.write(url + "\n")
    if ctx.args.open and not webbrowser.open(url):
        raise CliError("no browser could be started here: open the printed link yourself")
    return 0
