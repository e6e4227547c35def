"""ReplicaSet controller: keep ``spec.replicas`` pods matching the selector running.

``reconcile`` is pure (ReplicaSet + the pods of its namespace + now → actions); the
``ReplicaSetController`` shell feeds it from the shared informers and applies the actions,
creating pods in slow-start batches and tracking expectations so a lagging informer does
not make it create twice.
"""

from __future__ import annotations

from typing import Any

from . import actions as A
from .claim import claim
from .objutil import (
    Obj,
    labels_of,
    meta,
    name_of,
    namespace_of,
    random_suffix,
    selector_matches,
    status_differs,
)
from .podutil import (
    is_active,
    is_available,
    is_ready,
    pod_from_template,
    ready_since,
    sort_for_deletion,
)

DEFAULT_BURST = 500


def desired_replicas(rs: Obj) -> int:
    r = (rs.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def new_pod(rs: Obj) -> Obj:
    """One pod for ``rs`` from its template, with a generated name."""
    template = (rs.get("spec") or {}).get("template") or {}
    return pod_from_template(rs, template, f"{name_of(rs)}-{random_suffix()}")


def compute_status(rs: Obj, pods: list[Obj], now: float) -> dict[str, Any]:
    """The status fields kubectl and the Deployment controller read."""
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    active = [p for p in pods if is_active(p)]
    return {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(
            1 for p in active if all(labels_of(p).get(k) == v for k, v in tlabels.items())
        ),
        "readyReplicas": sum(1 for p in active if is_ready(p)),
        "availableReplicas": sum(1 for p in active if is_available(p, min_ready, now)),
        "observedGeneration": int(meta(rs).get("generation") or 0),
    }


def reconcile(
    rs: Obj,
    pods: list[Obj],
    now: float,
    *,
    expectations_satisfied: bool = True,
    burst: int = DEFAULT_BURST,
    resource: str = "replicasets",
) -> A.Result:
    """One level-triggered step for ``rs`` given every pod in its namespace (``resource``:
    where its status is written, for the kinds that share this logic)."""
    res = A.Result()
    spec = rs.get("spec") or {}
    selector = spec.get("selector")
    ns = namespace_of(rs)

    c = claim(rs, pods, "pods", lambda labels: selector_matches(selector, labels))
    res.actions.extend(c.actions)
    active = [p for p in c.owned if is_active(p)]

    if expectations_satisfied and not meta(rs).get("deletionTimestamp"):
        diff = len(active) - desired_replicas(rs)
        if diff < 0:
            for _ in range(min(-diff, burst)):
                pod = new_pod(rs)
                res.actions.append(A.create("pods", ns, pod))
        elif diff > 0:
            for pod in sort_for_deletion(active, now)[: min(diff, burst)]:
                res.actions.append(A.delete("pods", ns, name_of(pod)))

    status = compute_status(rs, c.owned, now)
    if status_differs(rs.get("status"), status):
        res.actions.append(
            A.patch(resource, ns, name_of(rs), {"status": status}, subresource="status")
        )

    # A pod that is ready but not yet available becomes available on its own: look again then.
    min_ready = int(spec.get("minReadySeconds") or 0)
    if min_ready > 0:
        for p in active:
            since = ready_since(p)
            if since is not None and since + min_ready > now:
                res.requeue(since + min_ready - now + 0.05)
    return res


def slow_start_batches(n: int, initial: int = 1) -> list[int]:
    """Batch sizes 1, 2, 4, … summing to ``n``: a broken template fails after one pod."""
    out: list[int] = []
    batch = min(n, initial)
    remaining = n
    while remaining > 0:
        out.append(batch)
        remaining -= batch
        batch = min(2 * batch, remaining)
    return out


# --- the shell ---------------------------------------------------------------------------

import asyncio  # noqa: E402
import logging  # noqa: E402

from client import ApiError  # noqa: E402

from .base import Controller, apply_action, apply_all  # noqa: E402
from .expectations import Expectations  # noqa: E402
from .objutil import controller_ref, is_deleting, key_of  # noqa: E402

log = logging.getLogger(__name__)


async def run_slow_start(
    n: int, create_one: Any, initial: int = 1, concurrency: int = 0
) -> tuple[int, list[BaseException]]:
    """Call ``create_one()`` n times in batches 1, 2, 4, …; stop after a batch with errors.

    At most ``concurrency`` calls are in flight (0: a whole batch): a few kept-alive
    connections beat hundreds of new TLS handshakes. Returns the calls made and the errors.
    """
    made = 0
    errors: list[BaseException] = []
    sem = asyncio.Semaphore(concurrency) if concurrency > 0 else None

    async def limited() -> Any:
        if sem is None:
            return await create_one()
        async with sem:
            return await create_one()

    for size in slow_start_batches(n, initial):
        results = await asyncio.gather(*(limited() for _ in range(size)), return_exceptions=True)
        made += size
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            break
    return made, errors


class ReplicaSetController(Controller):
    """Feeds ``reconcile`` from the shared pod/ReplicaSet informers and applies its actions."""

    name = "replicaset"
    kind = "ReplicaSet"
    resource = "replicasets"

    def setup(self) -> None:
        self.owners = self.ctx.index(self.resource)
        self.pods = self.ctx.index("pods")
        self.expectations = Expectations()
        self.owners.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
            on_delete=lambda o: self.enqueue(key_of(o)),
        )
        self.pods.informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != self.kind:
            return None
        return f"{namespace_of(pod)}/{ref.get('name')}"

    def selector_of(self, owner: Obj) -> Obj | None:
        """The owner's LabelSelector (``spec.selector``)."""
        return (owner.get("spec") or {}).get("selector")

    def _orphan(self, pod: Obj) -> None:
        # A pod without a controller: any of our objects whose selector matches may adopt it.
        for owner in self.owners.in_namespace(namespace_of(pod)):
            if selector_matches(self.selector_of(owner), labels_of(pod)):
                self.enqueue(key_of(owner))

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            self._orphan(pod)
            return
        self.expectations.creation_observed(key)
        if is_deleting(pod):
            self.expectations.deletion_observed(key, key_of(pod))
        self.enqueue(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key, old_key = self._owner_key(new), self._owner_key(old)
        if old_key and old_key != key:
            self.enqueue(old_key)
        if key is None:
            if labels_of(old) != labels_of(new) or old_key:
                self._orphan(new)
            return
        if is_deleting(new):
            self.expectations.deletion_observed(key, key_of(new))
        self.enqueue(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, key_of(pod))
            self.enqueue(key)

    def reconcile(self, owner: Obj, pods: list[Obj], now: float, satisfied: bool) -> A.Result:
        return reconcile(
            owner,
            pods,
            now,
            expectations_satisfied=satisfied,
            burst=self.ctx.options.burst_replicas,
        )

    async def sync(self, key: str) -> float | None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return None
        owner = self.ctx.overlay.latest(self.resource, owner)
        pods = self.pods.in_namespace(namespace_of(owner))
        res = self.reconcile(owner, pods, self.ctx.clock(), self.expectations.satisfied(key))
        creates = res.of("create", "pods")
        deletes = res.of("delete", "pods")
        first = [a for a in res.actions if a.verb == "patch" and a.resource == "pods"]
        last = [a for a in res.actions if a not in creates and a not in deletes and a not in first]
        await apply_all(self.ctx, first)
        if creates:
            await self._create(key, owner, creates)
        if deletes:
            await self._delete(key, owner, deletes)
        for a in last:
            await self.apply_other(a)
        return res.requeue_after

    async def apply_other(self, a: A.Action) -> None:
        """Apply one action that is neither a pod create nor a pod delete."""
        await apply_action(self.ctx, a)

    async def _create(self, key: str, owner: Obj, creates: list[A.Action]) -> None:
        self.expectations.expect(key, adds=len(creates))
        todo = iter(creates)

        async def one() -> None:
            action = next(todo)
            out = await apply_action(self.ctx, action)
            self.ctx.recorder.record(
                owner,
                "Normal",
                "SuccessfulCreate",
                f"Created pod: {name_of(out or action.body or {})}",
            )

        made, errors = await run_slow_start(
            len(creates), one, concurrency=self.ctx.options.create_concurrency
        )
        # Creations that failed or were skipped will never be observed.
        self.expectations.creation_observed(key, len(errors) + len(creates) - made)
        if errors:
            err = errors[0]
            self.ctx.recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {err}")
            if isinstance(err, ApiError):
                raise err
            raise RuntimeError(str(err))

    async def _delete(self, key: str, owner: Obj, deletes: list[A.Action]) -> None:
        ns = namespace_of(owner)
        self.expectations.expect(key, deletes=[f"{ns}/{a.name}" for a in deletes])
        results = await asyncio.gather(
            *(apply_action(self.ctx, a) for a in deletes), return_exceptions=True
        )
        for a, r in zip(deletes, results, strict=True):
            if isinstance(r, BaseException) or r is None:
                # Failed, or already gone (404): no event for it may come any more.
                self.expectations.deletion_observed(key, f"{ns}/{a.name}")
                if r is not None:
                    log.warning("%s: deleting pod %s/%s: %s", self.name, ns, a.name, r)
            else:
                self.ctx.recorder.record(
                    owner, "Normal", "SuccessfulDelete", f"Deleted pod: {a.name}"
                )
