"""Node IPAM in a real controller manager (controllers/nodeipam.py): Nodes made through the
API get one /24 each of --cluster-cidr, never the same one; a deleted node's subnet goes to
the next node; a restarted manager keeps every allocation; a full range is said with a
CIDRNotAvailable event on the node that got none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import Cluster
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)

# Two /24s only, so that the full range is quick to reach.
CIDR = "10.66.0.0/23"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers("--controllers", "nodeipam", "--no-leader-elect", "--cluster-cidr", CIDR)
        yield cl


def _node(cl: Cluster, name: str) -> None:
    cl.client.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


def _cidr(cl: Cluster, name: str) -> str:
    def got() -> str | None:
        return (cl.client.get("nodes", name).get("spec") or {}).get("podCIDR") or None

    return str(wait_for(got, f"{name}'s podCIDR", 20, diagnostics=cl.logs))


def _events(cl: Cluster, name: str) -> list[dict[str, Any]]:
    items = cl.client.list("events", "default", field_selector=f"involvedObject.name={name}")
    return list(items["items"])


def test_allocate_release_restart_and_full(cluster: Cluster) -> None:
    _node(cluster, "a")
    _node(cluster, "b")
    a, b = _cidr(cluster, "a"), _cidr(cluster, "b")
    assert {a, b} == {"10.66.0.0/24", "10.66.1.0/24"}
    assert cluster.client.get("nodes", "a")["spec"]["podCIDRs"] == [a]
    # The apiserver keeps it: a podCIDR is set once.
    with pytest.raises(ApiError) as e:
        cluster.client.patch("nodes", "a", {"spec": {"podCIDR": b, "podCIDRs": [b]}})
    assert e.value.code == 422 and "spec.podCIDR" in str(e.value)

    # The range is full: the third node gets none, and an event says why.
    _node(cluster, "c")
    wait_for(
        lambda: any(ev["reason"] == "CIDRNotAvailable" for ev in _events(cluster, "c")),
        "CIDRNotAvailable on c",
        20,
        diagnostics=cluster.logs,
    )
    assert not (cluster.client.get("nodes", "c").get("spec") or {}).get("podCIDR")

    # A deleted node's subnet goes to the node waiting for one.
    cluster.client.delete("nodes", "a")
    assert _cidr(cluster, "c") == a

    # A restarted manager reads the allocations back from the nodes: no duplicate.
    cluster.kill("controllers")
    cluster.client.delete("nodes", "b")
    _node(cluster, "d")
    cluster.start("controllers", new_log=True)
    assert _cidr(cluster, "d") == b
    assert _cidr(cluster, "c") == a
