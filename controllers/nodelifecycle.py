"""Node lifecycle controller: a node that stops heartbeating goes Unknown, tainted, evicted.

The heartbeat is the node's Lease (``kube-node-lease/<node>``) or its Ready condition's
lastHeartbeatTime; the shell records *when this controller saw it change* (its own clock,
immune to skew between lab boxes) and passes that in. ``reconcile`` is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.power import is_powered_down

from . import actions as A
from .objutil import Obj, format_time, get_condition, is_deleting, name_of, namespace_of, parse_time
from .podutil import node_name

UNREACHABLE = "node.kubernetes.io/unreachable"
NODE_STATUS_UNKNOWN = "NodeStatusUnknown"


@dataclass
class Timing:
    """Grace before a silent node is Unknown; default toleration before its pods go."""

    grace_period: float = 40.0
    eviction_timeout: float = 300.0


def _taints(node: Obj) -> list[Obj]:
    return list((node.get("spec") or {}).get("taints") or [])


def unreachable_taints(node: Obj) -> list[Obj]:
    return [t for t in _taints(node) if t.get("key") == UNREACHABLE]


def toleration_seconds(pod: Obj, default: float) -> float | None:
    """How long ``pod`` tolerates the unreachable:NoExecute taint (None: forever)."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        effect_ok = t.get("effect") in (None, "", "NoExecute")
        op = t.get("operator") or "Equal"
        key_ok = (op == "Exists" and not t.get("key")) or t.get("key") == UNREACHABLE
        if effect_ok and key_ok:
            secs = t.get("tolerationSeconds")
            return None if secs is None else max(float(secs), 0.0)
    return default


def _set_ready(node: Obj, status: str, reason: str, message: str, now: float) -> Obj:
    conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    t = format_time(now)
    found = False
    for c in conds:
        if c.get("type") == "Ready":
            found = True
            if c.get("status") != status:
                c["lastTransitionTime"] = t
            c.update({"status": status, "reason": reason, "message": message})
    if not found:
        conds.append(
            {
                "type": "Ready",
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": t,
                "lastTransitionTime": t,
            }
        )
    return {"status": {"conditions": conds}}


def reconcile(
    node: Obj, last_heartbeat: float, pods: list[Obj], now: float, timing: Timing
) -> A.Result:
    """One look at ``node``: mark it Unknown and taint it, evict, or bring it back."""
    res = A.Result()
    if is_powered_down(node):
        # Powered off (or booting) by the autoscaler: its silence is no failure, and it
        # has no pods to evict (docs/autoscaler.md). Its heartbeats count again once it wakes.
        return res
    name = name_of(node)
    ready = get_condition(node, "Ready") or {}
    silent = now - last_heartbeat > timing.grace_period
    taints = _taints(node)
    ours = unreachable_taints(node)

    if not silent:
        if ours:
            keep = [t for t in taints if t.get("key") != UNREACHABLE]
            res.actions.append(A.patch("nodes", None, name, {"spec": {"taints": keep or None}}))
        if ready.get("reason") == NODE_STATUS_UNKNOWN:
            # The kubelet is back but may only post status when its own view changes.
            res.actions.append(
                A.patch(
                    "nodes",
                    None,
                    name,
                    _set_ready(
                        node, "True", "KubeletReady", "kubelet is posting ready status", now
                    ),
                    subresource="status",
                )
            )
        res.requeue(last_heartbeat + timing.grace_period - now + 0.05)
        return res

    if ready.get("status") != "Unknown":
        res.actions.append(
            A.patch(
                "nodes",
                None,
                name,
                _set_ready(
                    node,
                    "Unknown",
                    NODE_STATUS_UNKNOWN,
                    "Kubelet stopped posting node status.",
                    now,
                ),
                subresource="status",
            )
        )
        res.actions.append(
            A.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        )
        # Its pods are not serving: take them out of Endpoints right away.
        for p in pods:
            if node_name(p) == name and not is_deleting(p):
                pc = get_condition(p, "Ready")
                if pc and pc.get("status") == "True":
                    res.actions.append(
                        A.patch(
                            "pods",
                            namespace_of(p),
                            name_of(p),
                            {"status": {"conditions": _pod_not_ready(p, now)}},
                            subresource="status",
                        )
                    )
    if not ours:
        added = format_time(now)
        new = [t for t in taints if t.get("key") != UNREACHABLE] + [
            {"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": added},
            {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": added},
        ]
        res.actions.append(A.patch("nodes", None, name, {"spec": {"taints": new}}))
        tainted_at = now
    else:
        tainted_at = min((parse_time(t.get("timeAdded")) or now) for t in ours)

    for p in pods:
        if node_name(p) != name or is_deleting(p):
            continue
        secs = toleration_seconds(p, timing.eviction_timeout)
        if secs is None:
            continue
        if now >= tainted_at + secs:
            res.actions.append(A.delete("pods", namespace_of(p), name_of(p)))
            res.actions.append(
                A.event(
                    p,
                    "Normal",
                    "TaintManagerEviction",
                    f"Marking for deletion Pod {namespace_of(p)}/{name_of(p)}",
                )
            )
        else:
            res.requeue(tainted_at + secs - now + 0.05)
    return res


def _pod_not_ready(pod: Obj, now: float) -> list[Obj]:
    conds = [dict(c) for c in (pod.get("status") or {}).get("conditions") or []]
    for c in conds:
        if c.get("type") in ("Ready", "ContainersReady") and c.get("status") == "True":
            c["status"] = "False"
            c["reason"] = "NodeNotReady"
            c["lastTransitionTime"] = format_time(now)
    return conds


# --- the shell ---------------------------------------------------------------------------

from .base import Controller, apply_all  # noqa: E402
from .podutil import is_active  # noqa: E402

NODE_LEASE_NAMESPACE = "kube-node-lease"


class NodeLifecycleController(Controller):
    """Watches node Leases and Ready heartbeats; looks at every node each monitor period."""

    name = "nodelifecycle"

    def setup(self) -> None:
        self.nodes = self.ctx.index("nodes")
        self.leases = self.ctx.index("leases")
        self.pods = self.ctx.index("pods")
        # node name -> (what we last saw, when we saw it change, by our clock)
        self.heartbeats: dict[str, tuple[tuple[str, str], float]] = {}
        self.nodes.informer.add_handler(
            on_add=self._node_seen,
            on_update=lambda o, n: self._node_seen(n),
            on_delete=lambda o: self.heartbeats.pop(name_of(o), None),
        )
        self.leases.informer.add_handler(
            on_add=self._lease_seen, on_update=lambda o, n: self._lease_seen(n)
        )

    def _beat(self, node: str, part: int, value: str) -> None:
        seen, at = self.heartbeats.get(node, (("", ""), 0.0))
        new = (value, seen[1]) if part == 0 else (seen[0], value)
        if new != seen or node not in self.heartbeats:
            # First sight counts as a heartbeat: a restarted controller gives every node
            # a full grace period instead of declaring them all dead at once.
            self.heartbeats[node] = (new, self.ctx.clock())
            self.enqueue(node)

    def _lease_seen(self, lease: Obj) -> None:
        if namespace_of(lease) == NODE_LEASE_NAMESPACE:
            self._beat(name_of(lease), 0, str((lease.get("spec") or {}).get("renewTime") or ""))

    def _node_seen(self, node: Obj) -> None:
        ready = get_condition(node, "Ready") or {}
        self._beat(name_of(node), 1, str(ready.get("lastHeartbeatTime") or ""))
        self.enqueue(name_of(node))

    async def sync(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None:
            return None
        now = self.ctx.clock()
        if key not in self.heartbeats:
            self.heartbeats[key] = (("", ""), now)
        last = self.heartbeats[key][1]
        timing = Timing(
            self.ctx.options.node_monitor_grace_period, self.ctx.options.pod_eviction_timeout
        )
        silent = now - last > timing.grace_period
        pods = (
            [p for p in self.pods.informer.list() if node_name(p) == key and is_active(p)]
            if silent
            else []
        )
        res = reconcile(node, last, pods, now, timing)
        await apply_all(self.ctx, res.actions)
        period = self.ctx.options.node_monitor_period
        return min(res.requeue_after if res.requeue_after is not None else period, period)
