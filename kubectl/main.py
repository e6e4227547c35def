"""``kl``: the kubelab command line, a small kubectl for a GPU lab.

Each verb lives in ``kubectl/cmd/<verb>.py`` and exposes ``register(sub, parent)``; this
module builds the parser, runs the verb and turns every failure into one readable line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from api.errors import ApiError
from client import KubeconfigError, ServerUnreachable
from kubectl.cli import KlParser, add_global_flags
from kubectl.context import Ctx
from kubectl.errors import CliError, one_line

VERB_MODULES = (
    "get",
    "describe",
    "apply",
    "create",
    "delete",
    "logs",
    "exec",
    "scale",
    "set_image",
    "rollout",
    "node",
    "label",
    "annotate",
    "top",
    "why",
    "config",
    "version",
    "api_resources",
    "completion",
)

# What a user types (for completion and help).
VERB_NAMES = (
    "get",
    "describe",
    "apply",
    "create",
    "delete",
    "logs",
    "exec",
    "scale",
    "set",
    "rollout",
    "cordon",
    "uncordon",
    "drain",
    "label",
    "annotate",
    "top",
    "why",
    "config",
    "version",
    "api-resources",
    "completion",
)


def build_parser() -> KlParser:
    """The full ``kl`` parser with every verb."""
    parser = KlParser(
        prog="kl",
        description="kl controls a kubelab cluster (a small kubectl for a GPU lab).",
        epilog="examples:\n  kl get pods -o wide\n  kl apply -f deploy/\n  kl why my-job-pod\n"
        "\nRun 'kl VERB --help' for a verb's flags and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_flags(parser, suppress=False)
    parent = KlParser(add_help=False)
    add_global_flags(parent, suppress=True)
    sub = parser.add_subparsers(title="verbs", metavar="VERB", parser_class=KlParser)
    for name in VERB_MODULES:
        importlib.import_module(f"kubectl.cmd.{name}").register(sub, parent)
    return parser


def _api_error_line(e: ApiError, ctx: Ctx) -> str:
    if e.code == 401:
        where = " given with --token"
        if not ctx.opt("token"):
            try:
                where = f" in {ctx.config.path}" if ctx.config.path else ""
            except CliError:
                where = ""
        return (
            f"You must be logged in to the server (Unauthorized): the token{where} was "
            "refused; use the kubeconfig `kubelab up` wrote ($KUBELAB_HOME/kubeconfig) or "
            "pass a valid --token"
        )
    if e.code == 403:
        return f"forbidden: {e.message}" if e.message else "forbidden"
    return e.message or f"the server answered {e.code} ({e.reason})"


def main(argv: list[str] | None = None) -> int:
    """Run ``kl`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    trailing: list[str] = []
    if "--" in args_in:
        i = args_in.index("--")
        args_in, trailing = args_in[:i], args_in[i + 1 :]
    debug = "--debug" in args_in
    try:
        parser = build_parser()
        args = parser.parse_args(args_in)
    except CliError as e:
        print(f"error: {one_line(e.message)}", file=sys.stderr)
        return 1
    except SystemExit as e:  # --help
        return int(e.code or 0)
    args.trailing = trailing
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    ctx = Ctx(args)
    try:
        return int(args.run(ctx) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # every failure becomes one line; --debug shows where
        if debug:
            traceback.print_exc()
        if isinstance(e, CliError):
            line, code = e.message, e.exit_code
        elif isinstance(e, ApiError):
            line, code = _api_error_line(e, ctx), 1
        elif isinstance(e, ServerUnreachable):
            line, code = str(e), 1
        elif isinstance(e, KubeconfigError):
            line, code = str(e), 1
        else:
            line = f"internal error: {type(e).__name__}: {e} (run with --debug for details)"
            code = 1
        try:
            print(f"error: {one_line(line)}", file=sys.stderr)
        except BrokenPipeError:
            pass
        return code


if __name__ == "__main__":
    sys.exit(main())
