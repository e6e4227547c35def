"""`kl logs --since`: Go-style durations as whole seconds, rounded up like kubectl."""

from __future__ import annotations

import argparse

import pytest

from kubectl.cmd.logs import positive_int, since_seconds


@pytest.mark.parametrize(
    ("text", "want"),
    [("5s", 5), ("2m", 120), ("3h", 10800), ("1h30m", 5400), ("1500ms", 2), ("0.5s", 1)],
)
def test_since_durations(text: str, want: int) -> None:
    assert since_seconds(text) == want


@pytest.mark.parametrize("text", ["", "5", "soon", "5x", "0s", "-5s", "5s junk"])
def test_since_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        since_seconds(text)


def test_limit_bytes_must_be_positive() -> None:
    assert positive_int("10") == 10
    for bad in ("0", "-1", "ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)
