"""Cell formatting shared by the Table renderers: kubectl's time, label and selector forms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = dict[str, Any]

# ---------------------------------------------------------------- time formatting


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``: ``45s``, ``3m20s``, ``5h``, ``2d3h``, ``3y``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp (``...Z`` or with an offset, fractional seconds allowed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
