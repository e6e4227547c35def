"""What a pod worker remembers about one container of its pod between syncs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kubelet.probes import READINESS, STARTUP, ProbeRunner, ProbeState
from kubelet.runtime.base import ContainerInfo


@dataclass
class ContainerTrack:
    """One container's instances, why it is waiting, its probes and its pull history."""

    name: str
    current: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting_reason: str | None = None
    waiting_message: str = ""
    probes: dict[str, ProbeState] = field(default_factory=dict)
    runners: list[ProbeRunner] = field(default_factory=list)
    probed_id: str = ""
    startup_done: asyncio.Event = field(default_factory=asyncio.Event)
    pull_attempt: int = 0
    pull_error: str = ""
    backoff_event_for: str = ""
    failed_event_for: str = ""

    def stop_probes(self) -> None:
        for r in self.runners:
            r.stop()
        self.runners = []
        self.probed_id = ""

    @property
    def started(self) -> bool:
        if self.current is None or not self.current.running:
            return False
        startup = self.probes.get(STARTUP)
        return startup.ok if startup else True

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        readiness = self.probes.get(READINESS)
        return readiness.ok if readiness else True
