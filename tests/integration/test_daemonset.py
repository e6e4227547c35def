"""DaemonSets against a real apiserver, scheduler, controller manager and hollow fake-runtime
nodes: one pod per matching node, taints, a node joining, a rolling image update within
maxUnavailable, and ``kl rollout status/undo``."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.defaults import apply_defaults
from controllers.history import REVISION_HASH_LABEL, current_hash
from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.integration.ctrl_cluster import is_ready
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)

NODES = ["hn-0", "hn-1", "hn-2", "hn-3"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("ds") / "home") as c:
        c.add_scheduler()
        c.add_controllers(*FAST_CONTROLLER_FLAGS)
        c.add_kubelet("hn", hollow=len(NODES))
        c.wait_nodes_ready(*NODES, timeout=60)
        yield c


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-").lower()[:50].strip("-")
    cluster.client.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def daemonset(name: str, image: str = "agent:1", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": image}]},
            },
        },
    }
    body["spec"].update(spec)
    return body


def pods_by_node(c: Any, ns: str, app: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in c.list("pods", ns, label_selector=f"app={app}")["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"].get("nodeName") or "", []).append(p)
    return out


def ready_on(c: Any, ns: str, app: str, nodes: list[str]) -> bool:
    by_node = pods_by_node(c, ns, app)
    return sorted(by_node) == sorted(nodes) and all(
        len(ps) == 1 and is_ready(ps[0]) for ps in by_node.values()
    )


def test_one_pod_per_node_and_tainted_nodes_only_when_tolerated(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.patch(
        "nodes",
        "hn-3",
        {"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}},
    )
    try:
        c.create("daemonsets", daemonset("plain"), ns)
        wait_for(lambda: ready_on(c, ns, "plain", NODES[:3]), "a pod on each untainted node")
        ds = wait_for(
            lambda: (
                (d := c.get("daemonsets", "plain", ns)).get("status", {}).get("numberReady") == 3
                and d
            ),
            "status numberReady 3",
        )
        st = ds["status"]
        assert st["desiredNumberScheduled"] == 3 and st["currentNumberScheduled"] == 3
        assert st["updatedNumberScheduled"] == 3 and st["numberMisscheduled"] == 0
        pod = pods_by_node(c, ns, "plain")["hn-1"][0]
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert terms[0]["matchFields"][0]["values"] == ["hn-1"]
        tol = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
        tmpl = copy.deepcopy(daemonset("tolerant")["spec"]["template"])
        tmpl["spec"]["tolerations"] = tol
        c.create("daemonsets", daemonset("tolerant", template=tmpl), ns)
        wait_for(lambda: ready_on(c, ns, "tolerant", NODES), "a pod on every node, tainted too")
    finally:
        c.patch("nodes", "hn-3", {"spec": {"taints": None}})


def test_a_new_node_gets_its_pod(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("daemonsets", daemonset("follow"), ns)
    wait_for(lambda: ready_on(c, ns, "follow", NODES), "a pod on each node")
    cluster.add_kubelet("late")
    try:
        cluster.wait_nodes_ready("late", timeout=60)
        wait_for(lambda: ready_on(c, ns, "follow", [*NODES, "late"]), "a pod on the new node")
    finally:
        cluster.kill("kubelet/late")
        c.delete("nodes", "late")
    wait_for(lambda: ready_on(c, ns, "follow", NODES), "the removed node's pod gone")


def test_rolling_update_within_max_unavailable_then_rollout_undo(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    kubeconfig: Path = cluster.api.kubeconfig
    c.create("daemonsets", daemonset("roll"), ns)
    wait_for(lambda: ready_on(c, ns, "roll", NODES), "a pod on each node")
    out = kl(kubeconfig, "rollout", "status", "ds/roll", "-n", ns, "--timeout=60").ok().out
    assert 'daemon set "roll" successfully rolled out' in out
    listed = c.list("pods", ns, label_selector="app=roll")
    pods = {p["metadata"]["name"]: p for p in listed["items"]}
    c.patch(
        "daemonsets",
        "roll",
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}},
        ns,
        patch_type="strategic",
    )
    # Every change to the pods, in order (a poll would miss a moment with several down).
    fewest_ready = len(NODES)
    for ev in cluster.api.client().watch(
        "pods",
        ns,
        resource_version=listed["metadata"]["resourceVersion"],
        label_selector="app=roll",
        timeout_seconds=60,
    ):
        obj = ev.get("object") or {}
        if ev.get("type") == "DELETED":
            pods.pop(obj["metadata"]["name"], None)
        elif ev.get("type") in ("ADDED", "MODIFIED"):
            pods[obj["metadata"]["name"]] = obj
        else:
            continue
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in live if is_ready(p)]
        fewest_ready = min(fewest_ready, len(ready))
        images = {p["spec"]["containers"][0]["image"] for p in ready}
        if len(ready) == len(live) == len(NODES) and images == {"agent:2"}:
            break
    else:
        pytest.fail(f"the rollout did not finish: {sorted(pods)}")
    # maxUnavailable 1 (the default): never more than one node without a ready pod.
    assert fewest_ready == len(NODES) - 1
    out = kl(kubeconfig, "rollout", "status", "daemonset/roll", "-n", ns, "--timeout=60").ok().out
    assert 'daemon set "roll" successfully rolled out' in out
    revs = c.list("controllerrevisions", ns)["items"]
    assert sorted(r["revision"] for r in revs) == [1, 2]
    page = kl(kubeconfig, "describe", "ds", "roll", "-n", ns).ok().out
    lines = {ln.split(":")[0]: ln.split(":", 1)[1].strip() for ln in page.splitlines() if ":" in ln}
    assert lines["Desired Number of Nodes Scheduled"] == "4"
    assert lines["Number of Nodes Scheduled with Up-to-date Pods"] == "4"
    assert lines["Pods Status"].startswith("4 Running")
    hist = kl(kubeconfig, "rollout", "history", "ds/roll", "-n", ns).ok().out
    assert "REVISION" in hist and "2" in hist

    out = kl(kubeconfig, "rollout", "undo", "ds/roll", "-n", ns).ok().out
    assert out.strip() == "daemonset.apps/roll rolled back"
    ds = c.get("daemonsets", "roll", ns)
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:1"

    def back() -> bool:
        imgs = {
            p["spec"]["containers"][0]["image"]
            for ps in pods_by_node(c, ns, "roll").values()
            for p in ps
        }
        return ready_on(c, ns, "roll", NODES) and imgs == {"agent:1"}

    wait_for(back, "every pod back on agent:1")
    # The old template's revision is renumbered, not copied.
    revs = {
        r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]: r["revision"]
        for r in c.list("controllerrevisions", ns)["items"]
    }
    assert revs == {"agent:1": 3, "agent:2": 2}
    again = kl(kubeconfig, "rollout", "undo", "ds/roll", "-n", ns, "--to-revision=3").ok().out
    assert "skipped rollback (current template already matches revision 3)" in again


def test_a_revision_name_taken_by_another_template_bumps_collision_count(
    cluster: Cluster, ns: str
) -> None:
    c = cluster.client
    ds = daemonset("clash")
    defaulted = copy.deepcopy(ds)
    apply_defaults("DaemonSet", defaulted)
    taken = f"clash-{current_hash(defaulted)}"
    c.create(
        "controllerrevisions",
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": taken},
            "data": {"spec": {"template": {"metadata": {"labels": {"other": "x"}}}}},
            "revision": 1,
        },
        ns,
    )
    c.create("daemonsets", ds, ns)
    wait_for(lambda: ready_on(c, ns, "clash", NODES), "a pod on each node despite the clash")
    got = c.get("daemonsets", "clash", ns)
    assert got["status"]["collisionCount"] == 1
    names = {r["metadata"]["name"] for r in c.list("controllerrevisions", ns)["items"]}
    assert taken in names and len(names) == 2
    hashes = {
        p["metadata"]["labels"][REVISION_HASH_LABEL]
        for ps in pods_by_node(c, ns, "clash").values()
        for p in ps
    }
    assert hashes == {current_hash(got)} and f"clash-{current_hash(got)}" in names
