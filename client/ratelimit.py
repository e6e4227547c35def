"""A token bucket (client-go's ``flowcontrol`` token bucket rate limiter): ``burst`` tokens,
refilled at ``qps`` a second. The work queue waits for a token (``reserve``); the event
correlator's spam filters skip what finds none (``try_take``)."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` tokens, refilled at ``qps`` per second of ``clock``."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self.clock()
        # A clock that steps back (a wall clock) refills nothing rather than draining.
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._last = now

    def reserve(self) -> float:
        """Take one token, possibly ahead of time: how long the caller must wait for it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def try_take(self) -> bool:
        """Take one token if one is there now; False (and nothing taken) if not."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
