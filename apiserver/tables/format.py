"""Cell formatting shared by the Table renderers: kubectl's time, label and selector forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.durations import human_duration, parse_time

Obj = dict[str, Any]
Column = dict[str, Any]

# ---------------------------------------------------------------- time formatting


def since(value: Any, now: datetime) -> str:
    """``translateTimestampSince``: age of a timestamp, ``<unknown>`` when absent."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


# ---------------------------------------------------------------- small formatters


def obj_meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def obj_name(obj: Obj) -> str:
    return str(obj_meta(obj).get("name", ""))


def age_cell(obj: Obj, now: datetime) -> str:
    return since(obj_meta(obj).get("creationTimestamp"), now)


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_label_selector(selector: Obj | None) -> str:
    """``metav1.FormatLabelSelector``: the string form of a LabelSelector, sorted by key."""
    if not selector:
        return "<none>"
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op)
        if text is None:
            return "<error>"
        reqs.append((key, text))
    out = ",".join(text for _, text in sorted(reqs, key=lambda kv: kv[0]))
    return out or "<none>"


def containers_cells(pod_spec: Obj | None) -> tuple[str, str]:
    containers = (pod_spec or {}).get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def template_spec(obj: Obj) -> Obj:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def condition_true(conditions: list[Obj] | None, ctype: str) -> bool:
    """``hasJobCondition``: the first condition of that type decides."""
    for c in conditions or []:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def col(
    name: str, description: str = "", *, priority: int = 0, ctype: str = "string", fmt: str = ""
) -> Column:
    return {
        "name": name,
        "type": ctype,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


NAME_COL = col("Name", "Name must be unique within a namespace.", fmt="name")
AGE_COL = col(
    "Age",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)
CONTAINERS_COLS = [
    col("Containers", "Names of each container in the template.", priority=1),
    col("Images", "Images referenced by each container in the template.", priority=1),
    col("Selector", "Label query over pods.", priority=1),
]
