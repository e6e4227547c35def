"""The GPUS cell of a node: one summary, the same in ``kl get nodes -o wide`` and in the
apiserver's Table (which kubectl prints), and a dead node's STATUS as kubectl prints it."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.tables.pods import node_gpus as table_gpus
from apiserver.tables.pods import node_status as table_status
from kubectl.printers.columns import node_gpus as kl_gpus
from kubectl.printers.columns import node_status as kl_status


def node(
    gpus: list[dict[str, Any]] | None = None,
    capacity: str | None = None,
    product: str | None = None,
    ready: str | None = "True",
) -> dict[str, Any]:
    status: dict[str, Any] = {"gpus": gpus or []}
    if capacity is not None:
        status["capacity"] = {"nvidia.com/gpu": capacity}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    labels = {"nvidia.com/gpu.product": product} if product else {}
    return {"metadata": {"name": "n", "labels": labels}, "status": status}


def gpu(i: int, model: str | None = "NVIDIA H100 80GB HBM3", health: str = "Healthy") -> Any:
    g: dict[str, Any] = {"index": i, "uuid": f"GPU-{i}", "health": health}
    if model:
        g["model"] = model
    return g


@pytest.mark.parametrize(
    ("n", "cell"),
    [
        (node([gpu(0), gpu(1)]), "2xNVIDIA-H100-80GB-HBM3"),
        (node([gpu(0, None), gpu(1, None)], product="H100-80GB"), "2xH100-80GB"),
        (node([gpu(0), gpu(1, "NVIDIA A100")]), "1xNVIDIA-H100-80GB-HBM3,1xNVIDIA-A100"),
        (node([gpu(0), gpu(1, health="Unhealthy")]), "2xNVIDIA-H100-80GB-HBM3 (1 unhealthy)"),
        (node(capacity="4", product="H100-80GB"), "4xH100-80GB"),
        (node(capacity="4"), "4"),
        (node(capacity="0"), "<none>"),
        (node(), "<none>"),
    ],
)
def test_kl_and_the_server_table_print_the_same_gpus_cell(n: dict[str, Any], cell: str) -> None:
    assert kl_gpus(n) == table_gpus(n) == cell


@pytest.mark.parametrize(
    ("ready", "status"),
    [("True", "Ready"), ("False", "NotReady"), ("Unknown", "NotReady"), (None, "Unknown")],
)
def test_node_status_as_kubectl_prints_it(ready: str | None, status: str) -> None:
    n = node(ready=ready)
    assert kl_status(n) == table_status(n) == status
    n["spec"] = {"unschedulable": True}
    assert kl_status(n) == table_status(n) == f"{status},SchedulingDisabled"
