"""The reflector: what list + watch does next, decided in one place (client-go's
``tools/cache/reflector.go``).

List, then watch from the list's resourceVersion. A stream that ends (the server's
timeout) or drops is resumed from the last resourceVersion seen, a BOOKMARK's included,
so nothing is lost or repeated. A 410 Gone on the watch means that version was compacted
away: list again (the caller turns the fresh list into add/update/delete). Failures wait
by a jittered exponential backoff that starts over once events flow again; a stream that
ends at once with nothing in it counts as a failure too, so a server shutting down (or a
proxy cutting idle streams) cannot turn the loop into a busy one.

``Reflector`` holds only the decisions and the state they need (last resourceVersion,
whether a list is due, the failure count); no I/O happens here. The loop that acts on
them is ``AsyncClient.list_and_watch`` (and its generated twin ``Client.list_and_watch``),
which every informer and watch helper runs.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.errors import ApiError
from client.backoff import Backoff
from client.core import ServerUnreachable, resource_version

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Listing:
    """A full list of the collection (the first one, or one after a 410): the List body,
    whose ``items`` are every object and whose resourceVersion the watch resumes from."""

    body: dict[str, Any]


def retry_backoff(cap: float = 30.0) -> Backoff:
    """The backoff of a list + watch loop: 0.1 s doubling up to ``cap``, ±20 % so that
    many informers that lost the same server do not come back in step."""
    return Backoff(0.1, cap=cap, jitter=0.2)


class Reflector:
    """The state and decisions of one list + watch loop.

    ``persistent`` (informers): every failure is retried, since a component must not lose
    its cache; an unexpected one (a malformed reply) also lists again. Otherwise (a watch
    helper a user called) only a dropped or unreachable server is retried during a watch,
    and any other error, or any failure of a list, propagates to the caller.
    """

    def __init__(
        self,
        name: str,
        resource_version: str | None = None,
        *,
        backoff: Backoff | None = None,
        persistent: bool = False,
        watch_timeout: int | None = 300,
        spread_timeout: bool = False,
        short_watch: float = 1.0,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.name = name  # what is watched, for log lines
        self.last_rv = resource_version
        self.need_list = resource_version is None
        self.persistent = persistent
        self.watch_timeout = watch_timeout
        self.spread_timeout = spread_timeout
        self.short_watch = short_watch
        self.deadline = deadline  # a ``clock`` time no watch should last past
        self.clock = clock
        self.rand = rand
        self.relists = 0  # how many times a 410 forced a list again (tests, metrics)
        self._retry = (backoff or retry_backoff()).retry()
        self._watch_started = 0.0
        self._received = 0

    def expired(self) -> bool:
        """Whether the deadline (if any) has passed: a ``stopped`` for the loop."""
        return self.deadline is not None and self.clock() >= self.deadline

    @property
    def failures(self) -> int:
        """Consecutive failures since events last flowed."""
        return self._retry.failures

    # -- the list -----------------------------------------------------------------------

    def listed(self, listing: dict[str, Any]) -> None:
        """A list succeeded: watch from its resourceVersion."""
        self.last_rv = resource_version(listing) or self.last_rv
        self.need_list = False

    # -- the watch ----------------------------------------------------------------------

    def watch_params(self) -> tuple[str | None, int | None]:
        """The resourceVersion and timeoutSeconds of the next watch; starts its clock.
        With ``spread_timeout`` the timeout is stretched by up to 2x at random, so that
        informers started together do not all reconnect together; with a ``deadline`` it
        ends by then (a second at least)."""
        self._watch_started = now = self.clock()
        self._received = 0
        timeout = self.watch_timeout
        if timeout and self.spread_timeout:
            timeout = int(timeout * (1 + self.rand()))
        if self.deadline is not None:
            left = max(1, math.ceil(self.deadline - now))
            timeout = left if timeout is None else min(timeout, left)
        return self.last_rv, timeout

    def observed(self, event: dict[str, Any]) -> None:
        """An event (BOOKMARKs included) arrived: resume from its resourceVersion, and the
        failures so far are over."""
        rv = resource_version(event.get("object") or {})
        if rv is not None:
            self.last_rv = rv
        self._received += 1
        self._retry.succeeded()

    def watch_ended(self) -> float:
        """The stream ended without an error: seconds to wait before the next watch."""
        if self._received or self.clock() - self._watch_started > self.short_watch:
            self._retry.succeeded()
            return 0.0
        delay = self._retry.failed()
        log.info("%s watch ended at once with no events; again in %.1fs", self.name, delay)
        return delay

    # -- failures -----------------------------------------------------------------------

    def failed(self, err: Exception, listing: bool) -> float | None:
        """The list (``listing``) or the watch failed with ``err``: seconds to wait before
        the next step, or None when ``err`` is the caller's to handle (re-raise it)."""
        if not listing and isinstance(err, ApiError) and err.code == 410:
            log.info("%s watch expired at %s; listing again", self.name, self.last_rv)
            self.relists += 1
            self.need_list = True
            return 0.0
        if not self.persistent and (listing or not isinstance(err, ServerUnreachable)):
            return None
        delay = self._retry.failed()
        if isinstance(err, ApiError):
            log.warning("%s: %s (%s); again in %.1fs", self.name, err, err.code, delay)
        elif isinstance(err, ServerUnreachable):
            log.warning("%s: %s; again in %.1fs", self.name, err, delay)
        else:
            # Anything unexpected must not end a component's cache: start from a list.
            log.error("%s failed; listing again in %.1fs", self.name, delay, exc_info=err)
            self.need_list = True
        return delay
