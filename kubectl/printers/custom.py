"""``-o custom-columns=HEADER:PATH,...``, ``-o custom-columns-file=FILE`` and ``--sort-by``.

Both take kubectl's relaxed JSONPath: ``.metadata.name``, ``{.metadata.name}`` and
``metadata.name`` mean the same field. A column whose path finds nothing prints
``<none>``; several values are joined with commas, as kubectl does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key
from pathlib import Path
from typing import Any

from api import jsonpath
from api.quantity import is_quantity, parse_quantity
from kubectl.errors import CliError
from kubectl.printers.table import render_table

NONE = "<none>"


def relaxed(path: str) -> str:
    """kubectl's RelaxedJSONPathExpression: braces and the leading dot are optional."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1].strip()
    if not p:
        raise CliError("a JSONPath must not be empty, e.g. .metadata.name")
    if not p.startswith((".", "[", "$")):
        p = "." + p
    return p


def _expr(path: str) -> jsonpath.Expr:
    try:
        return jsonpath.parse_expr(relaxed(path))
    except jsonpath.JSONPathError as e:
        raise CliError(f"error parsing jsonpath {path}: {e}") from e


@dataclass(frozen=True)
class Column:
    header: str
    expr: jsonpath.Expr

    def cell(self, obj: dict[str, Any]) -> str:
        values = [v for v in jsonpath.evaluate(self.expr, obj, obj) if v is not None]
        if not values:
            return NONE
        return ",".join(jsonpath.format_value(v) for v in values)


def parse_spec(spec: str) -> list[Column]:
    """``NAME:.metadata.name,NODE:.spec.nodeName`` → columns."""
    if not spec.strip():
        raise CliError(
            "custom-columns format specified but no custom columns given, "
            "e.g. -o custom-columns=NAME:.metadata.name"
        )
    columns = []
    for part in _split_top(spec):
        header, sep, path = part.partition(":")
        if not sep or not header.strip() or not path.strip():
            raise CliError(
                f'unexpected custom-columns spec: "{part}", expected <header>:<json-path-expr>'
            )
        columns.append(Column(header.strip(), _expr(path)))
    return columns


def _split_top(spec: str) -> list[str]:
    """Split on commas that are not inside brackets or braces (filters may hold commas)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return [p for p in parts if p.strip()]


def parse_file(path: str) -> list[Column]:
    """A custom-columns file: a line of headers, then a line of JSONPaths, whitespace
    separated, as ``kubectl -o custom-columns-file`` reads it."""
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise CliError(f"cannot read the custom-columns file {path}: {e.strerror}") from e
    if len(lines) != 2:
        raise CliError(
            f"the custom-columns file {path} must have exactly two lines: "
            "the headers, then their JSONPaths"
        )
    headers, paths = lines[0].split(), lines[1].split()
    if len(headers) != len(paths):
        raise CliError(
            f"the custom-columns file {path} has {len(headers)} headers but {len(paths)} JSONPaths"
        )
    return [Column(h, _expr(p)) for h, p in zip(headers, paths, strict=True)]


def columns_for(fmt: str) -> list[Column] | None:
    """The columns an ``-o`` value asks for, or None when it is not a custom-columns one."""
    if fmt.startswith("custom-columns="):
        return parse_spec(fmt[len("custom-columns=") :])
    if fmt.startswith("custom-columns-file="):
        return parse_file(fmt[len("custom-columns-file=") :])
    return None


def render(columns: list[Column], objects: list[dict[str, Any]], no_headers: bool = False) -> str:
    rows = [[c.cell(o) for c in columns] for o in objects]
    return render_table([] if no_headers else [c.header for c in columns], rows)


# -- --sort-by -----------------------------------------------------------------------------


def _less(x: Any, y: Any) -> bool:
    """Order two field values like kubectl: missing first, numbers by value, quantities
    (``500m``, ``2Gi``) by size, other text byte by byte (pod-10 before pod-9)."""
    if x is None or y is None:
        return x is None and y is not None
    if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
        return x < y
    if isinstance(x, str) and isinstance(y, str):
        if x and y and is_quantity(x) and is_quantity(y):
            qx, qy = parse_quantity(x), parse_quantity(y)
            if qx != qy:
                return qx < qy
        return x < y
    return jsonpath.format_value(x) < jsonpath.format_value(y)


def sort_objects(objects: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """``objects`` ordered by the first value ``path`` finds in each (a stable sort)."""
    expr = _expr(path)
    keyed = []
    for o in objects:
        found = jsonpath.evaluate(expr, o, o)
        keyed.append((found[0] if found else None, o))

    def compare(p: tuple[Any, Any], q: tuple[Any, Any]) -> int:
        return -1 if _less(p[0], q[0]) else (1 if _less(q[0], p[0]) else 0)

    keyed.sort(key=cmp_to_key(compare))
    return [o for _, o in keyed]
