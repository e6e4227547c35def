"""The event recorder every component uses (client-go's ``tools/record``): ``record``
decides at once what to write (``client.eventcorrelation``: aggregation, counts, rate
limits) and queues it; one background task writes the queue to the API.

Lossy on purpose, as in Kubernetes: a full queue drops the event (counted in
``dropped``), a write that keeps failing is given up (``failed``), and neither ever blocks
or raises into the component that recorded it: an Event is a note for people, not state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from api.errors import ApiError
from client.backoff import Backoff
from client.eventcorrelation import Correlation, EventCorrelator, EventLimits, coalesce

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"


class EventSink(Protocol):
    """The two calls the writer makes (``AsyncClient`` has them)."""

    async def create(self, resource: str, body: Obj, namespace: str | None = None) -> Any: ...

    async def patch(
        self, resource: str, name: str, patch: Obj, namespace: str | None = None
    ) -> Any: ...


def _retriable(e: Exception) -> bool:
    """Worth another try: the API busy or unreachable; not a refusal of the Event."""
    if isinstance(e, ApiError):
        return e.code == 429 or e.code >= 500
    return isinstance(e, OSError)  # ServerUnreachable, timeouts, resets


class EventRecorder:
    """Records core/v1 Events about objects on behalf of ``component`` (``host``: the node
    a kubelet runs on, in ``source.host``; ``instance``: ``reportingInstance``)."""

    def __init__(
        self,
        client: EventSink,
        component: str,
        instance: str = "",
        *,
        host: str = "",
        limits: EventLimits = EventLimits(),
        clock: Callable[[], float] = time.time,
        queue_size: int = 1000,
        tries: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self.client = client
        self.correlator = EventCorrelator(
            component, instance, host=host, limits=limits, clock=clock
        )
        self.queue: asyncio.Queue[Correlation] = asyncio.Queue(queue_size)
        self.tries = tries
        self.retry_delay = retry_delay
        self.written = 0  # requests that landed
        self.dropped = 0  # events skipped by a rate limit or a full queue
        self.failed = 0  # writes given up (refused, or still failing after ``tries``)
        self._task: asyncio.Task[None] | None = None

    def record(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        field_path: str | None = None,
    ) -> None:
        """Record an event about ``obj``; ``field_path`` names a part of it
        (``spec.containers{web}``). Never blocks, never raises."""
        try:
            write = self.correlator.correlate(obj, event_type, reason, message, field_path)
        except Exception:  # a malformed object must not break its caller
            log.debug("event %s not recorded", reason, exc_info=True)
            write = None
        if write is None:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(write)
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        """Start the writer (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="event-writer")

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` s) until what is queued has been written or given up."""
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except TimeoutError:
            pass

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Write what is queued (for up to ``flush_timeout`` s), then stop the writer."""
        if self._task is None:
            return
        await self.flush(flush_timeout)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def run(self) -> None:
        """Write queued events forever, repeats already queued coalesced into one write."""
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                for write in coalesce(batch):
                    await self._write(write)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _write(self, write: Correlation) -> None:
        for attempt in range(self.tries):
            try:
                await self._send(write)
                self.written += 1
                return
            except Exception as e:  # events are best effort
                if not _retriable(e) or attempt == self.tries - 1:
                    log.debug("event %s not written: %s", write.event["reason"], e)
                    break
            await asyncio.sleep(Backoff(self.retry_delay).delay(attempt + 1))
        self.failed += 1

    async def _send(self, write: Correlation) -> None:
        """Create-or-patch: the patch of an Event that expired creates it again; a create
        that finds it there (an earlier try landed after all) patches it."""
        ns = write.event["metadata"]["namespace"]
        name = write.event["metadata"]["name"]
        if not write.create:
            try:
                await self.client.patch("events", name, write.patch(), namespace=ns)
                return
            except ApiError as e:
                if e.code != 404:
                    raise
        try:
            await self.client.create("events", write.event, namespace=ns)
        except ApiError as e:
            if e.code != 409:
                raise
            await self.client.patch("events", name, write.patch(), namespace=ns)
