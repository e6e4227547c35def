"""DaemonSet reconcile: one pod per fitting node, taints and tolerations, stray and
surplus pods, rolling updates within maxUnavailable / maxSurge, revisions, status."""

from __future__ import annotations

import copy
from typing import Any

from controllers import daemonset
from controllers.history import REVISION_HASH_LABEL
from controllers.objutil import format_time
from tests.unit.ctrl_world import World

NOW = 1_700_000_000.0
Obj = dict[str, Any]


def ds_obj(image: str = "agent:1", **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": image}]},
            },
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
    }
    body["spec"].update(spec)
    return body


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def one_pass(w: World, ds_name: str = "agent") -> Any:
    ds = w.get("daemonsets", "default", ds_name)
    assert ds is not None
    res = daemonset.reconcile(
        ds,
        w.list("nodes"),
        w.list("pods", "default"),
        w.list("controllerrevisions", "default"),
        w.now,
    )
    w.apply(res.actions)
    return res


def step(w: World, ds_name: str = "agent") -> Any:
    """One pass, and the pass that the new revision's arrival wakes (as the shell's
    revision informer does): pods wait for their revision to exist."""
    res = one_pass(w, ds_name)
    if res.of("create", "controllerrevisions"):
        again = one_pass(w, ds_name)
        assert not again.of("create", "controllerrevisions")
        res.actions.extend(again.actions)
        if again.requeue_after is not None:
            res.requeue(again.requeue_after)
    return res


def test_no_pod_is_made_before_its_revision_exists() -> None:
    w = World(NOW)
    w.add("nodes", node("n1"))
    w.add("daemonsets", ds_obj())
    res = one_pass(w)
    assert len(res.of("create", "controllerrevisions")) == 1
    assert not res.of("create", "pods")
    res = one_pass(w)
    (made,) = res.of("create", "pods")
    (rev,) = w.list("controllerrevisions", "default")
    assert made.body is not None
    assert (
        made.body["metadata"]["labels"][REVISION_HASH_LABEL]
        == rev["metadata"]["labels"][REVISION_HASH_LABEL]
    )


def bind_and_ready(w: World) -> None:
    """What the scheduler and the kubelets do: bind each pod to its target, make it Ready."""
    for (r, _, _), p in list(w.objects.items()):
        if r != "pods" or p.get("status", {}).get("phase") == "Running":
            continue
        p["spec"]["nodeName"] = daemonset.target_node(p)
        p["status"] = {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": format_time(w.now)}
            ],
        }


def pods_by_node(w: World) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for p in w.list("pods", "default"):
        out.setdefault(daemonset.target_node(p), []).append(p)
    return out


def test_one_pod_per_node_pinned_by_affinity_on_the_node_name() -> None:
    w = World(NOW)
    for n in ("n1", "n2", "n3"):
        w.add("nodes", node(n))
    w.add("daemonsets", ds_obj())
    res = step(w)
    creates = res.of("create", "pods")
    assert len(creates) == 3
    by_node = pods_by_node(w)
    assert sorted(by_node) == ["n1", "n2", "n3"]
    pod = by_node["n2"][0]
    assert "nodeName" not in pod["spec"]  # the scheduler binds it
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    ]
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in keys
    assert REVISION_HASH_LABEL in pod["metadata"]["labels"]
    assert len(w.list("controllerrevisions", "default")) == 1
    # Nothing more to do once the pods exist.
    bind_and_ready(w)
    again = step(w)
    assert not again.of("create", "pods") and not again.of("delete", "pods")
    st = w.get("daemonsets", "default", "agent")["status"]  # type: ignore[index]
    assert st["desiredNumberScheduled"] == 3 and st["currentNumberScheduled"] == 3
    assert st["numberReady"] == 3 and st["numberAvailable"] == 3
    assert st["updatedNumberScheduled"] == 3 and st["numberMisscheduled"] == 0


def test_node_selector_affinity_and_taints_decide_the_nodes() -> None:
    w = World(NOW)
    w.add("nodes", node("gpu", {"gpu": "yes"}))
    w.add("nodes", node("cpu", {"gpu": "no"}))
    w.add(
        "nodes",
        node(
            "tainted", {"gpu": "yes"}, [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
        ),
    )
    tmpl = ds_obj()["spec"]["template"]
    tmpl["spec"]["nodeSelector"] = {"gpu": "yes"}
    w.add("daemonsets", ds_obj(template=tmpl))
    step(w)
    assert sorted(pods_by_node(w)) == ["gpu"]
    # A toleration of the taint lets it in.
    ds = w.get("daemonsets", "default", "agent")
    assert ds is not None
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    bind_and_ready(w)
    step(w)  # the template changed: one old pod may go (maxUnavailable 1)
    for _ in range(4):
        bind_and_ready(w)
        step(w)
    assert sorted(pods_by_node(w)) == ["gpu", "tainted"]


def test_cordoned_and_pressured_nodes_still_get_daemon_pods_but_noexecute_taints_evict() -> None:
    w = World(NOW)
    cordoned = node("c")
    cordoned["spec"]["unschedulable"] = True
    w.add("nodes", cordoned)
    w.add(
        "nodes",
        node("p", taints=[{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}]),
    )
    w.add("nodes", node("x"))
    w.add("daemonsets", ds_obj())
    step(w)
    bind_and_ready(w)
    assert sorted(pods_by_node(w)) == ["c", "p", "x"]
    # A NoSchedule taint the pod does not tolerate keeps the running pod; NoExecute evicts it.
    x = w.get("nodes", None, "x")
    assert x is not None
    x["spec"]["taints"] = [{"key": "maint", "effect": "NoSchedule"}]
    res = step(w)
    assert not res.of("delete", "pods")
    x["spec"]["taints"] = [{"key": "maint", "effect": "NoExecute"}]
    evicted = pods_by_node(w)["x"][0]["metadata"]["name"]
    res = step(w)
    assert [a.name for a in res.of("delete", "pods")] == [evicted]
    st = w.get("daemonsets", "default", "agent")["status"]  # type: ignore[index]
    assert st["desiredNumberScheduled"] == 2


def test_host_network_pods_tolerate_network_unavailable() -> None:
    tmpl = ds_obj()["spec"]["template"]
    tmpl["spec"]["hostNetwork"] = True
    spec = daemonset.daemon_pod_spec(ds_obj(template=tmpl))
    keys = {(t["key"], t["effect"]) for t in spec["tolerations"]}
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys


def test_a_new_node_gets_a_pod_and_a_removed_node_s_pending_pod_goes() -> None:
    w = World(NOW)
    w.add("nodes", node("n1"))
    w.add("daemonsets", ds_obj())
    step(w)
    w.add("nodes", node("n2"))
    res = step(w)
    assert len(res.of("create", "pods")) == 1
    assert sorted(pods_by_node(w)) == ["n1", "n2"]
    del w.objects[("nodes", None, "n2")]
    res = step(w)
    assert len(res.of("delete", "pods")) == 1
    assert sorted(pods_by_node(w)) == ["n1"]


def test_surplus_and_failed_pods_are_deleted() -> None:
    w = World(NOW)
    w.add("nodes", node("n1"))
    w.add("daemonsets", ds_obj())
    step(w)
    bind_and_ready(w)
    extra = copy.deepcopy(w.list("pods", "default")[0])
    extra["metadata"]["name"] = "agent-extra"
    del extra["metadata"]["creationTimestamp"], extra["metadata"]["uid"]
    w.now += 5
    w.add("pods", extra)
    res = step(w)
    assert [a.name for a in res.of("delete", "pods")] == ["agent-extra"]
    pod = w.list("pods", "default")[0]
    w.objects[("pods", "default", pod["metadata"]["name"])]["status"] = {"phase": "Failed"}
    res = step(w)
    assert len(res.of("delete", "pods")) == 1 and not res.of("create", "pods")
    res = step(w)  # once the failed pod is gone, a new one
    assert len(res.of("create", "pods")) == 1


def _roll(w: World, image: str) -> list[int]:
    """Change the image and drive the rollout to the end; the most pods down at once per pass."""
    ds = w.get("daemonsets", "default", "agent")
    assert ds is not None
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
    ds["metadata"]["generation"] += 1
    down: list[int] = []
    for _ in range(30):
        res = step(w)
        ready = sum(
            1 for p in w.list("pods", "default") if p.get("status", {}).get("phase") == "Running"
        )
        down.append(len(w.list("nodes")) - ready)
        bind_and_ready(w)
        if not res.actions:
            break
    return down


def test_rolling_update_replaces_at_most_max_unavailable_at_a_time() -> None:
    w = World(NOW)
    for i in range(4):
        w.add("nodes", node(f"n{i}"))
    w.add("daemonsets", ds_obj())
    step(w)
    bind_and_ready(w)
    step(w)
    down = _roll(w, "agent:2")
    assert max(down) == 1 and sum(down) >= 4
    images = {p["spec"]["containers"][0]["image"] for p in w.list("pods", "default")}
    assert images == {"agent:2"} and len(w.list("pods", "default")) == 4
    revs = w.list("controllerrevisions", "default")
    assert sorted(r["revision"] for r in revs) == [1, 2]
    st = w.get("daemonsets", "default", "agent")["status"]  # type: ignore[index]
    assert st["updatedNumberScheduled"] == 4 and st["observedGeneration"] == 2


def test_max_unavailable_two_replaces_two_at_a_time() -> None:
    w = World(NOW)
    for i in range(4):
        w.add("nodes", node(f"n{i}"))
    w.add(
        "daemonsets",
        ds_obj(
            updateStrategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 2, "maxSurge": 0},
            }
        ),
    )
    step(w)
    bind_and_ready(w)
    step(w)
    assert max(_roll(w, "agent:2")) == 2


def test_max_surge_starts_the_new_pod_before_the_old_one_goes() -> None:
    w = World(NOW)
    for i in range(2):
        w.add("nodes", node(f"n{i}"))
    w.add(
        "daemonsets",
        ds_obj(
            updateStrategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            }
        ),
    )
    step(w)
    bind_and_ready(w)
    step(w)
    down = _roll(w, "agent:2")
    assert max(down) == 0  # never fewer running pods than nodes
    images = sorted(p["spec"]["containers"][0]["image"] for p in w.list("pods", "default"))
    assert images == ["agent:2", "agent:2"]


def test_on_delete_strategy_leaves_old_pods_alone() -> None:
    w = World(NOW)
    w.add("nodes", node("n1"))
    w.add("daemonsets", ds_obj(updateStrategy={"type": "OnDelete"}))
    step(w)
    bind_and_ready(w)
    ds = w.get("daemonsets", "default", "agent")
    assert ds is not None
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    res = step(w)
    assert not res.of("delete", "pods")
    assert w.get("daemonsets", "default", "agent")["status"]["updatedNumberScheduled"] == 0  # type: ignore[index]


def test_rollback_renumbers_the_old_revision_and_history_is_pruned() -> None:
    w = World(NOW)
    w.add("nodes", node("n1"))
    w.add("daemonsets", ds_obj(revisionHistoryLimit=1))
    step(w)
    bind_and_ready(w)
    _roll(w, "agent:2")
    _roll(w, "agent:1")  # back to the first template: its revision becomes 3, no copy
    revs = {
        r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]: r["revision"]
        for r in w.list("controllerrevisions", "default")
    }
    assert revs == {"agent:1": 3, "agent:2": 2}
    _roll(w, "agent:3")
    _roll(w, "agent:4")
    images = sorted(
        r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]
        for r in w.list("controllerrevisions", "default")
    )
    assert images == ["agent:3", "agent:4"]  # the current one and one old (limit 1)
