"""The plugin framework, in the style of kube-scheduler's.

A scheduling cycle for one pod runs:

- **PreFilter** — once per pod: may reject the pod outright, and says which Filter and
  Score plugins apply at all (a CPU-only pod skips the GPU filter, like kube's ``Skip``);
- **Filter** — per node: ``None`` when the pod fits, else a :class:`Rejection` with the
  reasons that end up in the ``0/N nodes are available: ...`` summary;
- **Score** — per feasible node: 0..100, multiplied by the plugin's weight;
- **Reserve** — on the chosen node: pick concrete devices (GPU UUIDs);
- **Bind** — the Binding write (``scheduler.binder``).

Plugins marked ``static`` read only the node object and the pod's spec, never other
pods, so :class:`Framework` caches their verdicts per pod signature (tolerations,
selectors, affinity, GPU or not) until a node changes. The dynamic plugins (resources,
GPUs) run only over those nodes, and incrementally: ``scheduler.score_index`` keeps the
feasible nodes of each pod shape in a heap and rescores only nodes that changed. Every
node is considered; there is no sampling (percentageOfNodesToScore) to tune.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from scheduler.hints import ClusterEvent, EventKind, QueueingHint
from scheduler.podinfo import PodInfo
from scheduler.score_index import ScoreIndex, shape_key
from scheduler.snapshot import NodeInfo, Snapshot


class Rejection(NamedTuple):
    """Why a node cannot take a pod: short reasons (counted in the summary, worded like
    kube-scheduler's) and an optional detail for ``kl why``."""

    reasons: tuple[str, ...]
    detail: str = ""


@runtime_checkable
class FilterPlugin(Protocol):
    name: str
    static: bool
    # The cluster events that can make a pod this plugin rejected schedulable.
    events: frozenset[EventKind]

    def relevant(self, pod: PodInfo) -> bool:
        """False when the plugin can never reject this pod (PreFilter ``Skip``)."""
        ...

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        """None when ``pod`` may run on ``node``."""
        ...

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        """For a pod this plugin rejected: QUEUE when ``event`` may let it in (pure)."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str
    static: bool
    weight: int

    def relevant(self, pod: PodInfo) -> bool: ...

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        """0 (worst) .. 100 (best)."""
        ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, pod: PodInfo, snapshot: Snapshot) -> Rejection | None:
        """None to go on; a Rejection fails the pod on every node."""
        ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, pod: PodInfo, node: NodeInfo) -> dict[str, list[str]] | None:
        """Pick devices on ``node``; returns allocations (e.g. {"gpus": [uuid...]}) or None
        when the node cannot serve them after all."""
        ...


@dataclass
class Diagnosis:
    """Why a pod fits nowhere: per node, the first failing plugin's reasons (what the
    summary counts, as kube-scheduler does) and every plugin's reasons (for ``kl why``)."""

    num_nodes: int
    first: dict[str, tuple[str, ...]] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)
    # Nodes that fail only dynamic (resource-like) filters: preemption can help there.
    resolvable: list[str] = field(default_factory=list)
    pre_filter: str = ""
    # Every plugin that rejected the pod on some node: only their queueing hints can say
    # an event may help it (empty: no plugin did, so every event may).
    rejectors: set[str] = field(default_factory=set)

    def summary(self, post_filter: str = "") -> str:
        """``0/3 nodes are available: 1 node(s) had untolerated taint {gpu: broken}, 2
        Insufficient nvidia.com/gpu.`` — reason counts sorted as strings, like upstream."""
        msg = f"0/{self.num_nodes} nodes are available:"
        if self.pre_filter:
            msg += f" {self.pre_filter}."
        counts: dict[str, int] = {}
        for reasons in self.first.values():
            for r in reasons:
                counts[r] = counts.get(r, 0) + 1
        parts = sorted(f"{n} {r}" for r, n in counts.items())
        if parts:
            msg += " " + ", ".join(parts) + "."
        if post_filter:
            msg += f" {post_filter}."
        if msg.endswith(":"):
            msg = msg[:-1] + "."
        return msg


@dataclass
class ScheduleResult:
    """A feasible placement: the node and the devices reserved there."""

    node: NodeInfo
    allocations: dict[str, list[str]]
    evaluated: int  # nodes filtered and scored in this cycle (few, once the index is warm)


@dataclass
class StaticEntry:
    """The statically feasible nodes of one pod signature, with their static scores, as
    of the snapshot's static log position ``pos``."""

    generation: int
    epoch: int
    pos: int
    by_name: dict[str, tuple[NodeInfo, int]]
    candidates: list[tuple[NodeInfo, int]]


class Framework:
    """Runs a profile of plugins over a :class:`Snapshot`."""

    def __init__(
        self,
        filters: Sequence[FilterPlugin],
        scores: Sequence[ScorePlugin],
        pre_filters: Sequence[PreFilterPlugin] = (),
        reserves: Sequence[ReservePlugin] = (),
    ) -> None:
        self.filters = list(filters)
        self.static_filters = [f for f in self.filters if f.static]
        self.dynamic_filters = [f for f in self.filters if not f.static]
        self.scores = list(scores)
        self.pre_filters = list(pre_filters)
        self.reserves = list(reserves)
        self._static_cache: dict[bytes, StaticEntry] = {}
        self.index = ScoreIndex()
        self._filter_names = frozenset(f.name for f in self.filters)
        self.static_evaluations = 0  # nodes run through the static filters (tests, profiling)
        # Diagnoses of the current snapshot state per pod shape: a backlog of alike pods
        # failing in a row costs one pass over the nodes, not one each.
        self._diagnoses: dict[tuple[object, ...], Diagnosis] = {}
        self._diagnoses_at: tuple[int, int, int] = (-1, -1, -1)

    # -- static part (cached per pod shape) ------------------------------------------------

    def _static_candidates(self, pod: PodInfo, snapshot: Snapshot) -> StaticEntry:
        entry = self._static_cache.get(pod.signature)
        if entry is not None and entry.generation == snapshot.static_generation:
            return entry
        filters = [f for f in self.static_filters if f.relevant(pod)]
        scores = [s for s in self.scores if s.static and s.relevant(pod)]

        def judge(ni: NodeInfo) -> tuple[NodeInfo, int] | None:
            self.static_evaluations += 1
            if any(f.filter(pod, ni) is not None for f in filters):
                return None
            return (ni, sum(s.weight * s.score(pod, ni) for s in scores))

        changed = (
            snapshot.static_since(entry.generation, entry.pos, entry.epoch)
            if entry is not None
            else None
        )
        if entry is not None and changed is not None:
            # Catch up with the nodes added, changed or removed since.
            for name, ni in changed:
                got = judge(ni) if ni is not None else None
                if got is None:
                    entry.by_name.pop(name, None)
                else:
                    entry.by_name[name] = got
            entry.candidates = list(entry.by_name.values())
            entry.generation, entry.pos = snapshot.static_generation, len(snapshot.static_log)
            return entry
        by_name: dict[str, tuple[NodeInfo, int]] = {}
        for ni in snapshot.node_list:
            got = judge(ni)
            if got is not None:
                by_name[ni.name] = got
        if len(self._static_cache) > 512:  # pod shapes are few; this only bounds a leak
            self._static_cache.clear()
        entry = StaticEntry(
            snapshot.static_generation,
            snapshot.static_epoch,
            len(snapshot.static_log),
            by_name,
            list(by_name.values()),
        )
        self._static_cache[pod.signature] = entry
        return entry

    # -- one scheduling cycle --------------------------------------------------------------

    def schedule(self, pod: PodInfo, snapshot: Snapshot) -> ScheduleResult | Diagnosis:
        """Find the best node for ``pod``; a Diagnosis when there is none."""
        for pf in self.pre_filters:
            rej = pf.pre_filter(pod, snapshot)
            if rej is not None:
                return Diagnosis(len(snapshot.node_list), pre_filter="; ".join(rej.reasons))
        static = self._static_candidates(pod, snapshot)
        if not static.candidates:
            return self.diagnose(pod, snapshot)
        dyn_filters = [f.filter for f in self.dynamic_filters if f.relevant(pod)]
        dyn_scores = [(s.weight, s.score) for s in self.scores if not s.static and s.relevant(pod)]
        before = self.index.evaluations
        best = self.index.best(
            pod,
            snapshot,
            static,
            dyn_filters,
            dyn_scores,
            lambda ni: _blocked_by_nominated(pod, ni, dyn_filters),
        )
        if best is None:
            return self.diagnose(pod, snapshot)
        allocations: dict[str, list[str]] = {}
        for rp in self.reserves:
            got = rp.reserve(pod, best)
            if got is None:  # cannot happen when filters agree with reserve; be safe
                return self.diagnose(pod, snapshot)
            allocations.update(got)
        return ScheduleResult(best, allocations, self.index.evaluations - before)

    # -- queueing hints ----------------------------------------------------------------------

    def may_help(self, pod: PodInfo, rejectors: frozenset[str], event: ClusterEvent) -> bool:
        """Whether ``event`` may make ``pod``, rejected by the plugins ``rejectors``,
        schedulable: one of them says QUEUE. A pod no filter rejected (no nodes, a
        PreFilter failure) may be helped by any event."""
        if not rejectors or not rejectors <= self._filter_names:
            return True
        for f in self.filters:
            if (
                f.name in rejectors
                and event.kind in f.events
                and f.queueing_hint(pod, event) is QueueingHint.QUEUE
            ):
                return True
        return False

    # -- diagnosis (slow path, only for pods that fit nowhere) -----------------------------

    def diagnose(self, pod: PodInfo, snapshot: Snapshot) -> Diagnosis:
        """Run every filter on every node and record all reasons (the same answer for
        every pod of one shape while the snapshot does not change)."""
        if snapshot.nominations():
            return self._diagnose(pod, snapshot)  # room held for preemptors: per pod
        at = snapshot.revision()
        if at != self._diagnoses_at:
            self._diagnoses.clear()
            self._diagnoses_at = at
        key = shape_key(pod)
        diag = self._diagnoses.get(key)
        if diag is None:
            diag = self._diagnoses[key] = self._diagnose(pod, snapshot)
        return diag

    def _diagnose(self, pod: PodInfo, snapshot: Snapshot) -> Diagnosis:
        diag = Diagnosis(len(snapshot.node_list))
        filters = [f for f in self.filters if f.relevant(pod)]
        for ni in snapshot.node_list:
            first: tuple[str, ...] = ()
            details: list[str] = []
            static_failed = False
            for f in filters:
                rej = f.filter(pod, ni)
                if rej is None and not f.static and ni.nominated:
                    rej = _nominated_rejection(pod, ni, f)
                if rej is None:
                    continue
                static_failed = static_failed or f.static
                diag.rejectors.add(f.name)
                if not first:
                    first = rej.reasons
                text = ", ".join(rej.reasons)
                details.append(f"{text}: {rej.detail}" if rej.detail else text)
            if first:
                diag.first[ni.name] = first
                diag.details[ni.name] = details
                if not static_failed:
                    diag.resolvable.append(ni.name)
        return diag


def with_nominated(pod: PodInfo, ni: NodeInfo) -> NodeInfo | None:
    """``ni`` plus the pods nominated to it that outrank ``pod``; None when there are none."""
    ahead = [p for k, p in ni.nominated.items() if k != pod.key and p.priority >= pod.priority]
    if not ahead:
        return None
    sim = ni.clone()
    for p in ahead:
        sim.add_pod(p)
    return sim


def _blocked_by_nominated(pod: PodInfo, ni: NodeInfo, dyn_filters: list[Any]) -> bool:
    """True when room held for higher-priority preemptors leaves none for ``pod``."""
    sim = with_nominated(pod, ni)
    if sim is None:
        return False
    return any(f(pod, sim) is not None for f in dyn_filters)


def _nominated_rejection(pod: PodInfo, ni: NodeInfo, f: FilterPlugin) -> Rejection | None:
    sim = with_nominated(pod, ni)
    if sim is None:
        return None
    rej = f.filter(pod, sim)
    if rej is None:
        return None
    return Rejection(rej.reasons, "room is held for a higher-priority pod that preempted here")
