"""The argparse pieces every verb shares: the parser class, global flags, help layout."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from kubectl.errors import CliError


class KlParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become one ``error:`` line and exit code 1."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')")


def add_global_flags(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The flags every verb accepts, before or after the verb.

    On subcommand parsers the defaults are suppressed so that a flag given before the
    verb is not reset by the subcommand's own defaults.
    """

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("global options")
    g.add_argument(
        "--kubeconfig",
        default=d(None),
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, $KUBELAB_HOME/kubeconfig, ~/.kube/config)",
    )
    g.add_argument("--context", default=d(None), help="kubeconfig context to use")
    g.add_argument(
        "-n",
        "--namespace",
        default=d(None),
        help="namespace (default: the context's namespace, else 'default')",
    )
    g.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=d(False),
        help="act on every namespace",
    )
    g.add_argument(
        "--server",
        "-s",
        default=d(None),
        metavar="URL",
        help="API server address, overriding the kubeconfig",
    )
    g.add_argument("--token", default=d(None), help="bearer token, overriding the kubeconfig")
    g.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        default=d(False),
        help="do not check the server's certificate",
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=d(False),
        help="print a traceback when something fails",
    )


def add_verb(
    sub: Any,
    parent: argparse.ArgumentParser,
    name: str,
    summary: str,
    examples: str,
    aliases: list[str] | None = None,
) -> KlParser:
    """Add a verb whose ``--help`` shows a summary and examples."""
    p: KlParser = sub.add_parser(
        name,
        aliases=aliases or [],
        help=summary,
        description=summary,
        epilog="examples:\n" + examples.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parent],
    )
    return p


def add_output_flag(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="FORMAT",
        help="output format: wide, yaml, json, name, jsonpath=TEMPLATE" + extra,
    )


def add_file_flags(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        required=required,
        metavar="PATH",
        help="manifest file, directory, or - for stdin (repeatable)",
    )
    p.add_argument(
        "-R", "--recursive", action="store_true", help="read directories given with -f recursively"
    )


def parse_bool(text: str) -> bool:
    """``true``/``false`` (and 1/0, yes/no) for flags written ``--wait=false``."""
    t = text.strip().lower()
    if t in ("true", "1", "yes", "y", "t"):
        return True
    if t in ("false", "0", "no", "n", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool_flag(p: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """A flag usable as ``--name``, ``--name=true`` or ``--name=false`` (kubectl style)."""
    p.add_argument(
        name, type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help
    )
