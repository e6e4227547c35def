"""What a reconcile decides: a list of API writes, applied later by a controller's shell.

Pure reconcile functions return ``Action`` values instead of calling the API, so that the
decision can be unit-tested without a server and the shell stays a thin loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verb = Literal["create", "delete", "patch", "replace", "event"]


@dataclass(frozen=True)
class Action:
    """One write to the API (or one Event to record)."""

    verb: Verb
    resource: str
    namespace: str | None
    name: str = ""
    body: dict[str, Any] | None = None
    patch_type: str = "merge"
    subresource: str = ""
    propagation_policy: str | None = None
    grace_period_seconds: int | None = None  # delete: 0 removes a pod without its kubelet
    # For events: the object the event is about and its type/reason/message.
    event_type: str = ""
    reason: str = ""
    message: str = ""

    def describe(self) -> str:
        """A short human-readable form, for logs."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        sub = f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb} {self.resource}{sub} {where} {self.reason}".strip()


@dataclass
class Result:
    """The outcome of one reconcile: the writes to make and when to look again."""

    actions: list[Action] = field(default_factory=list)
    requeue_after: float | None = None

    def requeue(self, seconds: float) -> None:
        """Ask to be looked at again after ``seconds`` (keeps the earliest request)."""
        seconds = max(seconds, 0.0)
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds

    def of(self, verb: str, resource: str | None = None) -> list[Action]:
        """The actions with this verb (and resource), for tests and shells."""
        return [
            a
            for a in self.actions
            if a.verb == verb and (resource is None or a.resource == resource)
        ]


def create(resource: str, namespace: str | None, body: dict[str, Any]) -> Action:
    """Create ``body`` in ``resource``."""
    return Action("create", resource, namespace, body["metadata"].get("name", ""), body=body)


def delete(
    resource: str,
    namespace: str | None,
    name: str,
    *,
    propagation_policy: str | None = None,
    grace_period_seconds: int | None = None,
) -> Action:
    """Delete one object."""
    return Action(
        "delete",
        resource,
        namespace,
        name,
        propagation_policy=propagation_policy,
        grace_period_seconds=grace_period_seconds,
    )


def patch(
    resource: str,
    namespace: str | None,
    name: str,
    body: dict[str, Any],
    *,
    subresource: str = "",
    patch_type: str = "merge",
) -> Action:
    """Patch one object (merge patch unless told otherwise)."""
    return Action(
        "patch",
        resource,
        namespace,
        name,
        body=body,
        subresource=subresource,
        patch_type=patch_type,
    )


def event(obj: dict[str, Any], event_type: str, reason: str, message: str) -> Action:
    """Record a core/v1 Event about ``obj``."""
    meta = obj.get("metadata", {})
    return Action(
        "event",
        "events",
        meta.get("namespace"),
        meta.get("name", ""),
        body=obj,
        event_type=event_type,
        reason=reason,
        message=message,
    )
