"""Resource quantities: parsing, the cpu/bytes helpers and canonical formatting."""

from decimal import Decimal

import pytest

from api.quantity import bytes_value, cpu_millis, format_quantity, is_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("2", Decimal(2)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        ("1.5", Decimal("1.5")),
        ("100Ki", Decimal(102400)),
        ("1M", Decimal(10**6)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1k", Decimal(1000)),
        ("250u", Decimal("0.00025")),
        ("10n", Decimal("0.00000001")),
        ("1Ei", Decimal(2**60)),
        ("-1", Decimal(-1)),
        ("+2", Decimal(2)),
        (".5", Decimal("0.5")),
        ("0", Decimal(0)),
    ],
)
def test_parse_exact(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


def test_numbers_are_accepted() -> None:
    assert parse_quantity(4) == 4
    assert parse_quantity(0.25) == Decimal("0.25")
    assert parse_quantity(0.1) == Decimal("0.1")  # shortest repr, not binary noise
    assert parse_quantity(Decimal("1.5")) == Decimal("1.5")


@pytest.mark.parametrize(
    "text", ["", "abc", "1Gb", "1 Gi", "1.2.3", "Gi", "1KiB", "1e", "--1", "1ki"]
)
def test_invalid_quantities_raise_readable_errors(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_quantity(text)
    msg = str(exc.value)
    assert repr(text) in msg
    assert "e.g." in msg and "Mi" in msg  # says what a valid one looks like
    assert not is_quantity(text)


def test_non_numbers_raise() -> None:
    for bad in (True, None, [1], float("nan"), float("inf")):
        with pytest.raises(ValueError):
            parse_quantity(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("q", "millis"),
    [
        ("500m", 500),
        ("2", 2000),
        ("1.5", 1500),
        (3, 3000),
        ("0.1", 100),
        ("1u", 1),
        ("100Ki", 102400000),
    ],
)
def test_cpu_millis_rounds_up(q: str | int, millis: int) -> None:
    assert cpu_millis(q) == millis


@pytest.mark.parametrize(
    ("q", "n"),
    [
        ("1Ki", 1024),
        ("1Gi", 2**30),
        ("1G", 10**9),
        ("1.5", 2),
        ("500m", 1),
        ("128974848", 128974848),
        (7, 7),
    ],
)
def test_bytes_value_rounds_up(q: str | int, n: int) -> None:
    assert bytes_value(q) == n


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.5"), "500m"),
        (2**30, "1Gi"),
        (3 * 2**20, "3Mi"),
        (1000, "1k"),
        (1500, "1500"),
        (2, "2"),
        (0, "0"),
        (Decimal("0.00025"), "250u"),
        (Decimal("0.0000000015"), "2n"),
        ("1.5", "1500m"),
        (-2048, "-2Ki"),
    ],
)
def test_format_quantity(value: object, text: str) -> None:
    assert format_quantity(value) == text  # type: ignore[arg-type]


def test_format_binary_choice() -> None:
    assert format_quantity(2048, binary=False) == "2048"
    assert format_quantity(10**6, binary=True) == "1000000"
    assert format_quantity(10**6, binary=False) == "1M"


@pytest.mark.parametrize("text", ["500m", "1Gi", "2", "1k", "250u", "3Mi", "1500m"])
def test_format_round_trips(text: str) -> None:
    assert parse_quantity(format_quantity(text)) == parse_quantity(text)
