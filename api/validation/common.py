"""Building blocks of validation: the Cause constructors (worded like kube-apiserver, plus
the fix) and the name/label/number checks every kind shares."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from api.errors import Cause
from api.selectors import label_value_error, qualified_name_error

Errs = list[Cause]

DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME_RE = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER_RE = re.compile(r"[a-z]")
_BAD_CHARS_RE = re.compile(r"[^a-z0-9.-]+")
_BAD_LABEL_CHARS_RE = re.compile(r"[^a-z0-9-]+")
PERCENT_RE = re.compile(r"^[0-9]+%$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')"
)


def hashable(value: Any) -> Any:
    """``value``, or its repr when it cannot be a set member (a list or object a user wrote
    where a scalar belongs; that mistake is reported by the type checks)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is an object, else ``{}`` (its type is reported where it is checked)."""
    return value if isinstance(value, dict) else {}


def show(value: Any) -> str:
    """A value as kube-apiserver prints it in a message: JSON, compact."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def required(errs: Errs, field: str, fix: str) -> None:
    errs.append(Cause(field, f"Required value: {fix}", "FieldValueRequired"))


def invalid(errs: Errs, field: str, value: Any, why: str) -> None:
    errs.append(Cause(field, f"Invalid value: {show(value)}: {why}", "FieldValueInvalid"))


def unsupported(errs: Errs, field: str, value: Any, allowed: Iterable[str]) -> None:
    choices = ", ".join(f'"{a}"' for a in allowed)
    errs.append(
        Cause(
            field,
            f"Unsupported value: {show(value)}: supported values: {choices}",
            "FieldValueNotSupported",
        )
    )


def duplicate(errs: Errs, field: str, value: Any, fix: str) -> None:
    errs.append(Cause(field, f"Duplicate value: {show(value)}: {fix}", "FieldValueDuplicate"))


def forbidden(errs: Errs, field: str, why: str) -> None:
    errs.append(Cause(field, f"Forbidden: {why}", "FieldValueForbidden"))


def too_long(errs: Errs, field: str, limit: int, unit: str = "characters") -> None:
    errs.append(Cause(field, f"Too long: must have at most {limit} {unit}", "FieldValueTooLong"))


def suggest_name(name: str, label: bool = False, alpha_start: bool = False) -> str:
    """A valid name close to ``name`` ("Web_1" → "web-1"), to put in the message."""
    s = (_BAD_LABEL_CHARS_RE if label else _BAD_CHARS_RE).sub("-", name.lower())
    s = s.strip("-.")
    if alpha_start:
        s = s.lstrip("0123456789-")
    s = s[: 63 if label else 253].rstrip("-.")
    return s or "my-name"


def check_name(errs: Errs, field: str, name: Any, style: str, prefix: bool = False) -> None:
    """Check a DNS name. ``style``: "subdomain" (≤253), "label" (≤63), "dns1035" (≤63,
    starts with a letter). ``prefix`` checks a generateName (trailing '-' allowed)."""
    if not isinstance(name, str):
        invalid(errs, field, name, "must be a string")
        return
    value = name.rstrip("-") if prefix else name
    if prefix and not value:
        return
    if style == "subdomain":
        limit, rx, msg = 253, DNS1123_SUBDOMAIN_RE, SUBDOMAIN_MSG
    elif style == "label":
        limit, rx, msg = 63, DNS1123_LABEL_RE, LABEL_MSG
    else:
        limit, rx, msg = 63, DNS1035_LABEL_RE, DNS1035_MSG
    if len(value) > limit:
        invalid(errs, field, name, f"must be no more than {limit} characters")
        return
    if not rx.match(value):
        hint = suggest_name(value, label=style != "subdomain", alpha_start=style == "dns1035")
        invalid(errs, field, name, f'{msg}; try "{hint}"')


def check_labels(errs: Errs, field: str, labels: Any) -> None:
    """Label keys are qualified names, values at most 63 valid characters."""
    if labels is None:
        return
    if not isinstance(labels, dict):
        invalid(errs, field, labels, "must be a map of string keys to string values")
        return
    for k, v in labels.items():
        err = qualified_name_error(k)
        if err:
            invalid(errs, field, k, f"label key {err}")
        if not isinstance(v, str):
            invalid(errs, f"{field}[{k}]", v, 'label values must be strings; quote it (e.g. "1")')
            continue
        verr = label_value_error(v)
        if verr:
            invalid(errs, field, v, f"label value {verr}")


def check_int(
    errs: Errs,
    field: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
) -> bool:
    """An integer within [minimum, maximum]; None counts as "not set" and passes."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int):
        invalid(errs, field, value, "must be an integer")
        return False
    if minimum is not None and value < minimum:
        if minimum == 0:
            invalid(errs, field, value, "must be greater than or equal to 0")
        else:
            invalid(errs, field, value, f"must be greater than or equal to {minimum}")
        return False
    if maximum is not None and value > maximum:
        invalid(errs, field, value, f"must be less than or equal to {maximum}")
        return False
    return True


def check_port(errs: Errs, field: str, value: Any, allow_name: bool = False) -> None:
    """A port number 1–65535 (or, where allowed, an IANA service name like "http")."""
    if isinstance(value, str) and allow_name:
        if (
            not value
            or len(value) > 15
            or not IANA_SVC_NAME_RE.match(value)
            or not _HAS_LETTER_RE.search(value)
            or value.startswith("-")
            or value.endswith("-")
            or "--" in value
        ):
            invalid(
                errs,
                field,
                value,
                "must be a port number between 1 and 65535 or a port name of at most 15 "
                "lower case alphanumeric characters or '-' with at least one letter (e.g. 'http')",
            )
        return
    if isinstance(value, bool) or not isinstance(value, int):
        invalid(errs, field, value, "must be a port number between 1 and 65535")
    elif not 1 <= value <= 65535:
        invalid(errs, field, value, "must be between 1 and 65535, inclusive")


def int_or_percent(errs: Errs, field: str, v: Any, max_percent: int | None = None) -> int | None:
    """The number (or percent) of an IntOrString; None when invalid or unset."""
    if v is None:
        return None
    if isinstance(v, bool):
        invalid(errs, field, v, 'must be an integer or a percentage (e.g. 1 or "25%")')
        return None
    if isinstance(v, int):
        return v if check_int(errs, field, v, 0) else None
    if isinstance(v, str) and PERCENT_RE.match(v):
        pct = int(v[:-1])
        if max_percent is not None and pct > max_percent:
            invalid(errs, field, v, f"must not be greater than {max_percent}%")
            return None
        return pct
    invalid(errs, field, v, 'must be an integer or a percentage (e.g. 1 or "25%")')
    return None
