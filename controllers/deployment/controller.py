"""Deployment controller: one ReplicaSet per pod template, rolled out step by step.

``reconcile`` is pure: Deployment + the ReplicaSets and pods of its namespace + now → actions
(ReplicaSet creates/scales/deletes, revision annotations, status, ScalingReplicaSet events).
"""

from __future__ import annotations

from .. import actions as A
from ..claim import claim
from ..objutil import (
    Obj,
    annotations_of,
    controller_ref,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    selector_matches,
    status_differs,
    uid_of,
)
from ..podutil import phase
from .rollout import Step, cleanup_old, paused_step, recreate_step, rolling_step
from .status import compute_status, is_complete
from .util import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    REVISION,
    find_new_rs,
    max_revision,
    new_replica_set,
    revision_of,
    spec_replicas,
    surge_and_unavailable,
)


def scale_action(d: Obj, rs: Obj, replicas: int) -> A.Action:
    """Set an RS's replicas (guarded by its resourceVersion) and its replica annotations."""
    surge, _ = surge_and_unavailable(d)
    body = {
        "metadata": {
            "resourceVersion": meta(rs).get("resourceVersion"),
            "annotations": {
                DESIRED_REPLICAS: str(spec_replicas(d)),
                MAX_REPLICAS: str(spec_replicas(d) + surge),
            },
        },
        "spec": {"replicas": replicas},
    }
    return A.patch("replicasets", namespace_of(rs), name_of(rs), body)


def _scale_event(d: Obj, rs_name: str, old: int, new: int) -> A.Action:
    verb = "up" if new > old else "down"
    return A.event(
        d, "Normal", "ScalingReplicaSet", f"Scaled {verb} replica set {rs_name} from {old} to {new}"
    )


def old_pods_exist(old_rss: list[Obj], pods: list[Obj]) -> bool:
    """Any pod of an old ReplicaSet that is not finished (terminating ones count)."""
    uids = {uid_of(rs) for rs in old_rss}
    for p in pods:
        ref = controller_ref(p)
        if ref and ref.get("uid") in uids and phase(p) not in ("Succeeded", "Failed"):
            return True
    return False


def reconcile(d: Obj, rss: list[Obj], pods: list[Obj], now: float) -> A.Result:
    """One level-triggered step for Deployment ``d``."""
    res = A.Result()
    spec = d.get("spec") or {}
    ns = namespace_of(d)
    selector = spec.get("selector")
    if not selector_matches(
        selector, ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    ):
        res.actions.append(
            A.event(d, "Warning", "SelectorInvalid", "selector does not match template labels")
        )
        return res

    c = claim(d, rss, "replicasets", lambda labels: selector_matches(selector, labels))
    res.actions.extend(c.actions)
    owned = c.owned
    live = [rs for rs in owned if not is_deleting(rs)]
    new_rs = find_new_rs(d, live)
    old_rss = [rs for rs in owned if rs is not new_rs]

    if is_deleting(d):
        _status(res, d, owned, new_rs, now, "")
        return res

    # Revisions: the new RS always carries the highest one (a rollback bumps it).
    top_old = max_revision(old_rss)
    revision = top_old + 1
    bump_revision = new_rs is not None and revision_of(new_rs) <= top_old
    if new_rs is not None and not bump_revision:
        revision = revision_of(new_rs)

    paused = bool(spec.get("paused"))
    strategy = (spec.get("strategy") or {}).get("type") or "RollingUpdate"
    if paused:
        step = paused_step(d, new_rs, old_rss)
    elif strategy == "Recreate":
        step = recreate_step(d, new_rs, old_rss, old_pods_exist(old_rss, pods))
    else:
        step = rolling_step(d, new_rs, old_rss)

    if bump_revision and new_rs is not None:
        # Fold the revision into the new RS's scale write (one write, one resourceVersion).
        if not any(rs is new_rs for rs, _ in step.scales):
            step.scales.insert(0, (new_rs, spec_replicas(new_rs)))
    created_name = _apply_step(res, d, step, revision, new_rs if bump_revision else None)
    if created_name or new_rs is not None:
        if annotations_of(d).get(REVISION) != str(revision):
            res.actions.append(
                A.patch(
                    "deployments",
                    ns,
                    name_of(d),
                    {"metadata": {"annotations": {REVISION: str(revision)}}},
                )
            )

    if step.waiting:
        res.requeue(0.5)

    # Clean-up once nothing is moving (or while paused), like kube.
    if not step.scales and step.create_replicas is None:
        if paused or new_rs is None or _rolled_out(d, new_rs, old_rss):
            for rs in cleanup_old(d, old_rss):
                res.actions.append(
                    A.delete("replicasets", ns, name_of(rs), propagation_policy="Background")
                )

    _status(res, d, owned, new_rs, now, created_name)
    return res


def _rolled_out(d: Obj, new_rs: Obj, old_rss: list[Obj]) -> bool:
    st = new_rs.get("status") or {}
    return (
        spec_replicas(new_rs) == spec_replicas(d)
        and int(st.get("availableReplicas") or 0) >= spec_replicas(d)
        and all(spec_replicas(rs) == 0 for rs in old_rss)
    )


def _apply_step(res: A.Result, d: Obj, step: Step, revision: int, bump: Obj | None) -> str:
    for rs, n in step.scales:
        act = scale_action(d, rs, n)
        if rs is bump and act.body is not None:
            act.body["metadata"]["annotations"][REVISION] = str(revision)
        res.actions.append(act)
        if n != spec_replicas(rs):
            res.actions.append(_scale_event(d, name_of(rs), spec_replicas(rs), n))
    if step.create_replicas is None:
        return ""
    body = new_replica_set(d, step.create_replicas, revision)
    res.actions.append(A.create("replicasets", namespace_of(d), body))
    if step.create_replicas > 0:
        res.actions.append(_scale_event(d, body["metadata"]["name"], 0, step.create_replicas))
    return str(body["metadata"]["name"])


def _status(
    res: A.Result, d: Obj, owned: list[Obj], new_rs: Obj | None, now: float, created: str
) -> None:
    st, requeue = compute_status(d, owned, new_rs, now, created_rs_name=created)
    if requeue is not None:
        res.requeue(requeue)
    if status_differs(d.get("status"), st):
        res.actions.append(
            A.patch(
                "deployments", namespace_of(d), name_of(d), {"status": st}, subresource="status"
            )
        )


__all__ = ["reconcile", "is_complete", "scale_action"]


# --- the shell ---------------------------------------------------------------------------

from client import ApiError  # noqa: E402

from ..base import Controller, apply_action  # noqa: E402
from ..objutil import key_of, labels_of  # noqa: E402
from .util import templates_equal  # noqa: E402


class DeploymentController(Controller):
    """Feeds ``reconcile`` from the Deployment, ReplicaSet and pod informers."""

    name = "deployment"

    def setup(self) -> None:
        self.deployments = self.ctx.index("deployments")
        self.rss = self.ctx.index("replicasets")
        self.pods = self.ctx.index("pods")
        self.deployments.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
            on_delete=lambda o: self.enqueue(key_of(o)),
        )
        self.rss.informer.add_handler(
            on_add=self._rs_changed,
            on_update=self._rs_updated,
            on_delete=self._rs_changed,
        )
        # Recreate waits for old pods to be gone: their deletion must wake it up.
        self.pods.informer.add_handler(on_delete=self._pod_deleted)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if controller_ref(old) != controller_ref(new):
            self._rs_changed(old)
        self._rs_changed(new)

    def _rs_changed(self, rs: Obj) -> None:
        ref = controller_ref(rs)
        if ref is not None:
            if ref.get("kind") == "Deployment":
                self.enqueue(f"{namespace_of(rs)}/{ref.get('name')}")
            return
        for d in self.deployments.in_namespace(namespace_of(rs)):
            if selector_matches((d.get("spec") or {}).get("selector"), labels_of(rs)):
                self.enqueue(key_of(d))

    def _pod_deleted(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rss.get(f"{namespace_of(pod)}/{ref.get('name')}")
        if rs is not None:
            self._rs_changed(rs)

    async def sync(self, key: str) -> float | None:
        d = self.deployments.get(key)
        if d is None:
            return None
        d = self.ctx.overlay.latest("deployments", d)
        ns = namespace_of(d)
        rss = self.ctx.overlay.merged("replicasets", self.rss.in_namespace(ns), ns)
        recreate = ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate"
        pods = self.pods.in_namespace(ns) if recreate else []
        res = reconcile(d, rss, pods, self.ctx.clock())
        for a in res.actions:
            if a.verb == "create" and a.resource == "replicasets":
                if not await self._create_rs(d, a):
                    return 0.0
            else:
                await apply_action(self.ctx, a)
        return res.requeue_after

    async def _create_rs(self, d: Obj, a: A.Action) -> bool:
        """Create the new RS; on a name clash with a different template, bump collisionCount."""
        try:
            await apply_action(self.ctx, a)
            return True
        except ApiError as e:
            if e.code != 409:
                raise
        assert a.body is not None
        existing = await self.ctx.client.get("replicasets", a.name, a.namespace)
        ours = (controller_ref(existing) or {}).get("uid") == uid_of(d)
        if ours and templates_equal(existing["spec"]["template"], a.body["spec"]["template"]):
            self.ctx.overlay.remember("replicasets", existing)  # the informer is just behind
            return True
        count = int((d.get("status") or {}).get("collisionCount") or 0) + 1
        await self.ctx.client.patch(
            "deployments",
            name_of(d),
            {"status": {"collisionCount": count}},
            namespace_of(d),
            subresource="status",
        )
        return False
