"""Kubernetes Events (core/v1) from the scheduler, written in the background.

Like client-go's event recorder this is lossy on purpose: events go through a bounded
queue served by a few workers, and when the API is busy binding pods the overflow is
dropped rather than slowing scheduling down. Routine events (``Scheduled``, one per
bound pod) also pass a token bucket (``qps``/``burst``, as client-go's client QPS limit
does for kube-scheduler): at a thousand bindings a second, writing one event per pod
would halve the apiserver's capacity for the bindings themselves. A repeat of the same event (same pod,
reason and message) patches ``count`` and ``lastTimestamp`` instead of creating a new one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError
from client import AsyncClient

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (UTC, second precision, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(
    obj: Obj, event_type: str, reason: str, message: str, component: str, instance: str
) -> Obj:
    """A core/v1 Event about ``obj`` (a Pod)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    ts = now_rfc3339()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', '')}.{secrets.token_hex(8)}", "namespace": ns},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta.get("name", ""),
            "namespace": ns,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "count": 1,
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
    }


class EventRecorder:
    """Queue events and write them with ``workers`` concurrent requests. Keep one worker
    unless repeats may be written as separate events: aggregation (create, then patch
    the count) relies on one event being written before its repeat is looked at."""

    def __init__(
        self,
        client: AsyncClient,
        component: str = "default-scheduler",
        instance: str = "",
        max_queue: int = 1000,
        workers: int = 1,
        cache_size: int = 4096,
        qps: float = 50.0,
        burst: int = 100,
        limited_reasons: frozenset[str] = frozenset({"Scheduled"}),
    ) -> None:
        self.client = client
        self.component = component
        self.instance = instance
        self.workers = workers
        self._queue: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue(max_queue)
        # (uid, reason, message) -> (namespace, event name, count), oldest first.
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, str, int]] = OrderedDict()
        self._cache_size = cache_size
        self.dropped = 0
        self.written = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.qps = qps
        self.burst = burst
        self.limited_reasons = limited_reasons
        self._tokens = float(burst)
        self._refilled = time.monotonic()

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.qps)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Queue an event about ``obj``; dropped (and counted) when the queue is full or
        a routine event finds the rate limit spent."""
        if reason in self.limited_reasons and self.qps > 0 and not self._take_token():
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        for _ in range(self.workers):
            self._tasks.append(asyncio.create_task(self._work()))

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Write what is queued (for up to ``flush_timeout`` s), then stop the workers."""
        try:
            await asyncio.wait_for(self._queue.join(), flush_timeout)
        except TimeoutError:
            pass
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            obj, event_type, reason, message = await self._queue.get()
            try:
                await self._write(obj, event_type, reason, message)
                self.written += 1
            except Exception as exc:  # events are best effort
                log.debug("event %s for %s not written: %s", reason, obj.get("metadata"), exc)
            finally:
                self._queue.task_done()

    async def _write(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("uid") or meta.get("name", ""), reason, message)
        seen = self._seen.get(key)
        if seen is not None:
            ns, name, count = seen
            try:
                await self.client.patch(
                    "events",
                    name,
                    {"count": count + 1, "lastTimestamp": now_rfc3339()},
                    namespace=ns,
                )
                self._seen[key] = (ns, name, count + 1)
                self._seen.move_to_end(key)
                return
            except ApiError as exc:
                if exc.code != 404:
                    raise
                del self._seen[key]  # expired or deleted: create a fresh one
        body = event_body(obj, event_type, reason, message, self.component, self.instance)
        ns = body["metadata"]["namespace"]
        await self.client.create("events", body, namespace=ns)
        self._seen[key] = (ns, body["metadata"]["name"], 1)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)
