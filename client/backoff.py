"""Exponential backoff, the one policy every retry in kubelab waits by.

``Backoff`` is the policy (client-go's ``wait.Backoff``): the wait before attempt ``n`` is
``initial * factor**(n-1)``, capped at ``cap``, then spread by ``±jitter`` (a fraction)
so that many clients failing together do not retry together. It is pure: the callers
keep their own count of failures (a scheduling queue's attempts, a Job's failed pods).

Two small counters are built on it for the common cases:

- ``Retry``: the failures of one loop in a row (a watch reconnecting), reset after a
  success;
- ``KeyedBackoff``: failures per key (client-go's ``flowcontrol.Backoff`` and the work
  queue's per-item rate limiter), forgotten per key after a success.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before a retry: ``initial``, times ``factor`` per failure, at most
    ``cap``, spread by ``±jitter`` (0.2: anywhere from 80 % to 120 %)."""

    initial: float
    factor: float = 2.0
    cap: float = math.inf
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.factor < 1 or self.cap < 0 or not 0 <= self.jitter < 1:
            raise ValueError(
                f"backoff needs initial >= 0, factor >= 1, cap >= 0 and 0 <= jitter < 1, "
                f"not {self.initial}, {self.factor}, {self.cap}, {self.jitter}"
            )

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before retry number ``attempt`` (1 for the first; less counts as 1)."""
        n = max(attempt, 1) - 1
        # Past the cap the power only overflows; stop raising it once it is reached.
        base = self.initial
        while n > 0 and base < self.cap:
            base *= self.factor
            n -= 1
        base = min(base, self.cap)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * rand() - 1.0)
        return base

    def retry(self) -> Retry:
        """A counter of consecutive failures waiting by this policy."""
        return Retry(self)

    def per_key(self) -> KeyedBackoff:
        """A counter of failures per key waiting by this policy."""
        return KeyedBackoff(self)


class Retry:
    """Consecutive failures of one loop: ``failed`` counts one and says how long to wait,
    ``succeeded`` starts over."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self.failures = 0

    def failed(self) -> float:
        self.failures += 1
        return self.policy.delay(self.failures)

    def succeeded(self) -> None:
        self.failures = 0


class KeyedBackoff:
    """Failures counted per key (an object, an item of a work queue): ``failed(key)``
    counts one and says how long that key waits; ``forget(key)`` starts it over."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self._failures: dict[str, int] = {}

    def failed(self, key: str) -> float:
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        return self.policy.delay(n)

    def next_delay(self, key: str) -> float:
        """The wait the next ``failed(key)`` will return (without counting it)."""
        return self.policy.delay(self._failures.get(key, 0) + 1)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)
