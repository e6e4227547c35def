"""PodDisruptionBudget: validation, the disruption controller's status decision, and the
eviction subresource's 429 (in process), including two evictions racing for the last
allowed disruption."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from api import validation
from controllers.disruption import budget_status, owner_replicas, reconcile
from tests.inprocess import InProcessApi

PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
PODS = "/api/v1/namespaces/default/pods"
NOW = 1_700_000_000.0


def pdb(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def pod(name: str, ready: bool = True, rs: str = "", **meta: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"app": "web"}, **meta}
    if rs:
        m["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs,
                "uid": rs,
                "controller": True,
            }
        ]
    return {
        "metadata": m,
        "spec": {"nodeName": "n1"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def causes(obj: dict[str, Any]) -> dict[str, str]:
    return {c.field: c.message for c in validation.validate("PodDisruptionBudget", obj)}


def test_validation() -> None:
    assert causes(pdb(minAvailable=2)) == {}
    assert causes(pdb(maxUnavailable="25%")) == {}
    assert "cannot be both set" in causes(pdb(minAvailable=1, maxUnavailable=1))["spec"]
    assert "greater than 100%" in causes(pdb(minAvailable="150%"))["spec.minAvailable"]
    assert "greater than or equal to 0" in causes(pdb(maxUnavailable=-1))["spec.maxUnavailable"]
    bad = causes(pdb(minAvailable=1, unhealthyPodEvictionPolicy="Sometimes"))
    assert "Unsupported value" in bad["spec.unhealthyPodEvictionPolicy"]
    sel = pdb(minAvailable=1)
    sel["spec"]["selector"] = {"matchExpressions": [{"key": "a", "operator": "Near"}]}
    assert "spec.selector" in causes(sel)


def never(kind: str, uid: str) -> int | None:
    return None


def test_status_min_available_counts_ready_pods() -> None:
    pods = [pod("a"), pod("b"), pod("c", ready=False), pod("x", labels={"app": "other"})]
    status, recheck = budget_status(pdb(minAvailable=1), pods, never, NOW)
    assert (status["expectedPods"], status["currentHealthy"], status["desiredHealthy"]) == (3, 2, 1)
    assert status["disruptionsAllowed"] == 1 and status["observedGeneration"] == 1
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "True",
        "SufficientPods",
    )
    assert recheck is None
    status, _ = budget_status(pdb(minAvailable=3), pods, never, NOW)
    assert status["disruptionsAllowed"] == 0
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def test_status_max_unavailable_uses_the_replicasets_scale() -> None:
    # Two of three replicas exist: the missing one is already the one allowed disruption.
    pods = [pod("a", rs="rs1"), pod("b", rs="rs1")]
    status, _ = budget_status(pdb(maxUnavailable=1), pods, lambda k, u: 3, NOW)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        3,
        2,
        0,
    )
    status, _ = budget_status(pdb(minAvailable="50%"), pods, lambda k, u: 3, NOW)
    assert status["desiredHealthy"] == 2  # 50% of 3 rounded up


def test_max_unavailable_reads_a_statefulsets_scale() -> None:
    # A StatefulSet of 3 with web-2 gone: expectedPods is its scale, not the pods left.
    pods = [pod("web-0", rs="sts"), pod("web-1", rs="sts")]
    for p in pods:
        p["metadata"]["ownerReferences"][0]["kind"] = "StatefulSet"
    owners = [{"kind": "StatefulSet", "metadata": {"uid": "sts"}, "spec": {"replicas": 3}}]
    status, _ = budget_status(pdb(maxUnavailable=1), pods, owner_replicas(owners), NOW)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (3, 0)
    # The uid of another kind is not that controller's scale.
    wrong = [{"kind": "ReplicaSet", "metadata": {"uid": "sts"}, "spec": {"replicas": 3}}]
    status, _ = budget_status(pdb(maxUnavailable=1), pods, owner_replicas(wrong), NOW)
    assert status["expectedPods"] == 2


def test_disrupted_pods_are_not_healthy_until_gone_or_timed_out() -> None:
    budget = pdb(minAvailable=1)
    budget["status"] = {"disruptedPods": {"a": "2023-11-14T22:13:10Z"}}  # NOW - 10 s
    pods = [pod("a"), pod("b")]
    status, recheck = budget_status(budget, pods, never, NOW)
    assert status["disruptedPods"] == {"a": "2023-11-14T22:13:10Z"}
    assert status["currentHealthy"] == 1 and status["disruptionsAllowed"] == 0
    assert recheck == pytest.approx(110)
    # Seen going away: forgotten.
    deleting = pod("a", deletionTimestamp="2023-11-14T22:13:15Z")
    status, _ = budget_status(budget, [deleting, pod("b")], never, NOW)
    assert "disruptedPods" not in status
    # Never deleted within the timeout: counted again.
    status, _ = budget_status(budget, pods, never, NOW + 200)
    assert "disruptedPods" not in status and status["disruptionsAllowed"] == 1


def test_reconcile_writes_status_only_when_it_changes() -> None:
    budget = pdb(minAvailable=1)
    res = reconcile(budget, [pod("a"), pod("b")], never, NOW)
    (write,) = res.actions
    assert (write.verb, write.subresource) == ("replace", "status")
    assert write.body is not None
    settled = {**budget, "status": write.body["status"]}
    assert reconcile(settled, [pod("a"), pod("b")], never, NOW + 5).actions == []


# ---------------------------------------------------------------- eviction, in process


def eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def running_pod(api: InProcessApi, name: str, ready: bool = True) -> None:
    body = pod(name, ready)
    body["spec"] = {"containers": [{"name": "c", "image": "busybox"}]}
    status = body.pop("status")
    await api.create(PODS, {"apiVersion": "v1", "kind": "Pod", **body})
    code, cur = await api.status_of("GET", f"{PODS}/{name}")
    cur["status"] = status
    code, out = await api.status_of("PUT", f"{PODS}/{name}/status", json=cur)
    assert code == 200, out


async def budget_allowing(api: InProcessApi, allowed: int, healthy: int = 3) -> None:
    await api.create(PDBS, pdb(minAvailable=healthy - allowed))
    code, cur = await api.status_of("GET", f"{PDBS}/web")
    cur["status"] = {
        "observedGeneration": 1,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": healthy - allowed,
        "expectedPods": healthy,
    }
    code, out = await api.status_of("PUT", f"{PDBS}/web/status", json=cur)
    assert code == 200, out


@pytest.mark.anyio
async def test_eviction_refused_with_429_naming_the_budget(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await running_pod(api, "a")
    await budget_allowing(api, 0, healthy=1)
    code, body = await api.status_of("POST", f"{PODS}/a/eviction", json=eviction("a"))
    assert code == 429, body
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["name"] == "web"
    (cause,) = body["details"]["causes"]
    assert cause["reason"] == "DisruptionBudget"
    assert "The disruption budget web needs 1 healthy pods and has 1 currently" in cause["message"]
    code, still = await api.status_of("GET", f"{PODS}/a")
    assert code == 200 and not still["metadata"].get("deletionTimestamp")


@pytest.mark.anyio
async def test_two_racing_evictions_spend_one_disruption(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await running_pod(api, "a")
    await running_pod(api, "b")
    await budget_allowing(api, 1)
    codes: dict[str, int] = {}

    async def evict(name: str) -> None:
        codes[name], _ = await api.status_of("POST", f"{PODS}/{name}/eviction", json=eviction(name))

    async with anyio.create_task_group() as tg:
        tg.start_soon(evict, "a")
        tg.start_soon(evict, "b")
    assert sorted(codes.values()) == [201, 429], codes
    code, budget = await api.status_of("GET", f"{PDBS}/web")
    assert budget["status"]["disruptionsAllowed"] == 0
    evicted = next(n for n, c in codes.items() if c == 201)
    assert list(budget["status"]["disruptedPods"]) == [evicted]


@pytest.mark.anyio
async def test_unready_pod_evicted_while_the_budget_holds(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await running_pod(api, "sick", ready=False)
    await budget_allowing(api, 0, healthy=2)  # currentHealthy 2 >= desiredHealthy 2
    code, body = await api.status_of("POST", f"{PODS}/sick/eviction", json=eviction("sick"))
    assert code == 201, body
    code, budget = await api.status_of("GET", f"{PDBS}/web")
    assert budget["status"]["disruptionsAllowed"] == 0 and "disruptedPods" not in budget["status"]


@pytest.mark.anyio
async def test_pdb_table_columns(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await budget_allowing(api, 1)
    r = await api.client.get(
        PDBS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Min Available",
        "Max Unavailable",
        "Allowed Disruptions",
        "Age",
    ]
    assert table["rows"][0]["cells"][:4] == ["web", "2", "N/A", 1]
