"""The one way tests wait: poll a predicate until it holds, or fail saying what was awaited
and what was last seen.

A fixed sleep is only for proving that something does NOT happen (nothing restarts, nothing
more binds), with the reason in a comment beside it; everything else waits here.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


class WaitTimeout(AssertionError):
    """``what`` did not come true in time; the message holds the last observed value."""


class _Poll:
    """One wait's deadline and what its predicate last returned or raised."""

    def __init__(
        self,
        what: str,
        timeout: float,
        give_up_on: tuple[type[BaseException], ...],
        diagnostics: Callable[[], str] | None,
    ) -> None:
        self.what, self.timeout = what, timeout
        self.give_up_on = give_up_on
        self.diagnostics = diagnostics
        self.deadline = time.monotonic() + timeout
        self.last: Any = "never evaluated"

    def done(self, value: Any) -> bool:
        self.last = value
        return bool(value)

    def failed(self, exc: Exception) -> None:
        # An exception means "not yet" (a 404, the API restarting, a connection refused),
        # unless the caller named it a verdict.
        if isinstance(exc, self.give_up_on):
            raise exc
        self.last = exc

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def error(self) -> WaitTimeout:
        msg = f"timed out after {self.timeout:g}s waiting for {self.what}; last observed: {self.last!r}"
        if self.diagnostics is not None:
            msg += "\n" + self.diagnostics()
        return WaitTimeout(msg)


def wait_for(
    predicate: Callable[[], T | None],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    interval: float = 0.1,
    give_up_on: tuple[type[BaseException], ...] = (),
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that value.

    An exception from ``predicate`` counts as "not yet" unless it is one of ``give_up_on``
    (then it propagates at once: an invariant checked while waiting). On timeout raise
    ``WaitTimeout`` naming ``what``, the last value or exception seen, and
    ``diagnostics()`` (component logs) when given."""
    poll = _Poll(what, timeout, give_up_on, diagnostics)
    while True:
        try:
            value = predicate()
        except Exception as exc:
            poll.failed(exc)
        else:
            if poll.done(value):
                return value  # type: ignore[return-value]
        if poll.expired():
            raise poll.error()
        time.sleep(interval)


async def wait_for_async(
    predicate: Callable[[], T | None | Awaitable[T | None]],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    interval: float = 0.05,
    give_up_on: tuple[type[BaseException], ...] = (),
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """``wait_for`` inside an event loop: the same rules, but the pauses yield to the loop
    (so in-process components keep running), and ``predicate`` may be a coroutine function."""
    poll = _Poll(what, timeout, give_up_on, diagnostics)
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            poll.failed(exc)
        else:
            if poll.done(value):
                return value  # type: ignore[return-value]
        if poll.expired():
            raise poll.error()
        await asyncio.sleep(interval)
