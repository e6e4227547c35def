"""Bindings to a shared GPU (in process): pods asking for part of a GPU by memory may be
bound to a device other sharers hold; a pod wanting whole GPUs is refused one that is
shared, and a sharer one that a pod holds whole (409, decided one binding at a time)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

PODS = "/api/v1/namespaces/default/pods"
GPU = "GPU-0000aaaa-0000-0000-0000-000000000000"


def gpu_pod(name: str, limits: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": {"limits": limits}}]
        },
    }


def binding(name: str, uuid: str = GPU) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "annotations": {"kubelab.io/gpu-uuids": uuid}},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-box"},
    }


async def bind(api: InProcessApi, name: str) -> tuple[int, dict[str, Any]]:
    return await api.status_of("POST", f"{PODS}/{name}/binding", json=binding(name))


async def test_sharers_share_and_whole_gpu_pods_do_not(inprocess_api: InProcessApi) -> None:
    for name in ("s1", "s2"):
        await inprocess_api.create(PODS, gpu_pod(name, {"kubelab.io/gpu-memory": "10Gi"}))
    await inprocess_api.create(PODS, gpu_pod("whole", {"nvidia.com/gpu": "1"}))
    assert (await bind(inprocess_api, "s1"))[0] == 201
    assert (await bind(inprocess_api, "s2"))[0] == 201
    code, status = await bind(inprocess_api, "whole")
    assert code == 409
    assert "is shared by pod default/s1, default/s2" in status["message"]


async def test_a_sharer_is_refused_a_gpu_held_whole(inprocess_api: InProcessApi) -> None:
    await inprocess_api.create(PODS, gpu_pod("whole", {"nvidia.com/gpu": "1"}))
    await inprocess_api.create(PODS, gpu_pod("s1", {"kubelab.io/gpu-memory": "10Gi"}))
    assert (await bind(inprocess_api, "whole"))[0] == 201
    code, status = await bind(inprocess_api, "s1")
    assert code == 409 and "already held by pod default/whole" in status["message"]
