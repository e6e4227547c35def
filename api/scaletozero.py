"""Scale to zero (issue 20 item 3): the annotations that tie the pieces together (pure).

- ``kubelab.io/scale-to-zero-after`` on a Deployment (a duration: ``10m``, ``90s``,
  ``1h30m``, or plain seconds): the opt-in and its idle window. The scale-to-zero
  controller (``controllers/scaletozero.py``) scales the Deployment to 0 once no request
  went through its Services for that long, counted from the moment its last replica
  turned Ready, and back to 1 as soon as a connection waits.
- ``kubelab.io/activation-timeout`` on the Deployment, or on one Service to override it:
  how long a connection to a Service with no ready endpoint is held (default 5 minutes,
  for model servers that load their weights slowly) before it gets a 503.
- ``kubelab.io/activator`` on each Service of such a Deployment, written by the
  controller (``{"deployment": NAME, "timeoutSeconds": N}``): it tells every kubelet's
  Service proxy to hold, rather than refuse, a connection while the Service has no ready
  endpoint, and to count that Service's requests.
- ``kubelab.io/service-activity`` on each Node, written by that node's kubelet (the Node
  authorizer lets a kubelet write only its own Node): per Service it serves with an
  activator, the last time a new connection came through it and how many connections it
  is holding now (``{"ns/name": {"lastRequest": RFC3339, "waiting": N}}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCALE_TO_ZERO_AFTER = "kubelab.io/scale-to-zero-after"
ACTIVATION_TIMEOUT = "kubelab.io/activation-timeout"
ACTIVATOR = "kubelab.io/activator"
SERVICE_ACTIVITY = "kubelab.io/service-activity"
DEFAULT_ACTIVATION_TIMEOUT = 300.0

Obj = dict[str, Any]
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration (``10m``, ``1h30m``, ``2.5s``) or a plain number of
    seconds; ValueError (saying what is accepted) for anything else or a negative value."""
    raw = str(text).strip()
    try:
        seconds = float(raw)
    except ValueError:
        pos, seconds = 0, 0.0
        for m in _PART.finditer(raw):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(raw) or not raw:
            raise ValueError(
                f"{text!r} is not a duration: use seconds or Go's form, e.g. 90s, 10m, 1h30m"
            ) from None
    if seconds < 0:
        raise ValueError(f"{text!r} is negative: a duration is 0 or more")
    return seconds


def annotations_of(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


@dataclass(frozen=True)
class ActivatorMark:
    """What ``ACTIVATOR`` on a Service says."""

    deployment: str
    timeout_seconds: float

    def encode(self) -> str:
        return json.dumps(
            {"deployment": self.deployment, "timeoutSeconds": self.timeout_seconds},
            sort_keys=True,
        )


def activator_mark(svc: Obj | None) -> ActivatorMark | None:
    """The Service's activator mark, or None when it has none (or an unreadable one)."""
    raw = annotations_of(svc).get(ACTIVATOR)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return ActivatorMark(str(data["deployment"]), float(data["timeoutSeconds"]))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ServiceActivity:
    """One node's report on one Service."""

    last_request: float | None  # epoch seconds; None: no request seen by this node
    waiting: int = 0


def format_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def encode_activity(report: dict[str, ServiceActivity]) -> str:
    """The ``SERVICE_ACTIVITY`` value for ``report`` (Services by "ns/name")."""
    out: dict[str, Obj] = {}
    for key in sorted(report):
        a = report[key]
        entry: Obj = {"waiting": a.waiting}
        if a.last_request is not None:
            entry["lastRequest"] = format_time(a.last_request)
        out[key] = entry
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def node_activity(node: Obj | None) -> dict[str, ServiceActivity]:
    """A Node's ``SERVICE_ACTIVITY``, read leniently: an unreadable entry is left out."""
    raw = annotations_of(node).get(SERVICE_ACTIVITY)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    out: dict[str, ServiceActivity] = {}
    for key, entry in (data if isinstance(data, dict) else {}).items():
        try:
            last = entry.get("lastRequest")
            out[str(key)] = ServiceActivity(
                parse_time(str(last)) if last else None, int(entry.get("waiting") or 0)
            )
        except (AttributeError, ValueError, TypeError):
            continue
    return out
