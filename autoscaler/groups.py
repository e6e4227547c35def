"""Power groups' min and max powered-on counts, from the ConfigMap
``kube-system/kubelab-power-groups`` (one key per group, ``min=1,max=4``; pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "kubelab-power-groups"


@dataclass(frozen=True)
class GroupLimits:
    min: int = 0
    max: int | None = None  # None: no limit


def parse_limits(data: dict[str, Any] | None) -> tuple[dict[str, GroupLimits], list[str]]:
    """The limits per group, and an error per key that could not be read (kept out)."""
    out: dict[str, GroupLimits] = {}
    errors: list[str] = []
    for group, text in (data or {}).items():
        fields: dict[str, int] = {}
        try:
            for part in str(text).split(","):
                key, _, value = part.strip().partition("=")
                if key not in ("min", "max") or key in fields:
                    raise ValueError(part)
                fields[key] = int(value)
                if fields[key] < 0:
                    raise ValueError(part)
        except ValueError:
            errors.append(f"{CONFIGMAP_NAME} key {group!r}: {text!r} is not like min=0,max=4")
            continue
        out[group] = GroupLimits(fields.get("min", 0), fields.get("max"))
    return out, errors


def short_of_min(
    limits: dict[str, GroupLimits], on_count: dict[str, int], sleeping: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The sleeping boxes to wake, per group, so that each group has its ``min`` powered on
    (up, waking or draining count as on); by name, so the choice is stable. A group with
    too few boxes wakes what it has."""
    out: dict[str, list[str]] = {}
    for group, lim in sorted(limits.items()):
        missing = lim.min - on_count.get(group, 0)
        if missing > 0 and sleeping.get(group):
            out[group] = sorted(sleeping[group])[:missing]
    return out
