"""A week of a small GPU lab, simulated: the queue decisions of kubelab's scheduler beside a
plain FIFO queue on the same arrivals (``bench_queues.py`` runs it; docs/queues.md).

The lab: 5 users with nominal shares of 4, 3, 3, 3 and 3 GPUs on 4 boxes of 4 GPUs. Each
user submits sweeps (1-4 alike jobs at once) at random times over the week; a job is one
pod of 1, 2 or 4 GPUs or a gang (2x2, 4x2, 5x2 or 2x4 GPUs) that runs only once every
member is placed. One user, drawn per run, offers 1.8-3x its share, the others 0.5-1.5x:
more work than GPUs, so work waits and the order matters. Beside it, each user sends
a little best-effort work (1- or 2-GPU jobs of an hour or few, 0.4x of the GPUs in all, in
the ``kubelab-best-effort`` class): what a lab runs on GPUs nobody queued for.

``kubelab``: the scheduler's own pure decisions, not a copy of them: the order of
scheduler/fairshare.py:order_key over Slurm's factors (fair_share_factors of usage kept by
accrued, half-life 7 days), admission by scheduler/quota_book.py:QuotaBook (borrowing of
idle shares, no limit), a gang placed whole or not at all by
scheduler/gang.py:pack_counts (the scheduler's placement rule over free-GPU counts), and
preemption: best-effort work first, at once (it is lower in priority and charged to no
quota), then, after the grace period, the book's borrowed workloads, newest first; in
both, the victims not needed are given back (as the preemption plugin reprieves). Best
effort never preempts and starts only where nothing queued fits. A preempted job starts
again from the beginning (no checkpoint). A gang is one workload, preempted whole, as
the scheduler does (scheduler/gang.py:whole_gangs). Where the model is coarser: victims
are counted in GPUs per box (the plugin simulates each node's filters).

``fifo``: a plain FIFO queue of whole jobs: arrival order, the job at the head waits for
room and nothing passes it; no quota, no fair share, no preemption; best effort is
ordinary work there.

``pod-fifo``: what Kubernetes does without a queue system, for the deadlock count: pods in
creation order, each placed when it fits (the same packing), no gangs. A gang's pods hold
their GPUs while the rest wait; when every GPU is held by gangs still missing members,
nothing can ever change: a deadlock (mpi-operator#608).

Measured over the week: the GPUs running work (best effort included) while queued work
waits, and Jain's index of each user's queued GPU-hours against its fair target (shares,
capped at what the user asked for: weighted max-min fairness).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from api.queues import (
    BEST_EFFORT_PRIORITY,
    DEFAULT_HALF_LIFE,
    DEFAULT_RECLAIM_GRACE,
    Amount,
    QueueSpec,
)
from scheduler.fairshare import accrued, fair_share_factors, order_key
from scheduler.gang import pack_counts
from scheduler.quota_book import QuotaBook, Workload

WEEK = 7 * 24 * 3600.0
USERS = ("alice", "bob", "carol", "dave", "erin")
SHARES = (4, 3, 3, 3, 3)
NODES = 4
GPUS_PER_NODE = 4
CAPACITY = NODES * GPUS_PER_NODE
# (members' GPUs, weight): single pods and gangs.
SHAPES: tuple[tuple[tuple[int, ...], float], ...] = (
    ((1,), 0.30),
    ((2,), 0.20),
    ((4,), 0.15),
    ((2, 2), 0.10),
    ((2, 2, 2, 2), 0.12),
    ((2, 2, 2, 2, 2), 0.05),
    ((4, 4), 0.08),
)
BEST_EFFORT_LOAD = 0.4  # of all GPUs, over the week, shared by the users
POD_GAP = 0.5  # seconds between a Job's pods as its controller creates them
DRAIN = 3 * WEEK  # after the week: stop waiting for the queue to empty


@dataclass
class Job:
    key: str
    user: str
    members: tuple[int, ...]
    duration: float
    arrival: float
    burst_index: int = 0  # its place in its sweep (the sweep's pods interleave)
    best_effort: bool = False

    @property
    def gpus(self) -> int:
        return sum(self.members)


def arrivals(seed: int) -> list[Job]:
    """One seeded week of sweeps for every user, by arrival time."""
    rng = random.Random(seed)
    heavy = rng.randrange(len(USERS))
    shapes = [s for s, _ in SHAPES]
    weights = [w for _, w in SHAPES]
    jobs: list[Job] = []
    for u, (user, share) in enumerate(zip(USERS, SHARES, strict=True)):
        load = rng.uniform(1.8, 3.0) if u == heavy else rng.uniform(0.5, 1.5)
        target = share * WEEK * load
        offered = 0.0
        while offered < target:
            at = rng.uniform(0, WEEK)
            shape = rng.choices(shapes, weights)[0]
            median_hours = rng.lognormvariate(1.0, 0.6)  # a sweep's jobs are alike
            for k in range(rng.choice((1, 1, 2, 3, 4))):
                hours = min(max(median_hours * rng.lognormvariate(0, 0.3), 0.25), 36.0)
                job = Job(f"{user}-{len(jobs)}", user, shape, hours * 3600, at, k)
                jobs.append(job)
                offered += job.gpus * job.duration
        offered = 0.0
        while offered < CAPACITY * WEEK * BEST_EFFORT_LOAD / len(USERS):
            at = rng.uniform(0, WEEK)
            for k in range(rng.choice((1, 2, 4))):
                shape = rng.choice(((1,), (2,)))
                hours = rng.uniform(0.5, 4.0)
                job = Job(f"{user}-be-{len(jobs)}", user, shape, hours * 3600, at, k, True)
                jobs.append(job)
                offered += job.gpus * job.duration
    jobs.sort(key=lambda j: (j.arrival, j.burst_index, j.key))
    return jobs


@dataclass
class Outcome:
    """One policy's week."""

    busy_while_waiting: float = 0.0  # GPU-seconds running work while queued work waits
    queued_while_waiting: float = 0.0  # of which queued work (not best effort)
    waiting_time: float = 0.0  # seconds during which queued work waits
    gpu_seconds: dict[str, float] = field(default_factory=dict)  # queued, per user, in the week
    demand: dict[str, float] = field(default_factory=dict)  # queued, per user, asked
    deadlocked: bool = False  # work left that nothing can ever start
    half_started_gangs: int = 0  # most gangs seen partly placed at once
    lost_gpu_seconds: float = 0.0  # queued work thrown away by reclaim
    lost_best_effort_gpu_seconds: float = 0.0  # best effort thrown away by preemption
    preemptions: int = 0
    gang_waits: list[float] = field(default_factory=list)  # seconds, per gang start

    @property
    def utilisation(self) -> float:
        if self.waiting_time <= 0:
            return 1.0
        return self.busy_while_waiting / (CAPACITY * self.waiting_time)

    @property
    def queued_utilisation(self) -> float:
        """The same, counting queued work only (what best effort added left out)."""
        if self.waiting_time <= 0:
            return 1.0
        return self.queued_while_waiting / (CAPACITY * self.waiting_time)

    @property
    def jain(self) -> float:
        return jain_index(fair_ratios(self.gpu_seconds, self.demand))


def fair_targets(total: float, demand: dict[str, float]) -> dict[str, float]:
    """Weighted max-min fair split of ``total`` GPU-seconds: by share, no user past what
    it asked for (its part goes to the others)."""
    shares = dict(zip(USERS, SHARES, strict=True))
    target = {u: 0.0 for u in USERS}
    active = [u for u in USERS if demand.get(u, 0.0) > 0]
    left = total
    while active and left > 1e-6:
        weight = sum(shares[u] for u in active)
        capped = [u for u in active if target[u] + left * shares[u] / weight >= demand[u]]
        if not capped:
            for u in active:
                target[u] += left * shares[u] / weight
            break
        for u in capped:
            left -= demand[u] - target[u]
            target[u] = demand[u]
            active.remove(u)
    return target


def fair_ratios(used: dict[str, float], demand: dict[str, float]) -> list[float]:
    target = fair_targets(sum(used.values()), demand)
    return [used.get(u, 0.0) / target[u] for u in USERS if target[u] > 0]


def jain_index(xs: Iterable[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one has everything."""
    values = list(xs)
    square_sum = sum(x * x for x in values)
    if not values or square_sum == 0:
        return 1.0
    return sum(values) ** 2 / (len(values) * square_sum)


class Week:
    """The event loop shared by both policies: arrivals, finishes, the clock's accounts."""

    def __init__(self, jobs: list[Job]) -> None:
        self.now = 0.0
        self.events: list[tuple[float, int, str, str]] = []
        self.seq = 0
        self.free = {f"box-{i}": GPUS_PER_NODE for i in range(NODES)}
        self.jobs = {j.key: j for j in jobs}
        self.running: dict[str, tuple[float, list[str], int]] = {}  # key -> start, nodes, epoch
        self.epoch: dict[str, int] = {}
        self.out = Outcome(
            gpu_seconds={u: 0.0 for u in USERS},
            demand={u: 0.0 for u in USERS},
        )
        for j in jobs:
            if not j.best_effort:
                self.out.demand[j.user] += j.gpus * min(j.duration, WEEK - j.arrival)
            self.push(j.arrival, "arrive", j.key)

    def push(self, at: float, kind: str, key: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, key))

    def waiting(self) -> bool:
        """Whether queued work (not best effort) waits."""
        raise NotImplementedError

    def on_arrive(self, key: str) -> None:
        raise NotImplementedError

    def on_finish(self, key: str) -> None:
        raise NotImplementedError

    def schedule(self) -> None:
        raise NotImplementedError

    def advance(self, to: float) -> None:
        """Account for [now, to): the GPUs running work, per user and while work waits."""
        lo, hi = min(self.now, WEEK), min(to, WEEK)
        if hi > lo:
            dt = hi - lo
            busy = queued = 0
            for key in self.running:
                job = self.jobs[key]
                busy += job.gpus
                if not job.best_effort:
                    queued += job.gpus
                    self.out.gpu_seconds[job.user] += job.gpus * dt
            if self.waiting():
                self.out.waiting_time += dt
                self.out.busy_while_waiting += busy * dt
                self.out.queued_while_waiting += queued * dt
        self.on_time(to - self.now)
        self.now = to

    def on_time(self, dt: float) -> None:
        """Hook for the policy's own clock (kubelab's decayed usage)."""

    def stuck(self) -> bool:
        """Nothing can ever change (only arrivals are left, and none can start)."""
        return False

    def start(self, key: str, nodes: list[str]) -> None:
        job = self.jobs[key]
        for n, g in zip(nodes, job.members, strict=True):
            self.free[n] -= g
            assert self.free[n] >= 0, (n, self.free)
        epoch = self.epoch.get(key, 0) + 1
        self.epoch[key] = epoch
        self.running[key] = (self.now, nodes, epoch)
        self.push(self.now + job.duration, "finish", f"{key}#{epoch}")

    def stop(self, key: str) -> None:
        _, nodes, _ = self.running.pop(key)
        for n, g in zip(nodes, self.jobs[key].members, strict=True):
            self.free[n] += g

    def run(self) -> Outcome:
        while self.events and self.events[0][0] <= DRAIN and not self.stuck():
            at = self.events[0][0]
            self.advance(at)
            while self.events and self.events[0][0] == at:
                _, _, kind, key = heapq.heappop(self.events)
                if kind == "arrive":
                    self.on_arrive(key)
                elif kind == "finish":
                    name, _, epoch = key.partition("#")
                    run = self.running.get(name)
                    if run is not None and run[2] == int(epoch):  # not preempted since
                        self.stop(name)
                        self.on_finish(name)
            self.schedule()
        self.out.deadlocked = self.waiting() and (not self.events or self.stuck())
        if self.now < WEEK:  # stuck before the week is out: the rest of it counts, idle
            self.advance(WEEK)
        return self.out


class KubelabWeek(Week):
    """The scheduler's queue decisions (see the module docstring)."""

    def __init__(self, jobs: list[Job], grace: float = DEFAULT_RECLAIM_GRACE) -> None:
        super().__init__(jobs)
        self.specs = {
            u: QueueSpec(u, Amount(s), Amount(1, 0, 0), None, grace)
            for u, s in zip(USERS, SHARES, strict=True)
        }
        self.shares = {u: float(s) for u, s in zip(USERS, SHARES, strict=True)}
        self.usage = {u: 0.0 for u in USERS}
        self.queue: dict[str, float] = {}  # waiting job -> created
        self.created: dict[str, str] = {}
        self.reclaim_since: dict[str, float] = {}
        self.waking: set[str] = set()

    def waiting(self) -> bool:
        return any(not self.jobs[k].best_effort for k in self.queue)

    def on_time(self, dt: float) -> None:
        if dt <= 0:
            return
        gpus = {u: 0 for u in USERS}
        for key in self.running:
            job = self.jobs[key]
            if not job.best_effort:
                gpus[job.user] += job.gpus
        for u in USERS:
            self.usage[u] = accrued(self.usage[u], gpus[u], dt, DEFAULT_HALF_LIFE)

    def on_arrive(self, key: str) -> None:
        self.enqueue(key)

    def enqueue(self, key: str) -> None:
        self.queue[key] = self.now
        self.created[key] = f"{self.now:013.3f}{key}"  # sorts as creationTimestamp does

    def on_finish(self, key: str) -> None:
        pass

    def workload(self, key: str, started: float) -> Workload:
        job = self.jobs[key]
        return Workload(key, job.user, Amount(job.gpus), started, job.best_effort)

    def book(self) -> QuotaBook:
        return QuotaBook(
            self.specs,
            Amount(CAPACITY),
            (self.workload(k, start) for k, (start, _, _) in self.running.items()),
        )

    def schedule(self) -> None:
        factors = fair_share_factors(self.usage, self.shares)

        def rank(key: str) -> tuple[int, float, str]:
            job = self.jobs[key]
            priority = BEST_EFFORT_PRIORITY if job.best_effort else 0
            return order_key(priority, factors[job.user], self.created[key])

        book = self.book()
        # Shortcuts that change no outcome, only the simulation's speed: a job bigger than
        # the idle and best-effort GPUs together and beyond its share (nothing can make
        # room for it), or of a shape its queue already failed with since the last start.
        best_effort = sum(self.jobs[k].gpus for k in self.running if self.jobs[k].best_effort)
        failed: set[tuple[str, tuple[int, ...], bool]] = set()
        for key in self.in_order(rank):
            job = self.jobs[key]
            free_total = sum(self.free.values())
            shape = (job.user, job.members, job.best_effort)
            if shape in failed:
                continue
            nodes: list[str] | None = None
            if job.best_effort:  # no quota, never preempts: idle GPUs only
                if job.gpus <= free_total:
                    nodes = pack_counts(list(job.members), self.free)
            else:
                share = self.specs[job.user].nominal.gpus
                within = book.used[job.user].gpus + job.gpus <= share
                if job.gpus > free_total + best_effort and not within:
                    continue
                verdict = book.admit(job.user, Amount(job.gpus))
                if verdict.admitted and job.gpus <= free_total:
                    nodes = pack_counts(list(job.members), self.free)
                if verdict.admitted and nodes is None:
                    nodes = self.preempt(job, verdict.within_nominal, book)
                    if nodes is not None:
                        book = self.book()  # the victims are gone
                        best_effort = sum(
                            self.jobs[k].gpus for k in self.running if self.jobs[k].best_effort
                        )
                if nodes is None and not verdict.within_nominal:
                    failed.add(shape)  # (within its share, each job has its own grace)
            if nodes is None:
                if job.best_effort:
                    failed.add(shape)
                continue
            self.begin(key, nodes)
            book.add(self.workload(key, self.now))
            failed.clear()

    def in_order(self, rank: Callable[[str], tuple[int, float, str]]) -> Iterator[str]:
        """The waiting jobs by ``rank``. Best effort ranks below all queued work (its
        priority), so it is sorted only when idle GPUs are left for it: the same order,
        without sorting a long best-effort backlog at every event."""
        yield from sorted((k for k in self.queue if not self.jobs[k].best_effort), key=rank)
        if any(self.free.values()):
            yield from sorted((k for k in self.queue if self.jobs[k].best_effort), key=rank)

    def begin(self, key: str, nodes: list[str]) -> None:
        job = self.jobs[key]
        if len(job.members) > 1:
            self.out.gang_waits.append(self.now - self.queue[key])
        del self.queue[key]
        self.reclaim_since.pop(key, None)
        self.start(key, nodes)

    def preempt(self, job: Job, within_nominal: bool, book: QuotaBook) -> list[str] | None:
        """Room for ``job`` by preemption, as the scheduler's order has it: best-effort
        work at once, else (for a job within its queue's share) after the grace period the
        borrowed workloads of other queues; then its nodes. None: it waits."""
        best_effort = sorted(
            (k for k in self.running if self.jobs[k].best_effort),
            key=lambda k: -self.running[k][0],
        )
        victims = self.victims(job, best_effort)
        if victims is None and within_nominal:
            since = self.reclaim_since.setdefault(job.key, self.now)
            due = since + self.specs[job.user].reclaim_grace
            if self.now < due:
                if job.key not in self.waking:
                    self.waking.add(job.key)
                    self.push(due, "wake", job.key)
                return None
            self.waking.discard(job.key)
            borrowed = [w.key for w in book.reclaimable(job.user)]
            victims = self.victims(job, best_effort + borrowed)
        if victims is None:
            return None
        for key in victims:
            start, _, _ = self.running[key]
            lost = self.jobs[key].gpus * (self.now - start)
            if self.jobs[key].best_effort:
                self.out.lost_best_effort_gpu_seconds += lost
            else:
                self.out.lost_gpu_seconds += lost
            self.out.preemptions += 1
            self.stop(key)
            self.enqueue(key)  # its Job makes it again
        return pack_counts(list(job.members), self.free)

    def victims(self, job: Job, candidates: list[str]) -> list[str] | None:
        """The fewest of ``candidates`` (in the order given) whose GPUs let ``job`` fit:
        take them in order until it fits, then give back those it fits without, the
        earliest-started first. None when all of them are not enough."""
        taken: list[str] = []
        trial = dict(self.free)
        for key in candidates:
            taken.append(key)
            for n, g in zip(self.running[key][1], self.jobs[key].members, strict=True):
                trial[n] += g
            if pack_counts(list(job.members), trial) is not None:
                break
        else:
            return None
        for key in sorted(taken, key=lambda k: self.running[k][0]):
            back = dict(trial)
            for n, g in zip(self.running[key][1], self.jobs[key].members, strict=True):
                back[n] -= g
            if pack_counts(list(job.members), back) is not None:
                taken.remove(key)
                trial = back
        return taken


class FifoWeek(Week):
    """A plain FIFO queue of whole jobs (see the module docstring)."""

    def __init__(self, jobs: list[Job]) -> None:
        super().__init__(jobs)
        self.queue: list[str] = []

    def waiting(self) -> bool:
        return any(not self.jobs[k].best_effort for k in self.queue)

    def on_arrive(self, key: str) -> None:
        self.queue.append(key)

    def on_finish(self, key: str) -> None:
        pass

    def schedule(self) -> None:
        while self.queue:
            nodes = pack_counts(list(self.jobs[self.queue[0]].members), self.free)
            if nodes is None:
                return  # the head waits, and everything behind it
            job = self.jobs[self.queue.pop(0)]
            if len(job.members) > 1:
                self.out.gang_waits.append(self.now - job.arrival)
            self.start(job.key, nodes)


class PodFifoWeek(Week):
    """Pods in creation order, each placed when it fits; a job runs once all its pods are
    placed (see the module docstring)."""

    def __init__(self, jobs: list[Job]) -> None:
        super().__init__(jobs)
        self.pods: list[tuple[float, str, int]] = []  # waiting pods: created, job, member
        self.placed: dict[str, list[str | None]] = {}  # job -> member's node

    def waiting(self) -> bool:
        return any(not self.jobs[k].best_effort for k in self.placed)

    def stuck(self) -> bool:
        # Every GPU held by gangs still missing members, none running: none ever frees.
        return not self.running and not any(self.free.values()) and bool(self.placed)

    def on_arrive(self, key: str) -> None:
        job = self.jobs[key]
        self.placed[key] = [None] * len(job.members)
        for i in range(len(job.members)):
            created = self.now + i * POD_GAP + job.burst_index * POD_GAP / 5
            self.pods.append((created, key, i))
        self.pods.sort()

    def on_finish(self, key: str) -> None:
        pass

    def schedule(self) -> None:
        left: list[tuple[float, str, int]] = []
        free_total = sum(self.free.values())
        for created, key, i in self.pods:
            d = self.jobs[key].members[i]
            node = pack_counts([d], self.free) if d <= free_total else None
            if node is None:
                left.append((created, key, i))
                continue
            self.free[node[0]] -= d
            free_total -= d
            self.placed[key][i] = node[0]
        self.pods = left
        partly = 0
        for key, nodes in list(self.placed.items()):
            placed = [n for n in nodes if n is not None]
            if len(placed) == len(nodes):
                for n, g in zip(placed, self.jobs[key].members, strict=True):
                    self.free[n] += g  # start() takes them again
                del self.placed[key]
                self.start(key, placed)
            elif placed:
                partly += 1
        self.out.half_started_gangs = max(self.out.half_started_gangs, partly)


@dataclass
class Seeded:
    """The three policies' weeks on one seed's arrivals."""

    seed: int
    jobs: int
    kubelab: Outcome
    fifo: Outcome
    pod_fifo: Outcome


def simulate(seed: int) -> Seeded:
    jobs = arrivals(seed)
    return Seeded(
        seed, len(jobs), KubelabWeek(jobs).run(), FifoWeek(jobs).run(), PodFifoWeek(jobs).run()
    )
