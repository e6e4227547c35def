"""``--validate``: what the server does with fields it does not know, as kubectl asks it.

kubectl validates on the server: it sends ``fieldValidation=Strict`` by default, so a
misspelled field (``comand:``) is refused with its path instead of silently dropped.
"""

from __future__ import annotations

import argparse

# kubectl's --validate values and the fieldValidation each one sends.
FIELD_VALIDATION = {
    "strict": "Strict",
    "true": "Strict",
    "warn": "Warn",
    "ignore": "Ignore",
    "false": "Ignore",
}


def parse_validate(text: str) -> str:
    """The fieldValidation for a ``--validate`` value (case-insensitive, as kubectl)."""
    try:
        return FIELD_VALIDATION[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f'invalid - validate option "{text}"; must be one of: strict (or true), '
            "warn, ignore (or false)"
        ) from None


def add_validate_flag(p: argparse.ArgumentParser) -> None:
    """``--validate[=strict|warn|ignore|true|false]`` (bare ``--validate``: strict)."""
    p.add_argument(
        "--validate",
        type=parse_validate,
        nargs="?",
        const="Strict",
        default="Strict",
        metavar="MODE",
        help="unknown fields: strict (default, refuse them), warn (drop them with a "
        "warning), ignore (drop them); true means strict, false means ignore",
    )
