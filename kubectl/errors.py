"""Errors ``kl`` reports as one ``error: ...`` line."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing failure: the message is printed after ``error: `` and kl exits 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def one_line(text: str) -> str:
    """Collapse a message onto one line (YAML and server errors can span several)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
