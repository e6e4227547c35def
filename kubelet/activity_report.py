"""This node's scale-to-zero report (``kubelab.io/service-activity`` on its own Node, the
one object the Node authorizer lets a kubelet write that the controller reads): which
Services with the activator mark have connections held here and when each last saw a new
connection, written when ``kubelet/activator.py``'s ``report_due`` says so. With the
kernel path, the connections the kernel DNATed are read from the rule counters of the
Services' chains first (``counted_connections``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from api.scaletozero import SERVICE_ACTIVITY, ServiceActivity, activator_mark, encode_activity
from client import AsyncClient
from client.informer import Informer
from kubelet.activator import REPORT_SECONDS, Activator, counted_connections, report_due
from kubelet.kernelproxy import KernelProxy

log = logging.getLogger(__name__)


class ActivityReport:
    """Owns the proxy's ``Activator`` and writes what it saw on the Node."""

    def __init__(
        self,
        client: AsyncClient,
        node_name: str,
        services: Informer,
        kernel: KernelProxy | None,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.services = services
        self.kernel = kernel
        self._due = asyncio.Event()
        self.activator = Activator(on_demand=self._due.set)
        self._stopping = False
        self._published: dict[str, ServiceActivity] | None = None
        self._published_at = 0.0
        self._counter_base: dict[str, int] = {}  # kernel rule counters at the last read
        self._counted_script: str | None = None  # the kernel script they were read from

    def stop(self) -> None:
        self._stopping = True
        self._due.set()

    async def run(self) -> None:
        """Report at once on demand, else every ``REPORT_SECONDS``, until stopped."""
        await self.services.wait_synced()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPORT_SECONDS):
                    await self._due.wait()
            self._due.clear()
            try:
                await self.report()
            except Exception:  # the next round tries again
                log.exception("service proxy: activity report failed")

    async def report(self) -> None:
        """Read the kernel's counters, then write ``SERVICE_ACTIVITY`` on this node if due."""
        marked = {_key(s) for s in self.services.list() if activator_mark(s) is not None}
        if self.kernel is not None and marked:
            await self._read_counters()
        current = self.activator.report(marked)
        now = self.activator.clock()
        # The first write of this process always goes: a report a crashed kubelet left
        # (connections waiting that are gone) must not keep waking the Deployment.
        first = self._published is None
        if not first and not report_due(self._published, current, self._published_at, now):
            return
        value = encode_activity(current) if current else None
        patch = {"metadata": {"annotations": {SERVICE_ACTIVITY: value}}}
        try:
            await self.client.patch("nodes", self.node_name, patch)
        except Exception as exc:  # the Node may not be registered yet: next round
            log.debug("service proxy: cannot report activity on %s: %s", self.node_name, exc)
            return
        self._published = current
        self._published_at = now

    async def _read_counters(self) -> None:
        assert self.kernel is not None
        if self.kernel.applied is None:
            return
        if self.kernel.applied != self._counted_script:
            self._counter_base = {}  # a new table: its counters start at 0
            self._counted_script = self.kernel.applied
        chains = {
            f"svc-{sp.chain_id}": sp.service
            for sp in self.kernel.applied_ports
            if sp.counted and sp.backends
        }
        if not chains:
            return
        text = await self.kernel.list_table_json()
        grew, self._counter_base = counted_connections(text, chains, self._counter_base)
        for service in grew:
            self.activator.saw_request(service)


def _key(svc: dict[str, Any]) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"
