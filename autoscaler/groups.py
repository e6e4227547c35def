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
