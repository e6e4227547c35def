"""An asyncio work queue with the guarantees of client-go's rate-limited workqueue.

- A key queued several times is handed out once (deduplication).
- A key being processed (between ``get`` and ``done``) is never handed to a second
  worker; if it is added meanwhile, it is queued again when ``done`` is called.
- ``add_after`` delays a key; if it is already waiting, the earlier time wins.
- ``add_rate_limited`` delays a key by a per-key exponential backoff (``client.backoff``:
  ``base_delay * 2**(failures-1)``, capped at ``max_delay``) and, optionally, by an
  overall token bucket (``qps``/``burst``); ``forget`` resets the key's backoff.
- ``shutdown`` wakes every waiting ``get``, which then raises ``QueueShutDown``; keys still
  queued are dropped (controllers are level-triggered and relist on start).

Every method but ``get`` is synchronous and must be called from the event loop's thread
(informer handlers are); delays use ``loop.call_later``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from client.backoff import Backoff
from client.ratelimit import TokenBucket  # the overall limit of add_rate_limited


class QueueShutDown(Exception):
    """Raised by ``WorkQueue.get`` once the queue is shut down."""


class WorkQueue:
    """Deduplicating, per-key exclusive, rate-limited queue of string keys (``ns/name``)."""

    def __init__(
        self,
        base_delay: float = 0.005,
        max_delay: float = 1000.0,
        *,
        qps: float | None = 100.0,
        burst: int = 1000,
    ) -> None:
        """``qps``/``burst``: overall token bucket applied to ``add_rate_limited`` (None
        disables it). The default is generous; client-go's is 10 qps, burst 100."""
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._backoff = Backoff(base_delay, cap=max_delay).per_key()
        self._bucket = TokenBucket(qps, burst) if qps else None
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()  # queued, or re-added while processing
        self._processing: set[str] = set()
        self._waiting: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    # -- adding --------------------------------------------------------------------------

    def add(self, key: str) -> None:
        """Queue ``key`` now (a no-op if it is already queued or the queue is shut down)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() queues it again
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: str, seconds: float) -> None:
        """Queue ``key`` after ``seconds``; an earlier pending time for it wins."""
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready = loop.time() + seconds
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready:
                return
            pending[1].cancel()
        handle = loop.call_at(ready, self._fire, key)
        self._waiting[key] = (ready, handle)

    def _fire(self, key: str) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def when(self, key: str) -> float:
        """The per-key backoff that the next ``add_rate_limited(key)`` will use."""
        return self._backoff.next_delay(key)

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` after its exponential backoff (and the overall bucket's delay)."""
        delay = self._backoff.failed(key)
        if self._bucket is not None:
            delay = max(delay, self._bucket.reserve())
        self.add_after(key, delay)

    def forget(self, key: str) -> None:
        """Reset ``key``'s backoff (call after it was processed successfully)."""
        self._backoff.forget(key)

    def num_requeues(self, key: str) -> int:
        """How many times ``key`` was rate-limited since it was last forgotten."""
        return self._backoff.failures(key)

    # -- working -------------------------------------------------------------------------

    async def get(self) -> str:
        """The next key, waiting for one; the caller must call ``done(key)`` afterwards.

        Raises ``QueueShutDown`` once ``shutdown`` was called."""
        loop = asyncio.get_running_loop()
        while True:
            if self._shutting_down:
                raise QueueShutDown("the work queue is shut down")
            if self._queue:
                key = self._queue.popleft()
                self._dirty.discard(key)
                self._processing.add(key)
                return key
            fut: asyncio.Future[None] = loop.create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                # If we were woken just before being cancelled, pass the wake-up on so
                # the queued key is not stranded while other workers sleep.
                if fut.done() and not fut.cancelled():
                    self._wake_one()
                else:
                    try:
                        self._getters.remove(fut)
                    except ValueError:
                        pass
                raise

    def done(self, key: str) -> None:
        """Mark ``key`` finished; if it was added while processing, queue it again."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- state ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys ready to be handed out (not those delayed or being processed)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    @property
    def waiting(self) -> int:
        """Keys scheduled by ``add_after``/``add_rate_limited`` and not yet queued."""
        return len(self._waiting)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Stop the queue: pending delays are cancelled, every ``get`` raises QueueShutDown,
        and further adds are ignored."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
