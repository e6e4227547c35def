"""The StatefulSet controller's decisions, pure: set + pods + claims + revisions → writes.

One level-triggered step, as Kubernetes' StatefulSetControl.updateStatefulSet: replicas
missing are created (their claims first), failed ones deleted to be recreated; with
``OrderedReady`` each pod waits for its predecessors to be Running and Ready (and
available) and scale-down removes the highest ordinal first, one at a time; ``Parallel``
does all at once. Then the rolling update replaces, from the highest ordinal down to
``partition``, one pod that does not run the update revision, waiting for each to be
healthy (``maxUnavailable`` at once when set). ``OnDelete`` replaces only pods the user
deletes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import actions as A
from ..claim import claim
from ..history import RESOURCE as REVISIONS
from ..history import REVISION_HASH_LABEL, plan_history, prune_history, revision_template
from ..objutil import (
    Obj,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    selector_matches,
    status_differs,
)
from ..podutil import phase, ready_since
from .identity import (
    claim_is_stale,
    claim_names,
    claim_owner_patch,
    claim_templates,
    identity_labels,
    identity_matches,
    in_range,
    new_claim,
    new_pod,
    ordinal_of,
    pod_name,
    replicas_of,
    revision_of_pod,
    spec_of,
    start_ordinal,
)
from .status import (
    compute_status,
    healthy,
    min_ready_seconds,
    partition_of,
    running_and_available,
    running_and_ready,
    update_strategy,
)


def max_unavailable(sts: Obj) -> int | None:
    """``rollingUpdate.maxUnavailable`` resolved against replicas (at least 1), or None."""
    ru = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    v = ru.get("maxUnavailable")
    if v is None:
        return None
    if isinstance(v, str) and v.endswith("%"):
        n = int(v[:-1]) * replicas_of(sts) // 100
    else:
        n = int(v)
    return max(n, 1)


@dataclass
class Slot:
    """One ordinal of the set: the pod there (None when missing) and its claims."""

    ordinal: int
    pod: Obj | None


@dataclass
class Step:
    """What one sync decided, for the shell and for tests."""

    result: A.Result = field(default_factory=A.Result)
    update_revision: str = ""
    current_revision: str = ""

    @property
    def actions(self) -> list[A.Action]:
        return self.result.actions


class _Planner:
    def __init__(
        self, sts: Obj, claims: dict[str, Obj], current: Obj, update: Obj, now: float
    ) -> None:
        self.sts = sts
        self.ns = namespace_of(sts)
        self.claims = claims
        self.current = current  # the revisions (ControllerRevision objects)
        self.update = update
        self.now = now
        self.res = A.Result()
        self.monotonic = spec_of(sts).get("podManagementPolicy") != "Parallel"

    # -- writes ---------------------------------------------------------------------------

    def _create_pod(self, ordinal: int) -> None:
        # Ordinals below the partition stay at the current revision (newVersionedStatefulSetPod).
        idx = ordinal - start_ordinal(self.sts)
        rolling = update_strategy(self.sts) == "RollingUpdate"
        rev = self.current if rolling and idx < partition_of(self.sts) else self.update
        template = revision_template(rev)
        pod = new_pod(self.sts, template, ordinal, name_of(rev))
        self._ensure_claims(ordinal, None)
        self.res.actions.append(A.create("pods", self.ns, pod))
        self.res.actions.append(
            A.event(
                self.sts,
                "Normal",
                "SuccessfulCreate",
                f"create Pod {name_of(pod)} in StatefulSet {name_of(self.sts)} successful",
            )
        )

    def _ensure_claims(self, ordinal: int, pod: Obj | None) -> None:
        """Create the claims of ``ordinal`` that do not exist (a pod's claims come first)."""
        for t in claim_templates(self.sts):
            c = new_claim(self.sts, t, ordinal)
            if name_of(c) in self.claims:
                continue
            refs = claim_owner_patch(self.sts, pod, {}, ordinal)
            if refs is not None:
                c["metadata"]["ownerReferences"] = refs["metadata"]["ownerReferences"]
            self.res.actions.append(A.create("persistentvolumeclaims", self.ns, c))
            self.res.actions.append(
                A.event(
                    self.sts,
                    "Normal",
                    "SuccessfulCreate",
                    f"create Claim {name_of(c)} Pod {pod_name(self.sts, ordinal)} "
                    f"in StatefulSet {name_of(self.sts)} success",
                )
            )

    def _fix_claim_owners(self, ordinal: int, pod: Obj) -> None:
        for cname in claim_names(self.sts, ordinal):
            c = self.claims.get(cname)
            if c is None or is_deleting(c):
                continue
            patch = claim_owner_patch(self.sts, pod, c, ordinal)
            if patch is not None:
                self.res.actions.append(A.patch("persistentvolumeclaims", self.ns, cname, patch))

    def _delete_pod(self, pod: Obj) -> None:
        self.res.actions.append(A.delete("pods", self.ns, name_of(pod)))
        self.res.actions.append(
            A.event(
                self.sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {name_of(pod)} in StatefulSet {name_of(self.sts)} successful",
            )
        )

    def _wait_available(self, pod: Obj) -> None:
        since = ready_since(pod)
        if since is not None:
            self.res.requeue(since + min_ready_seconds(self.sts) - self.now + 0.05)

    # -- the steps ------------------------------------------------------------------------

    def replica(self, slot: Slot) -> bool:
        """processReplica: True when this sync must stop here."""
        pod = slot.pod
        if pod is None:
            names = claim_names(self.sts, slot.ordinal)
            if any(claim_is_stale(self.sts, self.claims.get(n), "") for n in names):
                # The garbage collector is removing a claim of an earlier pod: wait for it.
                self.res.requeue(1.0)
                return True
            self._create_pod(slot.ordinal)
            return self.monotonic
        if phase(pod) in ("Failed", "Succeeded"):
            if not is_deleting(pod):
                self._delete_pod(pod)
            return True
        if phase(pod) == "Pending":
            self._ensure_claims(slot.ordinal, pod)
        if is_deleting(pod) and self.monotonic:
            return True
        if not running_and_ready(pod) and self.monotonic:
            return True
        if not running_and_available(pod, self.sts, self.now) and self.monotonic:
            self._wait_available(pod)
            return True
        if not identity_matches(self.sts, pod, slot.ordinal):
            labels = identity_labels(self.sts, slot.ordinal)
            body = {"metadata": {"labels": labels}}
            self.res.actions.append(A.patch("pods", self.ns, name_of(pod), body))
        self._fix_claim_owners(slot.ordinal, pod)
        return False

    def condemned(self, slot: Slot, first_unhealthy: Obj | None) -> bool:
        """processCondemned: True when this sync must stop here."""
        pod = slot.pod
        assert pod is not None
        if is_deleting(pod):
            return self.monotonic
        if self.monotonic and pod is not first_unhealthy:
            if not running_and_ready(pod):
                return True
            if not running_and_available(pod, self.sts, self.now):
                self._wait_available(pod)
                return True
        self._delete_pod(pod)
        return self.monotonic

    def rolling_update(self, slots: list[Slot]) -> None:
        update = name_of(self.update)
        start = partition_of(self.sts)
        limit = max_unavailable(self.sts)
        targets = [s.pod for s in slots[start:] if s.pod is not None]
        targets.reverse()  # highest ordinal first
        if limit is None:
            for pod in targets:
                if revision_of_pod(pod) != update and not is_deleting(pod):
                    self._delete_pod(pod)
                    return
                if not healthy(pod):
                    return  # wait for the one replaced last
            return
        # maxUnavailable: replace as many as may be unavailable at once.
        unavailable = sum(1 for s in slots if s.pod is None or not healthy(s.pod))
        budget = limit - unavailable
        for pod in targets:
            if budget <= 0:
                return
            if revision_of_pod(pod) != update and not is_deleting(pod):
                self._delete_pod(pod)
                budget -= 1


def plan(
    sts: Obj,
    pods: list[Obj],
    claims: list[Obj],
    revisions: list[Obj],
    now: float,
    *,
    expectations_satisfied: bool = True,
) -> Step:
    """One level-triggered step for ``sts`` given the pods, claims and ControllerRevisions
    of its namespace."""
    step = Step()
    res = step.result
    spec = spec_of(sts)
    ns = namespace_of(sts)
    selector = spec.get("selector")

    def matches(labels: dict[str, str]) -> bool:
        return selector_matches(selector, labels)

    # History first: the update revision is the one of the current template.
    owned_revs = claim(sts, revisions, REVISIONS, matches)
    res.actions.extend(owned_revs.actions)
    hist = plan_history(sts, owned_revs.owned)
    update_rev = hist.current
    if update_rev is None:
        body = next(a.body for a in hist.actions if a.verb == "create" and a.body)
        clash = [r for r in revisions if name_of(r) == name_of(body)]
        if clash:
            # Same name, another template (or another owner): hash again with a new count.
            count = int((sts.get("status") or {}).get("collisionCount") or 0) + 1
            res.actions.append(
                A.patch(
                    "statefulsets",
                    ns,
                    name_of(sts),
                    {"status": {"collisionCount": count}},
                    subresource="status",
                )
            )
            res.requeue(0.0)
            return step
        update_rev = body
    res.actions.extend(hist.actions)
    current_name = str((sts.get("status") or {}).get("currentRevision") or "")
    current_rev = next((r for r in owned_revs.owned if name_of(r) == current_name), update_rev)
    step.update_revision = name_of(update_rev)
    step.current_revision = name_of(current_rev)

    # Pods: only those named <set>-<ordinal> are members (isMemberOf).
    members = [p for p in pods if ordinal_of(sts, p) >= 0]
    owned_pods = claim(sts, members, "pods", matches)
    res.actions.extend(owned_pods.actions)
    by_ordinal = {ordinal_of(sts, p): p for p in owned_pods.owned}
    start, count = start_ordinal(sts), replicas_of(sts)
    slots = [Slot(o, by_ordinal.get(o)) for o in range(start, start + count)]
    condemned = sorted(
        (Slot(o, p) for o, p in by_ordinal.items() if not in_range(sts, o)),
        key=lambda s: -s.ordinal,
    )

    if expectations_satisfied and not is_deleting(sts):
        p = _Planner(sts, {name_of(c): c for c in claims}, current_rev, update_rev, now)
        _walk(p, slots, condemned)
        res.actions.extend(p.res.actions)
        if p.res.requeue_after is not None:
            res.requeue(p.res.requeue_after)

    status = compute_status(sts, owned_pods.owned, step.current_revision, step.update_revision, now)
    if status_differs(sts.get("status"), status):
        res.actions.append(
            A.patch("statefulsets", ns, name_of(sts), {"status": status}, subresource="status")
        )
    # A ready pod becomes available on its own after minReadySeconds: count it then.
    wait = min_ready_seconds(sts)
    for pod in owned_pods.owned:
        since = ready_since(pod) if running_and_ready(pod) else None
        if wait > 0 and since is not None and since + wait > now:
            res.requeue(since + wait - now + 0.05)
    # Keep the revisions pods still run, the current and the update one; prune the rest.
    keep = {name_of(current_rev), name_of(update_rev)}
    keep.update(revision_of_pod(p) for p in owned_pods.owned)
    live = {labels_of(r).get(REVISION_HASH_LABEL, "") for r in hist.old if name_of(r) in keep}
    res.actions.extend(prune_history(sts, hist.old, live))
    return step


def _walk(p: _Planner, slots: list[Slot], condemned: list[Slot]) -> None:
    # runForAll: OrderedReady stops at the first replica that blocks; Parallel goes on
    # (Kubernetes' slow-start batches ignore "stop here" and end only on errors).
    for s in slots:
        if p.replica(s) and p.monotonic:
            return
    for s in condemned:
        assert s.pod is not None
        p._fix_claim_owners(s.ordinal, s.pod)
    first_unhealthy = next(
        (s.pod for s in [*slots, *reversed(condemned)] if s.pod is None or not healthy(s.pod)),
        None,
    )
    for s in condemned:
        if p.condemned(s, first_unhealthy):
            return
    if update_strategy(p.sts) == "OnDelete":
        return
    p.rolling_update(slots)
