"""PriorityClass: validation and defaulting, the built-in classes, and the Priority
admission that resolves a pod's spec.priority / preemptionPolicy from its class."""

from __future__ import annotations

from typing import Any

import pytest

from api import defaults, validation
from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"
PODS = "/api/v1/namespaces/default/pods"


def pc(name: str, value: Any, **kw: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **kw,
    }


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def causes(obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    defaults.apply_defaults("PriorityClass", obj)
    return {c.field: c.message for c in validation.validate("PriorityClass", obj, old)}


def test_priority_class_validation_and_defaults() -> None:
    ok = pc("high", 1000)
    assert causes(ok) == {}
    assert ok["preemptionPolicy"] == "PreemptLowerPriority"
    assert (
        "maximum allowed value of a user defined priority is 1000000000"
        in (causes(pc("huge", 1_000_000_001))["value"])
    )
    assert "must be an integer" in causes(pc("text", "10"))["value"]
    unset = pc("zero", None)
    del unset["value"]
    assert causes(unset) == {} and unset["value"] == 0  # a Go int32: absent is 0
    assert "reserved" in causes(pc("system-mine", 5))["metadata.name"]
    assert causes(pc("system-node-critical", 2_000_001_000)) == {}
    assert (
        "Unsupported value" in causes(pc("x", 1, preemptionPolicy="Sometimes"))["preemptionPolicy"]
    )
    old = pc("high", 1000)
    defaults.apply_defaults("PriorityClass", old)
    assert "may not be changed" in causes(pc("high", 2000), old)["value"]
    assert causes(pc("high", 1000, description="changed"), old) == {}


async def test_builtin_classes_exist_and_cannot_be_deleted(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    code, body = await api.status_of("GET", f"{PCS}/system-cluster-critical")
    assert code == 200 and body["value"] == 2_000_000_000
    code, body = await api.status_of("GET", f"{PCS}/system-node-critical")
    assert code == 200 and body["value"] == 2_000_001_000
    code, body = await api.status_of("DELETE", f"{PCS}/system-node-critical")
    assert code == 403, body
    assert "cannot be deleted" in body["message"]


async def test_pod_priority_resolved_from_its_class(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(PCS, pc("batch-low", 10, preemptionPolicy="Never"))
    made = await api.create(PODS, pod("p1", priorityClassName="batch-low"))
    assert made["spec"]["priority"] == 10
    assert made["spec"]["preemptionPolicy"] == "Never"
    made = await api.create(PODS, pod("crit", priorityClassName="system-cluster-critical"))
    assert made["spec"]["priority"] == 2_000_000_000
    # No class and no default: 0, PreemptLowerPriority.
    made = await api.create(PODS, pod("plain"))
    assert made["spec"]["priority"] == 0
    assert made["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in made["spec"]


async def test_unknown_class_and_disagreeing_priority_refused(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    code, body = await api.status_of("POST", PODS, json=pod("p", priorityClassName="nope"))
    assert code == 403, body
    assert body["reason"] == "Forbidden"
    assert 'pods "p" is forbidden: no PriorityClass with name nope was found' in body["message"]
    code, body = await api.status_of("POST", PODS, json=pod("q", priority=7))
    assert code == 403, body
    assert "the integer value of priority (7) must not be provided in pod spec" in body["message"]
    code, _ = await api.status_of("GET", f"{PODS}/p")
    assert code == 404


async def test_global_default_applies_and_only_one_may_exist(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(PCS, pc("everyday", 100, globalDefault=True))
    made = await api.create(PODS, pod("d"))
    assert made["spec"]["priorityClassName"] == "everyday"
    assert made["spec"]["priority"] == 100
    code, body = await api.status_of("POST", PCS, json=pc("other", 5, globalDefault=True))
    assert code == 403, body
    assert "PriorityClass everyday is already marked as default" in body["message"]
    # Once the default is gone, pods get 0 again.
    code, _ = await api.status_of("DELETE", f"{PCS}/everyday")
    assert code == 200
    made = await api.create(PODS, pod("e"))
    assert made["spec"]["priority"] == 0


async def test_priority_class_table_columns(inprocess_api: InProcessApi) -> None:
    r = await inprocess_api.client.get(
        PCS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Value",
        "Global-Default",
        "Age",
        "PreemptionPolicy",
    ]
    rows = {row["cells"][0]: row["cells"] for row in table["rows"]}
    assert rows["system-node-critical"][1:3] == [2_000_001_000, False]
