"""Keeps the node's GPU health current: NVML events read on a thread of their own, hardware
faults taken out of service at once (the Node status is written within the event's second,
so the scheduler stops assigning that GPU), application faults recorded on the pod that
holds the GPU, and every GPU out of service re-checked until it is fit again.

The decisions are kubelet/gpu_health.py's; this module only times them and writes them out
(the Node status through ``NodeAgent``, Events through the node's recorder). ``kl describe
node`` shows a GPU's history as those Events: GPUUnhealthy, GPURecheckFailed, GPUHealthy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from client.events import NORMAL, WARNING, EventRecorder
from kubelet.gpu import GpuDevice, GpuEvent, NvmlEventSource, nvml_gpus, nvml_recheck
from kubelet.gpu_health import GpuHealth, budget_verdicts, fault_of
from kubelet.gpu_processes import container_of_pid
from kubelet.status import PodFailure

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WAIT_MS = 500  # how long one NVML wait blocks: also how soon the reader notices a stop
HEALTH_COMMAND_TIMEOUT = 600.0
MIB = 1024 * 1024


class Sharer:
    """A running container that shares a GPU by memory (``kubelab.io/gpu-memory``)."""

    def __init__(self, pod: Obj, container: str, budget: int) -> None:
        self.pod = pod
        self.container = container
        self.budget = budget


class GpuMonitor:
    """One node's GPU health loop (real GPUs only: simulated ones have no NVML)."""

    def __init__(
        self,
        health: GpuHealth,
        recorder: EventRecorder,
        node_ref: Callable[[], Obj],
        write_status: Callable[[], Awaitable[Any]],
        pods_holding: Callable[[str], Sequence[Obj]],
        *,
        recheck_period: float = 30.0,
        health_command: str = "",
        source: Callable[[], NvmlEventSource] = NvmlEventSource,
        recheck: Callable[[str], str] = nvml_recheck,
        clock: Callable[[], float] = time.time,
        sharers: Callable[[], dict[str, Sharer]] = dict,
        kill: Callable[[str], Awaitable[Any]] | None = None,
        memory_check_period: float = 5.0,
        inventory: Callable[[], list[GpuDevice]] = nvml_gpus,
        owner_of: Callable[[int], str | None] = container_of_pid,
        fail_pod: Callable[[Obj, PodFailure], None] | None = None,
    ) -> None:
        self.health = health
        self.recorder = recorder
        self.node_ref = node_ref
        self.write_status = write_status
        self.pods_holding = pods_holding
        self.recheck_period = recheck_period
        self.health_command = health_command
        self.source = source
        self.recheck = recheck
        self.clock = clock
        self.sharers = sharers
        self.kill = kill
        self.memory_check_period = memory_check_period
        self.inventory = inventory
        self.owner_of = owner_of
        self.fail_pod = fail_pod
        self._warned: set[str] = set()  # containers warned at the last memory check
        self._stop = threading.Event()

    async def run(self) -> None:
        """Read events and re-check until cancelled."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[GpuEvent] = asyncio.Queue()
        reader = threading.Thread(
            target=self._read, args=(loop, events), name="gpu-events", daemon=True
        )
        reader.start()
        try:
            await asyncio.gather(self._consume(events), self._recheck_loop(), self._memory_loop())
        finally:
            self._stop.set()

    # -- the reader thread --------------------------------------------------------------

    def _read(self, loop: asyncio.AbstractEventLoop, events: asyncio.Queue[GpuEvent]) -> None:
        source = self.source()
        try:
            if not source.open():
                return
            while not self._stop.is_set():
                try:
                    event = source.wait(WAIT_MS)
                except Exception as e:  # noqa: BLE001 - a broken event set: say so, retry
                    log.warning("reading GPU health events failed: %s", e)
                    self._stop.wait(5.0)
                    continue
                if event is not None:
                    loop.call_soon_threadsafe(events.put_nowait, event)
        finally:
            source.close()

    # -- decisions written out -----------------------------------------------------------

    async def _consume(self, events: asyncio.Queue[GpuEvent]) -> None:
        while True:
            event = await events.get()
            await self.handle(event)

    async def handle(self, event: GpuEvent) -> None:
        """Act on one event: mark and report a hardware fault, or record an application's."""
        fault = fault_of(event, self.clock())
        if fault is None:
            for pod in self.pods_holding(event.uuid):
                self.recorder.record(
                    pod,
                    WARNING,
                    "GPUApplicationError",
                    f"Xid {event.data} on GPU {event.uuid}: an error of the program on it; "
                    "the GPU stays in service",
                )
            return
        if not self.health.mark(fault):
            return
        log.warning("GPU %s taken out of service: %s", fault.uuid, fault.message)
        self.recorder.record(
            self.node_ref(),
            WARNING,
            "GPUUnhealthy",
            f"GPU {fault.uuid}: {fault.message}; no new pods are assigned to it until it "
            "passes a re-check",
        )
        holders = list(self.pods_holding(fault.uuid))
        # The Node first: the GPU is out of what the scheduler may assign before any
        # holder fails, so no replacement can be given the broken GPU again.
        await self._write_status()
        for pod in holders:
            message = f"GPU {fault.uuid} of this pod: {fault.message}"
            self.recorder.record(pod, WARNING, "GPUUnhealthy", message)
            if self.fail_pod is not None:
                # Its work on a broken GPU is lost: fail it so its controller starts a
                # replacement on a healthy one.
                self.fail_pod(pod, PodFailure("GPUUnhealthy", f"{message}; the pod was stopped"))

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_period)
            await self.recheck_all()

    async def recheck_all(self) -> None:
        """Re-check every GPU out of service; put back those that pass."""
        healed = False
        for uuid in list(self.health.faults):
            problem = await asyncio.to_thread(self.recheck, uuid)
            if not problem and self.health_command:
                problem = await asyncio.to_thread(self._run_health_command, uuid)
            if problem:
                self.recorder.record(
                    self.node_ref(), WARNING, "GPURecheckFailed", f"GPU {uuid}: {problem}"
                )
                continue
            fault = self.health.heal(uuid)
            healed = True
            was = f" after {fault.message}" if fault else ""
            log.info("GPU %s back in service%s", uuid, was)
            self.recorder.record(
                self.node_ref(), NORMAL, "GPUHealthy", f"GPU {uuid} passed its re-check{was}"
            )
        if healed:
            await self._write_status()

    async def _memory_loop(self) -> None:
        while True:
            await asyncio.sleep(self.memory_check_period)
            try:
                await self.enforce_memory_budgets()
            except Exception as e:  # noqa: BLE001 - the next check tries again
                log.warning("checking GPU memory budgets failed: %s", e)

    async def enforce_memory_budgets(self) -> None:
        """Warn a container sharing a GPU that uses more memory than its limit; stop it if
        it is still over at the next check (its restart policy then decides)."""
        sharers = self.sharers()
        if not sharers:
            self._warned.clear()
            return
        devices = await asyncio.to_thread(self.inventory)
        used: dict[str, int] = {}
        for d in devices:
            for pid, mib in d.processes:
                cid = self.owner_of(pid)
                if cid in sharers:
                    used[cid] = used.get(cid, 0) + mib * MIB
        budgets = {cid: s.budget for cid, s in sharers.items()}
        verdicts = budget_verdicts(used, budgets, self._warned)
        self._warned = {v.container_id for v in verdicts if not v.stop}
        for v in verdicts:
            who = sharers[v.container_id]
            amounts = f"{v.used // MIB} MiB of GPU memory, its limit is {v.budget // MIB} MiB"
            field = f"spec.containers{{{who.container}}}"
            if not v.stop:
                self.recorder.record(
                    who.pod,
                    WARNING,
                    "GPUMemoryOverBudget",
                    f"container {who.container} uses {amounts}; it is stopped if it stays over",
                    field,
                )
                continue
            self.recorder.record(
                who.pod,
                WARNING,
                "GPUMemoryExceeded",
                f"stopping container {who.container}: it uses {amounts}",
                field,
            )
            if self.kill is not None:
                await self.kill(v.container_id)

    def _run_health_command(self, uuid: str) -> str:
        """The configured health command (e.g. ``dcgmi diag -r 1``) for one GPU; "" passes."""
        env = dict(os.environ, NVIDIA_VISIBLE_DEVICES=uuid, KUBELAB_GPU_UUID=uuid)
        try:
            done = subprocess.run(
                shlex.split(self.health_command),
                env=env,
                capture_output=True,
                text=True,
                timeout=HEALTH_COMMAND_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"health command {self.health_command!r} failed: {e}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return f"health command exited {done.returncode}: {tail[0]}"
        return ""

    async def _write_status(self) -> None:
        try:
            await self.write_status()
        except Exception as e:  # noqa: BLE001 - the next periodic status write carries it
            log.warning("writing the node's GPU health failed: %s", e)
