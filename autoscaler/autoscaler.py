"""The autoscaler's loop: a thin shell around the pure rules (planner, idle, resume, marks).

Every ``interval`` seconds, and soon after any pod or node event, it takes one step over
the cached nodes and pods: boxes that came up lose the asleep taint; wakes past their
resume timeout go back to asleep with backoff and an event; unschedulable pods wake the
boxes the planner picks; boxes idle for the idle window are cordoned, drained through
evictions (which honour PodDisruptionBudgets) and powered off. Only nodes with a
``kubelab.io/power-driver`` annotation are ever touched. Everything it knows is on the
Nodes, so a restart carries on (timers restart from the first look).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.errors import ApiError
from api.power import ASLEEP, AWAKE, RESUME_TIMEOUT_ANNOTATION, WAKING, power_state
from autoscaler import groups, idle, resume
from autoscaler.drivers import PowerDriver, driver_name
from autoscaler.evict import evict
from autoscaler.marks import (
    annotations_of,
    asleep_status_patch,
    group_of,
    has_asleep_taint,
    is_cordoned,
    is_draining,
    is_unbound,
    is_unschedulable,
    name_of,
    pods_by_node,
    powered_on,
    taint_patch,
)
from autoscaler.metrics import AutoscalerMetrics
from autoscaler.planner import Candidate, plan_wakeups, waiting_fit
from autoscaler.switch import PowerSwitch
from client import AsyncClient
from client.backoff import Backoff
from client.events import EventRecorder
from client.informer import InformerFactory
from scheduler.plugins import default_framework
from scheduler.podinfo import pod_key
from scheduler.snapshot import node_ready

log = logging.getLogger("autoscaler")
Obj = dict[str, Any]
COMPONENT = "kubelab-autoscaler"
COALESCE = 0.2
STALE_FOR = 5.0  # seconds the cache may lag behind a write of ours


@dataclass(frozen=True)
class Options:
    interval: float = 1.0
    idle_window: float = 600.0
    resume_timeout: float = 300.0
    drain_timeout: float = 60.0
    backoff: Backoff = field(default_factory=lambda: Backoff(30.0, cap=1800.0))


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Autoscaler:
    """Powers the annotated boxes of one cluster on and off."""

    def __init__(
        self,
        client: AsyncClient,
        drivers: Mapping[str, PowerDriver],
        options: Options,
        clock: Callable[[], float] = time.time,
        metrics: AutoscalerMetrics | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics or AutoscalerMetrics()
        self.switch = PowerSwitch(client, drivers)
        self.opts = options
        self.clock = clock
        self.filters = default_framework().filters
        self.factory = InformerFactory(client)
        self.nodes = self.factory.informer("nodes")
        self.pods = self.factory.informer("pods")
        self.events = EventRecorder(client, COMPONENT)
        self.kick = asyncio.Event()
        self.wakes: dict[str, resume.WakeRecord] = {}  # node -> its wake attempts
        self.idle: dict[str, float] = {}  # node -> start of its idle stretch
        self.draining: dict[str, float] = {}  # node -> when its drain began
        self.woken_for: dict[str, str] = {}  # pod key -> the box woken for it
        self.reported: dict[str, str] = {}  # pod key -> last message (one event a change)
        # node -> (the resourceVersion a write of ours was based on, when): until the cache
        # holds a newer one, or a few seconds passed (a write that changed nothing), the
        # node is not acted on again (no second power-off of a stale copy).
        self.acted_on: dict[str, tuple[str, float]] = {}
        self._limits: tuple[float, dict[str, groups.GroupLimits]] = (-1e18, {})

    # -- running --------------------------------------------------------------------------

    async def start(self, sync_timeout: float = 60) -> None:
        for inf in (self.nodes, self.pods):
            inf.add_handler(
                on_add=lambda o: self.kick.set(),
                on_update=lambda o, n: self.kick.set(),
                on_delete=lambda o: self.kick.set(),
            )
        self.factory.start()
        self.events.start()
        await self.factory.wait_synced(sync_timeout)

    async def stop(self) -> None:
        await self.factory.stop()
        await self.events.stop()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.kick.wait(), self.opts.interval)
            except TimeoutError:
                pass
            # A burst of events makes one step, and steps (each simulates every pending
            # pod) come at most every COALESCE seconds.
            await asyncio.sleep(COALESCE)
            self.kick.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad step must not end the loop
                log.exception("autoscaler step failed")

    async def step(self) -> None:
        now = self.clock()
        managed = [n for n in self.nodes.list() if driver_name(annotations_of(n))]
        self.metrics.observe(managed, now)
        pods = self.pods.list()
        limits = await self.group_limits(now)
        for n in managed:
            rv, at = self.acted_on.get(name_of(n), ("", now))
            if rv and (rv != _rv(n) or now - at > STALE_FOR):
                del self.acted_on[name_of(n)]
        for node in managed:
            if not self._stale(node):
                await self._follow_wake(node, now)
        await self._scale_up(managed, pods, limits, now)
        await self._keep_min(managed, limits, now)
        await self._scale_down(managed, pods, limits, now)
        live = {pod_key(p) for p in pods if is_unbound(p)}
        for table in (self.woken_for, self.reported):
            for key in [k for k in table if k not in live]:
                del table[key]

    async def group_limits(self, now: float) -> dict[str, groups.GroupLimits]:
        """The groups' min/max, read again at most once an interval."""
        at, cached = self._limits
        if now - at < self.opts.interval:
            return cached
        try:
            cm = await self.client.get(
                "configmaps", groups.CONFIGMAP_NAME, groups.CONFIGMAP_NAMESPACE
            )
        except ApiError as exc:
            if exc.code != 404:
                raise
            cm = {}
        limits, errors = groups.parse_limits(cm.get("data"))
        for e in errors:
            log.warning("%s", e)
        self._limits = (now, limits)
        return limits

    # -- marks ----------------------------------------------------------------------------

    def _stale(self, node: Obj) -> bool:
        return name_of(node) in self.acted_on

    async def _mark(self, node: Obj, status: str, reason: str, message: str) -> None:
        body = asleep_status_patch(node, status, reason, message, self.clock())
        await self.client.patch("nodes", name_of(node), body, subresource="status")
        self.acted_on[name_of(node)] = (_rv(node), self.clock())

    async def _taint(self, node: Obj, *, asleep: bool, cordon: bool | None = None) -> None:
        await self.client.patch(
            "nodes", name_of(node), taint_patch(node, asleep=asleep, cordon=cordon)
        )
        self.acted_on[name_of(node)] = (_rv(node), self.clock())

    def _report(self, pod: Obj, kind: str, reason: str, msg: str) -> None:
        key = pod_key(pod)
        if self.reported.get(key) != msg:
            self.reported[key] = msg
            self.events.record(pod, kind, reason, msg)

    def _resume_timeout(self, node: Obj) -> float:
        text = annotations_of(node).get(RESUME_TIMEOUT_ANNOTATION)
        if text is None:
            return self.opts.resume_timeout
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if value <= 0:
            log.warning(
                "node %s: %s %r is not seconds > 0", name_of(node), RESUME_TIMEOUT_ANNOTATION, text
            )
            return self.opts.resume_timeout
        return value

    # -- waking ---------------------------------------------------------------------------

    async def _follow_wake(self, node: Obj, now: float) -> None:
        name = name_of(node)
        state = power_state(node)
        rec = self.wakes.setdefault(name, resume.WakeRecord())
        if state == AWAKE and has_asleep_taint(node) and not is_cordoned(node):
            if node_ready(node)[0]:  # its kubelet came up and replaced the conditions
                await self._taint(node, asleep=False)
                resume.succeed(rec)
                self.idle[name] = now
                self.events.record(node, "Normal", "Awake", f"box {name} is up")
            return
        if state != WAKING:
            return
        if rec.started is None:
            rec.started = now  # a wake begun before a restart: timed from now
        timeout = self._resume_timeout(node)
        if not resume.timed_out(rec, now, timeout):
            return
        wait = resume.fail(rec, now, self.opts.backoff)
        why = await self.switch.set(node, on=False)
        msg = (
            f"box {name} did not come up within {timeout:g}s (attempt {rec.failures}); "
            f"back to asleep, next try in {wait:g}s" + (f" (power-off: {why})" if why else "")
        )
        await self._mark(node, "True", ASLEEP, msg)
        log.warning("%s", msg)
        self.metrics.failed_wakes.labels(group=group_of(node)).inc()
        self.events.record(node, "Warning", "WakeFailed", msg)
        for pod in self.pods.list():
            if self.woken_for.get(pod_key(pod)) == name and is_unbound(pod):
                self._report(pod, "Warning", "WakeFailed", msg)

    async def _scale_up(
        self,
        managed: list[Obj],
        pods: list[Obj],
        limits: Mapping[str, groups.GroupLimits],
        now: float,
    ) -> None:
        pending = [p for p in pods if is_unschedulable(p)]
        if not pending:
            return
        sleeping: list[Candidate] = []
        waking: list[Obj] = []
        on_count: dict[str, int] = {}
        for n in managed:
            state = power_state(n)
            rec = self.wakes.setdefault(name_of(n), resume.WakeRecord())
            if state == WAKING or (state == ASLEEP and rec.started is not None):
                waking.append(n)  # also one our cache does not show waking yet
                state = WAKING
            elif state == AWAKE and node_ready(n)[0] and not is_cordoned(n):
                # Up (maybe a moment ago, its taint not yet lifted): the scheduler will
                # place there what fits, so nothing is woken for such a pod.
                waking.append(n)
            if state != ASLEEP:
                on_count[group_of(n)] = on_count.get(group_of(n), 0) + 1
            elif not (is_cordoned(n) or self._stale(n)) and resume.may_try(rec, now):
                sleeping.append(Candidate(n, group_of(n)))
        room = {g: lim.max - on_count.get(g, 0) for g, lim in limits.items() if lim.max is not None}
        plan = plan_wakeups(self.filters, pending, sleeping, waking, room, pods_by_node(pods))
        by_key = {pod_key(p): p for p in pending}
        for key, why in plan.never_fit.items():
            msg = f"no box that may be powered on would take this pod: {why}"
            self._report(by_key[key], "Normal", "NotTriggerScaleUp", msg)
        for key in plan.no_room:
            msg = "a sleeping box would take this pod, but its power group is at its max"
            self._report(by_key[key], "Normal", "NotTriggerScaleUp", msg)
        boxes = {name_of(c.node): c.node for c in sleeping}
        for name in plan.wake:
            await self._wake(
                boxes[name], [by_key[k] for k, n in plan.placed.items() if n == name], now
            )
        for key, name in plan.placed.items():
            self.woken_for[key] = name

    async def _keep_min(
        self, managed: list[Obj], limits: Mapping[str, groups.GroupLimits], now: float
    ) -> None:
        """Wake boxes of a group below its ``min`` (after a restart, a failed wake, or a
        raised min), with no pod waiting for them."""
        if not any(lim.min for lim in limits.values()):
            return
        on_count = powered_on(managed)
        sleeping: dict[str, list[str]] = {}
        boxes = {}
        for n in managed:
            rec = self.wakes.setdefault(name_of(n), resume.WakeRecord())
            if power_state(n) != ASLEEP:
                continue
            if rec.started is not None:  # woken a moment ago, the cache not yet showing it
                on_count[group_of(n)] = on_count.get(group_of(n), 0) + 1
            elif not (is_cordoned(n) or self._stale(n)) and resume.may_try(rec, now):
                sleeping.setdefault(group_of(n), []).append(name_of(n))
                boxes[name_of(n)] = n
        for group, names in groups.short_of_min(dict(limits), on_count, sleeping).items():
            for name in names:
                lim = limits[group]
                log.info("waking %s: power group %r is below its min %d", name, group, lim.min)
                await self._wake(
                    boxes[name],
                    [],
                    now,
                    purpose=f"to keep power group {group!r} at its min of {lim.min}",
                )

    async def _wake(self, node: Obj, pods: list[Obj], now: float, purpose: str = "") -> None:
        """Power ``node`` on for ``pods`` (or for ``purpose``, said in its event)."""
        name = name_of(node)
        rec = self.wakes[name]
        await self._mark(node, "True", WAKING, "powered on by the autoscaler")
        rec.started = now
        why = await self.switch.set(node, on=True)
        if why:
            wait = resume.fail(rec, now, self.opts.backoff)
            msg = f"cannot power on box {name}: {why}; next try in {wait:g}s"
            await self._mark(node, "True", ASLEEP, msg)
            log.warning("%s", msg)
            self.metrics.failed_wakes.labels(group=group_of(node)).inc()
            self.events.record(node, "Warning", "WakeFailed", msg)
            for pod in pods:
                self._report(pod, "Warning", "WakeFailed", msg)
            return
        self.metrics.wakeups.labels(group=group_of(node)).inc()
        log.info("waking %s for %d pod(s)", name, len(pods))
        self.events.record(
            node,
            "Normal",
            "WakingUp",
            f"powering on box {name} " + (purpose or f"for {len(pods)} pending pod(s)"),
        )
        for pod in pods:
            self.woken_for[pod_key(pod)] = name
            self._report(pod, "Normal", "TriggeredScaleUp", f"waking box {name} for this pod")

    # -- powering off ---------------------------------------------------------------------

    async def _scale_down(
        self,
        managed: list[Obj],
        pods: list[Obj],
        limits: Mapping[str, groups.GroupLimits],
        now: float,
    ) -> None:
        on_count = powered_on(managed)
        bound = pods_by_node(pods)
        # Pods the scheduler has not tried yet, and those a box was woken for.
        waiting = [
            p
            for p in pods
            if is_unbound(p) and (not is_unschedulable(p) or pod_key(p) in self.woken_for)
        ]
        for node in managed:
            name = name_of(node)
            here = bound.get(name, [])
            if self._stale(node):
                continue
            if power_state(node) != AWAKE or not node_ready(node)[0]:
                self.idle.pop(name, None)
                continue
            if is_draining(node) or name in self.draining:
                self.draining.setdefault(name, now)  # also a drain a restart interrupted
                await self._drain(node, here, now)
                continue
            if has_asleep_taint(node):
                continue  # came up a moment ago; the taint is lifted next step
            live = [p for p in here if not (p.get("metadata") or {}).get("deletionTimestamp")]
            busy = idle.busy_reason(live) or waiting_fit(self.filters, waiting, node, here)
            since = idle.idle_since(self.idle.get(name), busy, now)
            if since is None:
                self.idle.pop(name, None)
                continue
            self.idle[name] = since
            group = group_of(node)
            lim = limits.get(group, groups.GroupLimits())
            if not idle.may_power_off(
                since, now, self.opts.idle_window, on_count.get(group, 0), lim.min
            ):
                continue
            on_count[group] = on_count.get(group, 0) - 1
            self.draining[name] = now
            # Tainted and cordoned: nothing new lands here, not even a DaemonSet's pod.
            await self._taint(node, asleep=True, cordon=True)
            self.events.record(
                node, "Normal", "ScaleDown", f"box {name} idle for {now - since:.0f}s: draining"
            )
            await self._drain(node, here, now)

    async def _drain(self, node: Obj, pods: list[Obj], now: float) -> None:
        name = name_of(node)
        for p in pods:
            if not (p.get("metadata") or {}).get("deletionTimestamp"):
                await evict(self.client, p)
        if pods:
            if now - self.draining[name] < self.opts.drain_timeout:
                return  # evicted pods still stopping, or a budget holding them: next step
            # Its pods have nowhere to go (a PodDisruptionBudget holds them): it stays on.
            del self.draining[name]
            self.idle.pop(name, None)
            await self._taint(node, asleep=False, cordon=False)
            msg = f"box {name} could not be drained in {self.opts.drain_timeout:g}s; it stays on"
            log.warning("%s", msg)
            self.events.record(node, "Warning", "ScaleDownFailed", msg)
            return
        del self.draining[name]
        self.idle.pop(name, None)
        why = await self.switch.set(node, on=False)
        if why:
            log.warning("cannot power off box %s: %s", name, why)
            await self._taint(node, asleep=False, cordon=False)
            self.events.record(
                node, "Warning", "PowerOffFailed", f"cannot power off box {name}: {why}"
            )
            return
        # Uncordoned first (the asleep taint still keeps pods off), then marked Asleep, once
        # the kubelet is gone, so its last status cannot overwrite the mark: whoever sees
        # the box asleep sees it uncordoned too, and the mark is the write the next step
        # waits to see in its cache.
        await self._taint(node, asleep=True, cordon=False)
        await self._mark(node, "True", ASLEEP, "powered off by the autoscaler")
        self.metrics.power_offs.labels(group=group_of(node)).inc()
        log.info("powered off %s", name)
        self.events.record(node, "Normal", "PoweredOff", f"box {name} powered off")
