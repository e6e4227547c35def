"""The Queue kind (scheduling.kubelab.io/v1) through the API, its table, and the
built-in best-effort PriorityClass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

QUEUES = "/apis/scheduling.kubelab.io/v1/queues"
PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"


def queue(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.kubelab.io/v1",
        "kind": "Queue",
        "metadata": {"name": name},
        "spec": spec,
    }


async def test_queue_created_listed_as_a_table(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    made = await api.create(
        QUEUES,
        queue(
            "alice",
            nominal={"nvidia.com/gpu": 4, "cpu": "16"},
            borrowingLimit={"nvidia.com/gpu": 2},
            reclaimGracePeriodSeconds=10,
        ),
    )
    assert made["spec"]["nominal"]["nvidia.com/gpu"] == 4
    code, table = await api.status_of(
        "GET", QUEUES, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    assert code == 200, table
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:7] == [
        "Name",
        "GPUs",
        "Borrowing-Limit",
        "In-Use",
        "Borrowed",
        "Pending",
        "Fair-Share",
    ]
    assert table["rows"][0]["cells"][:3] == ["alice", 4, 2]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({}, "spec.nominal", "Required"),
        ({"nominal": {"cpu": "4"}}, "spec.nominal[nvidia.com/gpu]", "GPUs"),
        ({"nominal": {"nvidia.com/gpu": "1.5"}}, "spec.nominal[nvidia.com/gpu]", "whole"),
        ({"nominal": {"nvidia.com/gpu": -1}}, "spec.nominal[nvidia.com/gpu]", "greater"),
        ({"nominal": {"nvidia.com/gpu": 1, "pods": 3}}, "spec.nominal[pods]", "Unsupported"),
        (
            {"nominal": {"nvidia.com/gpu": 1}, "reclaimGracePeriodSeconds": -5},
            "spec.reclaimGracePeriodSeconds",
            "greater",
        ),
    ],
)
async def test_bad_queue_refused_naming_the_field(
    inprocess_api: InProcessApi, spec: dict[str, Any], field: str, words: str
) -> None:
    code, body = await inprocess_api.status_of("POST", QUEUES, json=queue("bad", **spec))
    assert code == 422, body
    assert field in body["message"] and words in body["message"], body["message"]
    code, _ = await inprocess_api.status_of("GET", f"{QUEUES}/bad")
    assert code == 404


async def test_unknown_queue_field_refused(inprocess_api: InProcessApi) -> None:
    obj = queue("typo", nominal={"nvidia.com/gpu": 1}, nominalGPUs=3)
    code, body = await inprocess_api.status_of("POST", f"{QUEUES}?fieldValidation=Strict", json=obj)
    assert code == 400 and "nominalGPUs" in body["message"], body


async def test_best_effort_class_exists_and_never_preempts(inprocess_api: InProcessApi) -> None:
    code, body = await inprocess_api.status_of("GET", f"{PCS}/kubelab-best-effort")
    assert code == 200, body
    assert body["value"] < 0 and body["preemptionPolicy"] == "Never"
