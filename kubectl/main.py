"""``kl``: the kubelab command line, a small kubectl for a GPU lab.

Each verb lives in ``kubectl/cmd/<verb>.py`` and exposes ``register(sub, parent)``; this
module builds the parser, runs the verb and turns every failure into one readable line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from api.errors import ApiError
from kubectl import resources
from kubectl.cli import KlParser, add_global_flags
from kubectl.context import Ctx
from kubectl.errors import CliError, one_line

# What a user types -> the module under kubectl/cmd/ that registers it. Only the module of
# the verb typed is imported (each brings its printers, YAML, ...): a CLI typed all day must
# start fast. ``kl``, ``kl --help`` and an unknown verb build the whole parser.
VERBS: dict[str, str] = {
    "get": "get",
    "describe": "describe",
    "apply": "apply",
    "create": "create",
    "delete": "delete",
    "logs": "logs",
    "exec": "exec",
    "attach": "attach",
    "run": "run",
    "cp": "cp",
    "port-forward": "port_forward",
    "scale": "scale",
    "autoscale": "autoscale",
    "set": "set_image",
    "rollout": "rollout",
    "cordon": "node",
    "uncordon": "node",
    "drain": "node",
    "label": "label",
    "annotate": "annotate",
    "top": "top",
    "why": "why",
    "config": "config",
    "version": "version",
    "dashboard": "dashboard",
    "api-resources": "api_resources",
    "completion": "completion",
    "patch": "patch",
    "edit": "edit",
    "replace": "replace",
}
VERB_MODULES = tuple(dict.fromkeys(VERBS.values()))
VERB_NAMES = tuple(VERBS)  # for completion and help
# Global flags that take a value (``-n team get pods``): their value is not the verb.
_VALUE_FLAGS = frozenset(
    {"--kubeconfig", "--context", "-n", "--namespace", "--server", "-s", "--token"}
)


def verb_in(argv: list[str]) -> str | None:
    """The verb of a command line (the first word that is neither a global flag nor a
    global flag's value), or None when there is none."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUE_FLAGS:
            i += 2
            continue
        if not word.startswith("-") or word == "-":
            return word
        i += 1
    return None


def build_parser(verb: str | None = None) -> KlParser:
    """The ``kl`` parser: with only ``verb``'s module registered when it is a known verb,
    else with every verb (for ``--help`` and the error that lists the verbs)."""
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
    modules = (VERBS[verb],) if verb in VERBS else VERB_MODULES
    for name in modules:
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
        parser = build_parser(verb_in(args_in))
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
    # Names kl does not know built in are asked of this invocation's server (custom kinds).
    resources.discover = ctx.learn_custom_kinds
    try:
        return int(args.run(ctx) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # every failure becomes one line; --debug shows where
        if debug:
            import traceback

            traceback.print_exc()
        # The client's exception types, imported here: `kl get pods` must not pay for them
        # (client.core imports httpx) unless a request was made, and then they are loaded.
        from client.core import ServerUnreachable
        from client.kubeconfig import KubeconfigError

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
    finally:
        resources.discover = None


if __name__ == "__main__":
    sys.exit(main())
