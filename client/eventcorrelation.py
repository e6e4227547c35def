"""What becomes of an event before it is written (client-go's ``EventCorrelator``): pure
decisions over bounded caches, no I/O.

- **Aggregation**: past ``aggregate_max`` distinct messages for one (source, object, type,
  reason) within ``aggregate_interval`` seconds, each new message goes to one combined
  event, ``(combined from similar events): <latest message>``.
- **Deduplication**: a repeat of an event (same source, object, field path, type, reason
  and message) is the same Event: ``count`` + 1 and a new ``lastTimestamp``.
- **Spam filter**: a token bucket per source + object (``spam_burst``, refilled at
  ``spam_qps``), so a pod that is always unhealthy cannot flood the API. As in client-go
  the count is taken before the filter, so the next event that passes carries it.
- **Routine reasons** (optional): reasons that come once per ordinary success (the
  scheduler's ``Scheduled``) share one bucket, so at a thousand bindings a second the
  events do not halve the API's capacity for the bindings themselves.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from client.ratelimit import TokenBucket

Obj = dict[str, Any]

COMBINED_PREFIX = "(combined from similar events): "

# (component, host, kind, namespace, name, uid, apiVersion, type, reason)
GroupKey = tuple[str, ...]
# An event's own key is a group key + (fieldPath, message); a group's combined event's is
# the group key + ("combined",): the lengths differ, so the two never collide.
EventKey = tuple[str, ...]


def format_time(t: float) -> str:
    """RFC 3339 in UTC to the second, as Events' ``firstTimestamp``/``lastTimestamp`` are."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: Obj, field_path: str | None = None) -> Obj:
    """The ObjectReference an Event about ``obj`` carries; ``field_path`` names a part of
    it (``spec.containers{web}``)."""
    m = obj.get("metadata") or {}
    ref: Obj = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
    }
    if m.get("namespace"):
        ref["namespace"] = m["namespace"]
    if m.get("resourceVersion"):
        ref["resourceVersion"] = m["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def event_body(
    obj: Obj,
    event_type: str,
    reason: str,
    message: str,
    component: str,
    instance: str = "",
    *,
    host: str = "",
    field_path: str | None = None,
    now: float | None = None,
) -> Obj:
    """A new core/v1 Event (``count`` 1) about ``obj``; it lives in the object's namespace
    (``default`` for a cluster-scoped object such as a Node)."""
    ref = involved_object(obj, field_path)
    ts = format_time(time.time() if now is None else now)
    source = {"component": component, "host": host} if host else {"component": component}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{ref['name'] or 'unknown'}.{secrets.token_hex(8)}",
            "namespace": ref.get("namespace") or "default",
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": source,
        "reportingComponent": component,
        "reportingInstance": instance,
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    }


@dataclass(frozen=True)
class EventLimits:
    """The correlator's tunables; the defaults are client-go's."""

    aggregate_max: int = 10
    aggregate_interval: float = 600.0
    spam_burst: int = 25
    spam_qps: float = 1.0 / 300.0
    routine_reasons: frozenset[str] = frozenset()
    routine_qps: float = 0.0  # 0: routine reasons are not limited beyond the spam filter
    routine_burst: int = 0
    cache_size: int = 4096


@dataclass
class Correlation:
    """An event to write: ``event`` is the Event as it should stand afterwards."""

    key: EventKey
    event: Obj
    create: bool  # a new Event (POST); else PATCH count, lastTimestamp and message

    def patch(self) -> Obj:
        """The merge patch that brings an existing Event up to ``event``."""
        e = self.event
        return {"count": e["count"], "lastTimestamp": e["lastTimestamp"], "message": e["message"]}


@dataclass
class _Group:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Seen:
    name: str
    count: int
    first: str


class _Lru(OrderedDict[Any, Any]):
    """An OrderedDict that forgets its least recently used entries past ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def use(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class EventCorrelator:
    """Decides, for each event a component records, what to write (or that nothing is)."""

    def __init__(
        self,
        component: str,
        instance: str = "",
        *,
        host: str = "",
        limits: EventLimits = EventLimits(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.component = component
        self.instance = instance
        self.host = host
        self.limits = limits
        self.clock = clock
        self._groups = _Lru(limits.cache_size)
        self._seen = _Lru(limits.cache_size)
        self._spam = _Lru(limits.cache_size)
        self._routine = (
            TokenBucket(limits.routine_qps, limits.routine_burst, clock)
            if limits.routine_qps > 0
            else None
        )

    def correlate(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        field_path: str | None = None,
    ) -> Correlation | None:
        """The write for this event, or None when a rate limit skips it."""
        # First, and before any work: a routine event over its budget is simply not sent.
        if self._routine is not None and reason in self.limits.routine_reasons:
            if not self._routine.try_take():
                return None
        now = self.clock()
        m = obj.get("metadata") or {}
        subject = (
            self.component,
            self.host,
            obj.get("kind", ""),
            m.get("namespace") or "",
            m.get("name", ""),
            m.get("uid", ""),
            obj.get("apiVersion", ""),
        )
        key, message = self._aggregate((*subject, event_type, reason), field_path, message, now)
        result = self._observe(key, obj, event_type, reason, message, field_path, now)
        return result if self._spam_allows(subject) else None

    def _aggregate(
        self, group_key: GroupKey, field_path: str | None, message: str, now: float
    ) -> tuple[EventKey, str]:
        group = self._groups.get(group_key)
        if group is None or now - group.last > self.limits.aggregate_interval:
            group = _Group()
        group.last = now
        self._groups.use(group_key, group)
        if message in group.messages or len(group.messages) < self.limits.aggregate_max:
            group.messages.add(message)
            return (*group_key, field_path or "", message), message
        return (*group_key, "combined"), COMBINED_PREFIX + message

    def _observe(
        self,
        key: EventKey,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        field_path: str | None,
        now: float,
    ) -> Correlation:
        body = event_body(
            obj,
            event_type,
            reason,
            message,
            self.component,
            self.instance,
            host=self.host,
            field_path=field_path,
            now=now,
        )
        seen = self._seen.get(key)
        if seen is None:
            seen = _Seen(body["metadata"]["name"], 1, body["firstTimestamp"])
        else:
            seen.count += 1
            body["metadata"]["name"] = seen.name
            body["firstTimestamp"] = seen.first
            body["count"] = seen.count
        self._seen.use(key, seen)
        return Correlation(key, body, create=seen.count == 1)

    def _spam_allows(self, subject: tuple[str, ...]) -> bool:
        bucket = self._spam.get(subject)
        if bucket is None:
            bucket = TokenBucket(self.limits.spam_qps, self.limits.spam_burst, self.clock)
        self._spam.use(subject, bucket)
        return bool(bucket.try_take())


def coalesce(writes: list[Correlation]) -> list[Correlation]:
    """Queued writes with the later of each Event's writes only: each carries the whole
    count, so a burst of repeats costs one request. The first write's ``create`` stands
    (an Event not yet created is created, with the latest count)."""
    merged: dict[tuple[EventKey, str], Correlation] = {}
    for w in writes:
        ident = (w.key, w.event["metadata"]["name"])
        earlier = merged.get(ident)
        merged[ident] = w if earlier is None else Correlation(w.key, w.event, earlier.create)
    return list(merged.values())
