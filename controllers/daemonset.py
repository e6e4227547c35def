"""DaemonSet controller: one pod on every node the pod template may run on.

``reconcile`` is pure (DaemonSet + nodes + the pods and ControllerRevisions of its
namespace + now → actions). Which nodes qualify is decided by ``api.placement``, the same
rules the scheduler filters by, applied to the template with the tolerations every daemon
pod gets. Daemon pods are not bound here: each is created with a required node affinity on
its node's ``metadata.name`` and left to the scheduler (Kubernetes ≥ 1.12). A changed
template rolls out node by node within ``maxUnavailable`` (or ``maxSurge``), and every
template is kept as a ControllerRevision (``controllers.history``) for ``rollout undo``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from api.placement import affinity_matches, untolerated_taint

from . import actions as A
from .claim import claim
from .history import RESOURCE, REVISION_HASH_LABEL, current_hash, plan_history, prune_history
from .objutil import (
    Obj,
    controller_ref,
    creation_time,
    is_deleting,
    labels_of,
    meta,
    name_of,
    namespace_of,
    random_suffix,
    selector_matches,
    status_differs,
)
from .podutil import is_available, is_ready, phase, pod_from_template, ready_since

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
NAME_FIELD = "metadata.name"


# --- which nodes ----------------------------------------------------------------------------


def _toleration(key: str, effect: str) -> Obj:
    return {"key": key, "operator": "Exists", "effect": effect}


def daemon_tolerations(pod_spec: Obj) -> list[Obj]:
    """Kubernetes' AddOrUpdateDaemonPodTolerations: a daemon pod stays through node
    trouble (not-ready, unreachable) and is placed despite pressure and cordons."""
    tols = [
        _toleration("node.kubernetes.io/not-ready", "NoExecute"),
        _toleration("node.kubernetes.io/unreachable", "NoExecute"),
        _toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
        _toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
        _toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
        _toleration("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    if pod_spec.get("hostNetwork"):
        tols.append(_toleration("node.kubernetes.io/network-unavailable", "NoSchedule"))
    out = [t for t in pod_spec.get("tolerations") or [] if isinstance(t, dict)]
    for t in tols:
        # Replaced when the template already names the key and effect (as upstream).
        out = [o for o in out if (o.get("key"), o.get("effect")) != (t["key"], t["effect"])]
        out.append(t)
    return out


def daemon_pod_spec(ds: Obj) -> Obj:
    """The template's pod spec with the daemon tolerations (what every pod gets)."""
    spec = copy.deepcopy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    spec["tolerations"] = daemon_tolerations(spec)
    return spec


def node_taints(node: Obj) -> list[Obj]:
    """The node's taints, with ``spec.unschedulable`` as the unschedulable taint (as the
    node lifecycle controller writes it in Kubernetes)."""
    spec = node.get("spec") or {}
    taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    if spec.get("unschedulable"):
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    return taints


def should_run(pod_spec: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run a new daemon pod here, may keep one that runs here): NodeShouldRunDaemonPod.
    An untolerated NoSchedule taint keeps new pods off but lets a running one stay;
    NoExecute evicts it too."""
    wanted = pod_spec.get("nodeName")
    if wanted and wanted != name_of(node):
        return False, False
    if not affinity_matches(pod_spec, node):
        return False, False
    tols = pod_spec.get("tolerations") or []
    taints = node_taints(node)
    if untolerated_taint(tols, taints, ("NoExecute",)) is not None:
        return False, False
    if untolerated_taint(tols, taints, ("NoSchedule",)) is not None:
        return False, True
    return True, True


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: its nodeName, or before binding the one value of its
    required affinity on ``metadata.name`` (GetTargetNodeName)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            values = f.get("values") or []
            if f.get("key") == NAME_FIELD and f.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""


def pin_to_node(pod_spec: Obj, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the pod's required node affinity becomes
    exactly ``metadata.name in (node)`` (the node already passed the original terms)."""
    affinity = pod_spec.setdefault("affinity", {})
    na = affinity.setdefault("nodeAffinity", {})
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}
        ]
    }


def new_daemon_pod(ds: Obj, pod_spec: Obj, node_name: str, revision_hash: str) -> Obj:
    """A pod of ``ds`` for ``node_name``, labelled with the revision it runs."""
    template = {**((ds.get("spec") or {}).get("template") or {}), "spec": copy.deepcopy(pod_spec)}
    extra = {REVISION_HASH_LABEL: revision_hash}
    generation = meta(ds).get("generation")
    if generation is not None:
        extra[TEMPLATE_GENERATION_LABEL] = str(generation)
    pod = pod_from_template(ds, template, f"{name_of(ds)}-{random_suffix()}", extra_labels=extra)
    pin_to_node(pod["spec"], node_name)
    return pod


# --- the plan -------------------------------------------------------------------------------


def scaled(value: Any, total: int, default: int) -> int:
    """An IntOrString resolved against ``total``, percentages rounded up (as the DaemonSet
    controller does for both maxSurge and maxUnavailable)."""
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled(ru.get("maxSurge"), desired, 0)
    unavailable = scaled(ru.get("maxUnavailable"), desired, 1)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # validation refuses it; a stored one still makes progress
    return surge, unavailable


@dataclass
class NodePods:
    """One node's view: whether it should run the daemon, and the daemon pods on it."""

    node: str
    run: bool
    keep: bool
    pods: list[Obj] = field(default_factory=list)

    def by_revision(self, revision_hash: str) -> tuple[Obj | None, Obj | None]:
        """(new pod, old pod) among the live pods, oldest first (findUpdatedPodsOnNode)."""
        new = old = None
        for p in sorted(self.pods, key=lambda p: (creation_time(p), name_of(p))):
            if is_deleting(p):
                continue
            if labels_of(p).get(REVISION_HASH_LABEL) == revision_hash:
                new = new or p
            else:
                old = old or p
        return new, old


def _live(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not is_deleting(p)]


def rolling_deletes(
    ds: Obj, views: list[NodePods], revision_hash: str, now: float
) -> tuple[list[Obj], set[str]]:
    """One RollingUpdate step: (old pods to delete, nodes to get a new pod early by surge)."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    running = [v for v in views if v.run]
    surge, max_unavailable = surge_and_unavailable(ds, len(running))

    def available(p: Obj) -> bool:
        return is_available(p, min_ready, now)

    deletes: list[Obj] = []
    surge_nodes: set[str] = set()
    if surge == 0:
        unavailable = 0
        replaceable: list[Obj] = []  # old and unavailable: replacing costs nothing
        candidates: list[Obj] = []
        for v in running:
            new, old = v.by_revision(revision_hash)
            if (new is None) == (old is None):
                unavailable += 1  # none yet, or both: the manage pass settles it
            elif new is not None:
                unavailable += 0 if available(new) else 1
            elif old is not None and not available(old):
                replaceable.append(old)
            elif old is not None:
                candidates.append(old)
        room = max(max_unavailable - unavailable - len(replaceable), 0)
        deletes = replaceable + sorted(candidates, key=lambda p: name_of(p))[:room]
        return deletes, surge_nodes
    # Surge: a new pod starts beside the old one, which goes once the new one is available.
    surging = 0
    waiting: list[str] = []
    for v in running:
        new, old = v.by_revision(revision_hash)
        if old is None:
            continue
        if new is None:
            if not available(old):
                surge_nodes.add(v.node)
            else:
                waiting.append(v.node)
        elif available(new):
            deletes.append(old)
        else:
            surging += 1
    for node in sorted(waiting)[: max(surge - surging, 0)]:
        surge_nodes.add(node)
    return deletes, surge_nodes


def compute_status(ds: Obj, views: list[NodePods], revision_hash: str, now: float) -> Obj:
    """desired/current/misscheduled/ready/available/updated, as updateDaemonSetStatus."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = mis = ready = available = updated = 0
    for v in views:
        live = sorted(_live(v.pods), key=creation_time)
        if v.run:
            desired += 1
        if not live:
            continue
        if not v.run:
            mis += 1
            continue
        current += 1
        first = live[0]
        if is_ready(first):
            ready += 1
            if is_available(first, min_ready, now):
                available += 1
        if any(labels_of(p).get(REVISION_HASH_LABEL) == revision_hash for p in live):
            updated += 1
    return {
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": current,
        "numberMisscheduled": mis,
        "numberReady": ready,
        "numberAvailable": available,
        "numberUnavailable": desired - available,
        "updatedNumberScheduled": updated,
        "observedGeneration": int(meta(ds).get("generation") or 0),
    }


def node_views(ds: Obj, nodes: list[Obj], pods: list[Obj]) -> tuple[list[NodePods], list[Obj]]:
    """Each node with its daemon pods, and the pods meant for no existing node."""
    pod_spec = daemon_pod_spec(ds)
    views: dict[str, NodePods] = {}
    for n in nodes:
        run, keep = should_run(pod_spec, n)
        views[name_of(n)] = NodePods(name_of(n), run, keep)
    stray: list[Obj] = []
    for p in pods:
        v = views.get(target_node(p))
        if v is None:
            stray.append(p)
        else:
            v.pods.append(p)
    return sorted(views.values(), key=lambda v: v.node), stray


def reconcile(
    ds: Obj,
    nodes: list[Obj],
    pods: list[Obj],
    revisions: list[Obj],
    now: float,
    *,
    expectations_satisfied: bool = True,
    burst: int = 500,
) -> A.Result:
    """One level-triggered step for DaemonSet ``ds`` given the nodes and every pod and
    ControllerRevision of its namespace."""
    res = A.Result()
    spec = ds.get("spec") or {}
    selector = spec.get("selector")
    ns = namespace_of(ds)

    def matches(labels: dict[str, str]) -> bool:
        return selector_matches(selector, labels)

    c = claim(ds, pods, "pods", matches)
    res.actions.extend(c.actions)
    owned_pods = [p for p in c.owned if phase(p) != "Succeeded"]
    rc = claim(ds, revisions, RESOURCE, matches)
    res.actions.extend(rc.actions)
    deleting = is_deleting(ds)
    hist = plan_history(ds, rc.owned)
    if not deleting:
        res.actions.extend(hist.actions)
    revision_hash = hist.hash or current_hash(ds)

    views, stray = node_views(ds, nodes, owned_pods)
    # Pods wait for the current revision to exist (as Kubernetes' constructHistory comes
    # first): its name may collide, and then the pods would carry the colliding hash. Its
    # arrival in the revision informer wakes the next pass.
    if expectations_satisfied and not deleting and hist.current is not None:
        _manage(res, ds, views, stray, revision_hash, now, burst)
    if not deleting:
        live = {labels_of(p).get(REVISION_HASH_LABEL, "") for p in _live(owned_pods)}
        res.actions.extend(prune_history(ds, hist.old, live | {revision_hash}))

    status = compute_status(ds, views, revision_hash, now)
    if status_differs(ds.get("status"), status):
        res.actions.append(
            A.patch("daemonsets", ns, name_of(ds), {"status": status}, subresource="status")
        )
    min_ready = int(spec.get("minReadySeconds") or 0)
    if min_ready > 0:
        for p in owned_pods:
            since = ready_since(p)
            if since is not None and since + min_ready > now:
                res.requeue(since + min_ready - now + 0.05)
    return res


def _manage(
    res: A.Result,
    ds: Obj,
    views: list[NodePods],
    stray: list[Obj],
    revision_hash: str,
    now: float,
    burst: int,
) -> None:
    """Create the missing pods, delete the misplaced, failed and surplus ones, and take
    one rolling-update step."""
    ns = namespace_of(ds)
    pod_spec = daemon_pod_spec(ds)
    create_on: list[str] = []
    deletes: list[Obj] = [p for p in stray if not is_deleting(p)]
    for v in views:
        live = sorted(_live(v.pods), key=creation_time)
        if v.run and not v.pods:
            # Only once a deleted pod is gone: its replacement may need the same host port.
            create_on.append(v.node)
        elif v.keep:
            # A failed pod is deleted; the next pass, once it is gone, creates anew.
            deletes.extend(p for p in live if phase(p) == "Failed")
            running = [p for p in live if phase(p) != "Failed"]
            if len(running) > 1:
                # One pod per node: keep the oldest of each revision while surging.
                new, old = v.by_revision(revision_hash)
                keep_ids = {id(p) for p in (new, old) if p is not None}
                surplus = [p for p in running if id(p) not in keep_ids]
                deletes.extend(surplus)
        else:
            deletes.extend(live)
    strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
    if strategy == "RollingUpdate":
        outdated, surge_nodes = rolling_deletes(ds, views, revision_hash, now)
        seen = {id(p) for p in deletes}
        deletes.extend(p for p in outdated if id(p) not in seen)
        create_on.extend(sorted(surge_nodes - set(create_on)))
    for node in create_on[:burst]:
        res.actions.append(A.create("pods", ns, new_daemon_pod(ds, pod_spec, node, revision_hash)))
    for p in deletes[:burst]:
        res.actions.append(A.delete("pods", ns, name_of(p)))


# --- the shell ------------------------------------------------------------------------------

from client import ApiError  # noqa: E402

from .base import apply_action  # noqa: E402
from .deployment.util import templates_equal  # noqa: E402
from .history import revision_template  # noqa: E402
from .objutil import key_of  # noqa: E402
from .replicaset import ReplicaSetController  # noqa: E402


class DaemonSetController(ReplicaSetController):
    """The ReplicaSet shell (pod events, expectations, slow-start creates) fed with nodes
    and ControllerRevisions as well."""

    name = "daemonset"
    kind = "DaemonSet"
    resource = "daemonsets"

    def setup(self) -> None:
        super().setup()
        self.nodes = self.ctx.index("nodes")
        self.revisions = self.ctx.index(RESOURCE)
        self.revisions.informer.add_handler(
            on_add=self._revision_changed,
            on_update=lambda o, n: self._revision_changed(n),
            on_delete=self._revision_changed,
        )
        self.nodes.informer.add_handler(
            on_add=lambda n: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda n: self._enqueue_all(),
        )

    def _revision_changed(self, rev: Obj) -> None:
        ref = controller_ref(rev)
        if ref is not None and ref.get("kind") == self.kind:
            self.enqueue(f"{namespace_of(rev)}/{ref.get('name')}")

    def _enqueue_all(self) -> None:
        for ds in self.owners.informer.list():
            self.enqueue(key_of(ds))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        # Heartbeats change only status: placement depends on labels and spec.
        if labels_of(old) != labels_of(new) or old.get("spec") != new.get("spec"):
            self._enqueue_all()

    def reconcile(self, owner: Obj, pods: list[Obj], now: float, satisfied: bool) -> A.Result:
        ns = namespace_of(owner)
        revisions = self.ctx.overlay.merged(RESOURCE, self.revisions.in_namespace(ns), ns)
        return reconcile(
            owner,
            self.nodes.in_namespace(None),
            pods,
            revisions,
            now,
            expectations_satisfied=satisfied,
            burst=self.ctx.options.burst_replicas,
        )

    async def apply_other(self, a: A.Action) -> None:
        """A revision create that meets an existing one of the same name: ours already
        (the informer is behind), or a hash collision, which bumps ``collisionCount`` so the
        next sync names the revision differently (as Kubernetes)."""
        try:
            await apply_action(self.ctx, a)
            return
        except ApiError as e:
            if not (e.code == 409 and a.verb == "create" and a.resource == RESOURCE):
                raise
        assert a.body is not None
        existing = await self.ctx.client.get(RESOURCE, a.name, a.namespace)
        owner_uid = a.body["metadata"]["ownerReferences"][0]["uid"]
        ours = any(
            r.get("uid") == owner_uid and r.get("controller")
            for r in meta(existing).get("ownerReferences") or []
        )
        if ours and templates_equal(revision_template(existing), revision_template(a.body)):
            self.ctx.overlay.remember(RESOURCE, existing)
            return
        owner_name = a.body["metadata"]["ownerReferences"][0]["name"]
        ds = self.owners.get(f"{a.namespace}/{owner_name}") or {}
        count = int((ds.get("status") or {}).get("collisionCount") or 0) + 1
        await self.ctx.client.patch(
            self.resource,
            owner_name,
            {"status": {"collisionCount": count}},
            a.namespace,
            subresource="status",
        )
