"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2``, ``1e3``) as exact decimals.

A quantity is ``<signed number><suffix>`` where the suffix is a binary SI suffix
(``Ki`` … ``Ei``), a decimal SI suffix (``n``, ``u``, ``m``, ``k``, ``M`` … ``E``) or a
decimal exponent (``e3``, ``E-2``). Values are kept as :class:`~decimal.Decimal` with
enough precision that no Kubernetes quantity is ever rounded.
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache

__all__ = [
    "bytes_value",
    "cpu_millis",
    "format_quantity",
    "is_quantity",
    "parse_quantity",
]

# Enough digits for Ei (2**60) times the longest mantissa anyone writes, with no rounding.
_CTX = Context(prec=64)

_BINARY = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}

_QUANTITY_RE = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"  # signed number
    r"(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"  # exponent or suffix
)

_FORMAT_HINT = (
    "a quantity is a number with an optional suffix, e.g. '500m', '2', '1.5', "
    "'128Mi', '1Gi', '1e3' (suffixes: n u m k M G T P E, Ki Mi Gi Ti Pi Ei)"
)


@lru_cache(maxsize=8192)
def _parse_str(text: str) -> Decimal:
    m = _QUANTITY_RE.match(text)
    if m is None:
        raise ValueError(f"invalid quantity {text!r}: {_FORMAT_HINT}")
    number, exponent, suffix = m.group(1), m.group(2), m.group(3) or ""
    with localcontext(_CTX):
        value = Decimal(number)
        if exponent:
            exp = int(exponent[1:])
            if abs(exp) > 30:
                raise ValueError(f"quantity {text!r} has an exponent out of range (|e| <= 30)")
            value = value.scaleb(exp)
        elif suffix in _BINARY:
            value = value * _BINARY[suffix]
        else:
            value = value * _DECIMAL[suffix]
    return value


def parse_quantity(value: str | int | float | Decimal) -> Decimal:
    """Parse a Kubernetes quantity into an exact :class:`Decimal`.

    Accepts ``str`` (``"500m"``, ``"1Gi"``), ``int``, ``float`` and ``Decimal``.
    Raises :class:`ValueError` naming the bad text and the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"quantity must be a number or a string, not a boolean ({value!r})")
    if isinstance(value, str):
        return _parse_str(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"quantity must be finite, got {value!r}")
        # repr() gives the shortest decimal that round-trips, so 0.1 stays 0.1.
        return _parse_str(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"quantity must be finite, got {value!r}")
        return value
    raise ValueError(f"quantity must be a string or a number, got {type(value).__name__}")


def is_quantity(value: object) -> bool:
    """True when ``value`` parses as a quantity."""
    try:
        parse_quantity(value)  # type: ignore[arg-type]
    except (ValueError, InvalidOperation):
        return False
    return True


def _ceil_int(value: Decimal) -> int:
    with localcontext(_CTX):
        return int(value.to_integral_value(rounding="ROUND_CEILING"))


def cpu_millis(q: str | int | float | Decimal) -> int:
    """The quantity in thousandths (``"500m"`` → 500, ``"2"`` → 2000), rounded up as Kubernetes does."""
    with localcontext(_CTX):
        return _ceil_int(parse_quantity(q) * 1000)


def bytes_value(q: str | int | float | Decimal) -> int:
    """The quantity as a whole number (``"1Ki"`` → 1024, ``"1.5"`` → 2), rounded up."""
    return _ceil_int(parse_quantity(q))


def format_quantity(value: str | int | float | Decimal, binary: bool | None = None) -> str:
    """Format a value in the canonical Kubernetes way.

    Whole numbers keep the largest exact suffix: binary (``Ki`` … ``Ei``) when ``binary``
    is true, decimal (``k`` … ``E``) when false, and, when ``binary`` is None, binary
    for exact multiples of 1024 and decimal otherwise. Fractions use ``m``, ``u`` or
    ``n`` (``Decimal("0.5")`` → ``"500m"``), rounding up to whole nanos as Kubernetes does.
    """
    d = parse_quantity(value)
    with localcontext(_CTX):
        if d == d.to_integral_value():
            n = int(d)
            if n == 0:
                return "0"
            sign = "-" if n < 0 else ""
            a = abs(n)
            use_binary = binary if binary is not None else a % 1024 == 0
            if use_binary:
                for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                    unit = int(_BINARY[suffix])
                    if a % unit == 0:
                        return f"{sign}{a // unit}{suffix}"
                if binary:
                    return f"{sign}{a}"
            for suffix in ("E", "P", "T", "G", "M", "k"):
                unit = int(_DECIMAL[suffix])
                if a % unit == 0:
                    return f"{sign}{a // unit}{suffix}"
            return f"{sign}{a}"
        for suffix, scale in (("m", 10**3), ("u", 10**6)):
            scaled = d * scale
            if scaled == scaled.to_integral_value():
                return f"{int(scaled)}{suffix}"
        return f"{_ceil_int(d * 10**9)}n"
