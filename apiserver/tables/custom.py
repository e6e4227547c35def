"""Tables of custom objects: NAME, the CRD version's ``additionalPrinterColumns`` (each a
JSONPath, as kube-apiserver evaluates them), and AGE when the CRD declares no columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.crd.definition import PrinterColumn
from api.jsonpath import JSONPathError, evaluate, parse_expr
from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, parse_time, since


def column_definitions(columns: tuple[PrinterColumn, ...]) -> list[dict[str, Any]]:
    if not columns:
        return [NAME_COL, AGE_COL]
    defs: list[dict[str, Any]] = [NAME_COL]
    for c in columns:
        defs.append(
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
        )
    return defs


def _cell(obj: Obj, c: PrinterColumn, now: datetime) -> Any:
    try:
        expr = parse_expr(c.json_path.strip().strip("{}"))
        values = evaluate(expr, obj, obj)
    except JSONPathError:
        return None
    if not values:
        return None
    v = values[0]
    if c.type == "date" and isinstance(v, str):
        return since(v, now) if parse_time(v) is not None else v
    if c.type == "integer":
        return v if isinstance(v, int) else None
    if c.type == "number":
        return v if isinstance(v, (int, float)) else None
    if c.type == "boolean":
        return v if isinstance(v, bool) else None
    return v if isinstance(v, str) else str(v)


def custom_cells(obj: Obj, columns: tuple[PrinterColumn, ...], now: datetime) -> list[Any]:
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not columns:
        return [name, age_cell(obj, now)]
    return [name, *(_cell(obj, c, now) for c in columns)]
