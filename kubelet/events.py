"""Kubernetes Events for pods (Pulling, Pulled, Created, Started, Killing, Unhealthy,
BackOff, Failed), posted in the background so a worker never waits on them.

A repeat of the same event (same object, reason and message) bumps ``count`` and
``lastTimestamp`` of the existing Event instead of creating a new one, as the real
kubelet's event correlator does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from api.errors import ApiError
from client import AsyncClient
from kubelet.timeutil import now_rfc3339

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"


@dataclass
class _Pending:
    obj: dict[str, Any]
    type: str
    reason: str
    message: str
    field_path: str | None


class EventRecorder:
    """Queues events and posts them from one background task."""

    def __init__(self, client: AsyncClient, node_name: str, component: str = "kubelet") -> None:
        self.client = client
        self.node_name = node_name
        self.component = component
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=10000)
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self.posted = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-recorder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None

    def event(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        field_path: str | None = None,
    ) -> None:
        """Record an event about ``obj`` (a pod); never blocks, never raises."""
        try:
            self._queue.put_nowait(_Pending(obj, type_, reason, message, field_path))
        except asyncio.QueueFull:
            log.warning("event queue full, dropping %s %s", reason, message)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued events are posted (tests and shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._queue.empty() and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._post(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - events are best effort
                log.debug("posting event %s failed: %s", item.reason, e)

    async def _post(self, item: _Pending) -> None:
        meta = item.obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), item.field_path or "", item.reason, item.message)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            name, _, count = seen
            try:
                await self.client.patch(
                    "events",
                    name,
                    {"count": count + 1, "lastTimestamp": now},
                    ns,
                    patch_type="merge",
                )
                self._seen[key] = (name, ns, count + 1)
                self.posted += 1
                return
            except ApiError as e:
                if e.code != 404:
                    raise
        name = f"{meta.get('name', 'unknown')}.{secrets.token_hex(8)}"
        involved: dict[str, Any] = {
            "apiVersion": item.obj.get("apiVersion", "v1"),
            "kind": item.obj.get("kind", "Pod"),
            "name": meta.get("name", ""),
            "namespace": ns,
            "uid": meta.get("uid", ""),
        }
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        if item.field_path:
            involved["fieldPath"] = item.field_path
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": item.reason,
            "message": item.message,
            "type": item.type,
            "source": {"component": self.component, "host": self.node_name},
            "reportingComponent": self.component,
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self.client.create("events", body, ns)
        self.posted += 1
        if len(self._seen) > 5000:
            self._seen.clear()
        self._seen[key] = (name, ns, 1)
