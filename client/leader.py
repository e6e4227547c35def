"""Leader election through a coordination.k8s.io/v1 Lease (client-go's leaderelection),
shared by the controller manager and the scheduler.

One copy holds the Lease and renews it every ``retry_period``; the others stand by and take
it when it has not been renewed for ``lease_duration`` *as observed by their own clock*
(so clock skew between boxes does not matter). A leader that cannot renew within
``renew_deadline`` stops leading.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError
from client.aio import AsyncClient
from client.core import ServerUnreachable

log = logging.getLogger(__name__)


@dataclass
class LeaderConfig:
    """Defaults are kube-controller-manager's and kube-scheduler's (they agree)."""

    name: str = "kubelab-controller-manager"
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""


def add_leader_flags(p: argparse.ArgumentParser, lease_name: str) -> None:
    """kube-controller-manager's and kube-scheduler's --leader-elect* flags."""
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take a Lease before running, so only one copy is active (default on)",
    )
    p.add_argument(
        "--leader-elect-lease-duration",
        type=float,
        default=15.0,
        help="lease duration in seconds (default 15)",
    )
    p.add_argument(
        "--leader-elect-renew-deadline",
        type=float,
        default=10.0,
        help="give up leading after failing to renew this long (default 10)",
    )
    p.add_argument(
        "--leader-elect-retry-period",
        type=float,
        default=2.0,
        help="seconds between acquire/renew attempts (default 2)",
    )
    p.add_argument(
        "--leader-elect-resource-namespace",
        default="kube-system",
        help="namespace of the Lease (default kube-system)",
    )
    p.add_argument(
        "--leader-elect-resource-name",
        default=lease_name,
        help=f"name of the Lease (default {lease_name})",
    )


def config_from_args(args: argparse.Namespace) -> LeaderConfig:
    """The LeaderConfig the --leader-elect* flags describe."""
    return LeaderConfig(
        name=args.leader_elect_resource_name,
        namespace=args.leader_elect_resource_namespace,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
    )


def format_micro_time(t: float) -> str:
    """RFC 3339 with microseconds, as the API serves ``metav1.MicroTime`` (Lease times)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def may_take(holder: str, me: str, observed_at: float, lease_duration: float, now: float) -> bool:
    """Whether ``me`` may take or renew a lease last seen changing at ``observed_at``."""
    return not holder or holder == me or now >= observed_at + lease_duration


class LeaderElector:
    """Acquire, renew and release one Lease."""

    def __init__(
        self,
        client: AsyncClient,
        config: LeaderConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.cfg = config
        self.identity = config.identity or default_identity()
        self.clock = clock
        self.wall = wall
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.is_leader = False

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the lease afterwards."""
        now_wall = format_micro_time(self.wall())
        duration = int(self.cfg.lease_duration)
        try:
            lease = await self.client.get("leases", self.cfg.name, self.cfg.namespace)
        except ApiError as e:
            if e.code != 404:
                raise
            body: dict[str, Any] = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.cfg.name, "namespace": self.cfg.namespace},
                "spec": {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": duration,
                    "acquireTime": now_wall,
                    "renewTime": now_wall,
                    "leaseTransitions": 0,
                },
            }
            try:
                await self.client.create("leases", body, self.cfg.namespace)
            except ApiError as e2:
                if e2.code == 409:
                    return False
                raise
            self._observe(body["spec"])
            return True
        spec = dict(lease.get("spec") or {})
        self._observe(spec)
        holder = str(spec.get("holderIdentity") or "")
        if not may_take(
            holder,
            self.identity,
            self._observed_at,
            float(spec.get("leaseDurationSeconds") or duration),
            self.clock(),
        ):
            return False
        new = dict(spec)
        if holder != self.identity:
            new["acquireTime"] = now_wall
            new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        new.update(
            {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": duration,
                "renewTime": now_wall,
            }
        )
        lease["spec"] = new
        try:
            await self.client.replace("leases", self.cfg.name, lease, self.cfg.namespace)
        except ApiError as e:
            if e.code == 409:
                return False  # someone else wrote it first
            raise
        self._observe(new)
        return True

    def _observe(self, spec: dict[str, Any]) -> None:
        record = (
            spec.get("holderIdentity"),
            spec.get("renewTime"),
            spec.get("leaseDurationSeconds"),
        )
        if record != self._observed:
            self._observed = record
            self._observed_at = self.clock()

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (ApiError, ServerUnreachable) as e:
            log.warning("leader election: %s", e)
            return False

    async def acquire(self) -> None:
        """Wait until we are the leader."""
        logged = False
        while not await self._attempt():
            if not logged:
                log.info(
                    "standing by: lease %s/%s is held by another copy",
                    self.cfg.namespace,
                    self.cfg.name,
                )
                logged = True
            await asyncio.sleep(self.cfg.retry_period)
        self.is_leader = True
        log.info("became leader as %s", self.identity)

    async def keep(self) -> None:
        """Renew until a renewal fails for ``renew_deadline``; then return (leadership lost)."""
        last_ok = self.clock()
        while True:
            await asyncio.sleep(self.cfg.retry_period)
            if await self._attempt():
                last_ok = self.clock()
            elif self.clock() - last_ok >= self.cfg.renew_deadline:
                self.is_leader = False
                log.error("lost the lease %s/%s", self.cfg.namespace, self.cfg.name)
                return

    async def release(self) -> None:
        """Give the lease up (on a clean shutdown) so a standby takes over at once."""
        if not self.is_leader:
            return
        try:
            lease = await self.client.get("leases", self.cfg.name, self.cfg.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                await self.client.replace("leases", self.cfg.name, lease, self.cfg.namespace)
        except (ApiError, ServerUnreachable) as e:
            log.warning("releasing the lease: %s", e)
        self.is_leader = False
