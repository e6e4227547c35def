"""An event recorder: core/v1 Events about objects, written in the background.

Repeats of the same (object, type, reason, message) become one Event whose ``count`` and
``lastTimestamp`` grow; queued repeats are coalesced into one write, so a burst of
SuccessfulCreate does not double the API traffic of the burst itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client import ApiError, AsyncClient

from .objutil import Obj, format_time, meta

log = logging.getLogger(__name__)
COMPONENT = "kubelab-controller-manager"
SIMILAR_LIMIT = 10  # after this many distinct messages for one (object, reason): combine


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    first: str


def involved_object(obj: Obj) -> dict[str, Any]:
    m = meta(obj)
    ref = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
    }
    if m.get("namespace"):
        ref["namespace"] = m["namespace"]
    if m.get("resourceVersion"):
        ref["resourceVersion"] = m["resourceVersion"]
    return ref


class EventRecorder:
    """Queue events with ``record``; ``run`` writes them."""

    def __init__(
        self,
        client: AsyncClient | None,
        component: str = COMPONENT,
        clock: Callable[[], float] = time.time,
        queue_size: int = 5000,
    ) -> None:
        self.client = client
        self.component = component
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self.clock = clock
        self.queue: asyncio.Queue[tuple[tuple[str, ...], Obj, str, str, str]] = asyncio.Queue(
            queue_size
        )
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._similar: OrderedDict[tuple[str, ...], set[str]] = OrderedDict()
        self.dropped = 0
        self.written = 0

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Queue one event about ``obj`` (never blocks; drops when the queue is full)."""
        ref = involved_object(obj)
        base = (ref.get("namespace", ""), ref["kind"], ref["name"], ref["uid"], event_type, reason)
        similar = self._similar.setdefault(base, set())
        self._similar.move_to_end(base)
        if len(self._similar) > 4096:
            self._similar.popitem(last=False)
        if message not in similar and len(similar) >= SIMILAR_LIMIT:
            message = f"(combined from similar events): {message}"
            key = (*base, "combined")
        else:
            similar.add(message)
            key = (*base, message)
        try:
            self.queue.put_nowait((key, obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        """Write queued events forever (coalescing repeats that are already queued)."""
        while True:
            key, obj, etype, reason, message = await self.queue.get()
            count = 1
            rest = []
            while not self.queue.empty():
                item = self.queue.get_nowait()
                if item[0] == key:
                    count += 1
                    message = item[4]
                else:
                    rest.append(item)
            for item in rest:
                self.queue.put_nowait(item)
            try:
                await self._write(key, obj, etype, reason, message, count)
            except Exception as e:  # events are best effort
                log.debug("event %s %s not written: %s", reason, message, e)

    async def _write(
        self, key: tuple[str, ...], obj: Obj, etype: str, reason: str, message: str, count: int
    ) -> None:
        assert self.client is not None
        now = format_time(self.clock())
        seen = self._seen.get(key)
        if seen is not None:
            try:
                await self.client.patch(
                    "events",
                    seen.name,
                    {"count": seen.count + count, "lastTimestamp": now, "message": message},
                    seen.namespace,
                )
                seen.count += count
                self._seen.move_to_end(key)
                self.written += 1
                return
            except ApiError as e:
                if e.code != 404:
                    raise
        ref = involved_object(obj)
        ns = ref.get("namespace") or "default"
        name = f"{ref['name']}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": etype,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": count,
        }
        await self.client.create("events", body, ns)
        self._seen[key] = _Seen(name, ns, count, now)
        if len(self._seen) > 4096:
            self._seen.popitem(last=False)
        self.written += 1
