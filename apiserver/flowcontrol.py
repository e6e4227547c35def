"""Fair shares of the API under load: a runaway client cannot starve the kubelets and
controllers (Kubernetes' API Priority and Fairness, in spirit and much smaller).

Two priority levels:

- **system**: cluster admins (``system:masters``), nodes (``system:nodes``: their
  heartbeats), and the control plane's own identities (scheduler, controller manager,
  cluster DNS, kube-system service accounts). Never limited here: their traffic is what
  keeps the cluster alive, and its volume is bounded by the cluster's size.
- **workload**: every other user. Each user may have ``per_user`` requests in flight (a
  request over that waits up to ``queue_wait`` seconds for a slot, then is answered 429
  ``TooManyRequests`` with ``Retry-After``) and ``watches_per_user`` open watches (past
  which a new watch is 429 at once). One user's flood thus fills only that user's share.

The clients (client/) retry a 429 after its ``Retry-After``, as client-go does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from api.errors import ApiError

SYSTEM_GROUPS = frozenset({"system:masters", "system:nodes"})
SYSTEM_USERS = frozenset(
    {"system:kube-scheduler", "system:kube-controller-manager", "system:kube-dns"}
)
KUBE_SYSTEM_SA = "system:serviceaccount:kube-system:"
RETRY_AFTER = 1


def is_system(user: str, groups: Iterable[str]) -> bool:
    """Whether a user's requests belong to the system priority level."""
    return (
        user in SYSTEM_USERS or user.startswith(KUBE_SYSTEM_SA) or bool(SYSTEM_GROUPS & set(groups))
    )


@dataclass
class _Share:
    inflight: int = 0
    watches: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class FlowControl:
    """Per-user concurrency for the workload level (one event loop: no locks needed)."""

    def __init__(
        self, per_user: int = 32, watches_per_user: int = 200, queue_wait: float = 1.0
    ) -> None:
        self.per_user = per_user
        self.watches_per_user = watches_per_user
        self.queue_wait = queue_wait
        self.shares: dict[str, _Share] = {}
        self.rejected = 0

    def _share(self, user: str) -> _Share:
        share = self.shares.get(user)
        if share is None:
            share = self.shares[user] = _Share()
        return share

    def _too_many(self, user: str, what: str, limit: int, flag: str) -> ApiError:
        self.rejected += 1
        return ApiError(
            429,
            f"too many {what} from user {user!r} at once (limit {limit}, the apiserver's "
            f"{flag}): wait and retry (Retry-After {RETRY_AFTER} s), or close some; each "
            "user's share of the API is limited so that one busy client cannot slow down "
            "the nodes and controllers",
            "TooManyRequests",
            retry_after_seconds=RETRY_AFTER,
        )

    @asynccontextmanager
    async def request(self, user: str, groups: Iterable[str]) -> AsyncIterator[None]:
        """Hold one of ``user``'s request slots for the body of the ``with``."""
        if is_system(user, groups):
            yield
            return
        share = self._share(user)
        if share.inflight >= self.per_user:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            share.waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, self.queue_wait)
            except TimeoutError:
                raise self._too_many(
                    user, "requests", self.per_user, "--max-requests-per-user"
                ) from None
            finally:
                if waiter in share.waiters:
                    share.waiters.remove(waiter)
        else:
            share.inflight += 1
        try:
            yield
        finally:
            self._release(user, share)

    def _release(self, user: str, share: _Share) -> None:
        # A waiting request takes the slot over (inflight stays as it is).
        while share.waiters:
            waiter = share.waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return
        share.inflight -= 1
        if share.inflight == 0 and share.watches == 0:
            del self.shares[user]

    def open_watch(self, user: str, groups: Iterable[str]) -> bool:
        """Count a new watch of ``user`` (429 past the share); True when it is counted,
        so the caller must call ``close_watch`` when the watch ends."""
        if is_system(user, groups):
            return False
        share = self._share(user)
        if share.watches >= self.watches_per_user:
            raise self._too_many(
                user, "open watches", self.watches_per_user, "--max-watches-per-user"
            )
        share.watches += 1
        return True

    def close_watch(self, user: str) -> None:
        share = self.shares.get(user)
        if share is None:
            return
        share.watches -= 1
        if share.inflight == 0 and share.watches == 0 and not share.waiters:
            del self.shares[user]
