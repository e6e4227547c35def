"""Node IPAM decisions (controllers/nodeipam.py): one /24 per node out of the cluster CIDR,
the lowest free one, none twice, none when the range is full; bad flags are refused."""

from __future__ import annotations

import ipaddress

import pytest

from api.errors import Cause
from api.validation.update import validate_update
from controllers.manager import select
from controllers.nodeipam import (
    CidrConfigError,
    allocation_patch,
    next_free_subnet,
    node_cidr,
    parse_cluster_cidr,
)

CLUSTER = ipaddress.IPv4Network("10.42.0.0/16")


def test_first_node_gets_the_first_subnet_and_the_next_skips_what_is_taken() -> None:
    assert next_free_subnet(CLUSTER, 24, set()) == "10.42.0.0/24"
    assert next_free_subnet(CLUSTER, 24, {"10.42.0.0/24", "10.42.1.0/24"}) == "10.42.2.0/24"
    # A hole left by a deleted node is reused first.
    assert next_free_subnet(CLUSTER, 24, {"10.42.0.0/24", "10.42.2.0/24"}) == "10.42.1.0/24"


def test_overlapping_and_foreign_allocations() -> None:
    # A wider allocation (made with another mask) blocks every /24 inside it.
    assert next_free_subnet(CLUSTER, 24, {"10.42.0.0/23"}) == "10.42.2.0/24"
    # Subnets outside the cluster range, and garbage, block nothing.
    assert next_free_subnet(CLUSTER, 24, {"192.168.0.0/24", "bogus"}) == "10.42.0.0/24"


def test_full_range_gives_none() -> None:
    small = ipaddress.IPv4Network("10.42.0.0/23")
    assert next_free_subnet(small, 24, {"10.42.0.0/24"}) == "10.42.1.0/24"
    assert next_free_subnet(small, 24, {"10.42.0.0/24", "10.42.1.0/24"}) is None


def test_many_nodes_never_share_a_subnet() -> None:
    taken: set[str] = set()
    for _ in range(256):
        cidr = next_free_subnet(CLUSTER, 24, taken)
        assert cidr is not None and cidr not in taken
        taken.add(cidr)
    assert next_free_subnet(CLUSTER, 24, taken) is None


def test_node_cidr_and_patch() -> None:
    assert node_cidr({"spec": {"podCIDR": "10.42.3.0/24"}}) == "10.42.3.0/24"
    assert node_cidr({"spec": {"podCIDRs": ["10.42.4.0/24"]}}) == "10.42.4.0/24"
    assert node_cidr({"metadata": {"name": "n"}}) == ""
    assert allocation_patch("10.42.5.0/24") == {
        "spec": {"podCIDR": "10.42.5.0/24", "podCIDRs": ["10.42.5.0/24"]}
    }


@pytest.mark.parametrize(
    ("cidr", "mask", "word"),
    [
        ("10.42.0.0/33", 24, "--cluster-cidr"),
        ("10.42.0.1/16", 24, "--cluster-cidr"),
        ("fd00::/48", 64, "IPv4"),
        ("10.42.0.0/24", 24, "--node-cidr-mask-size"),
        ("10.42.0.0/16", 31, "--node-cidr-mask-size"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(cidr: str, mask: int, word: str) -> None:
    with pytest.raises(CidrConfigError, match=word):
        parse_cluster_cidr(cidr, mask)


def test_pod_cidr_is_immutable_once_set() -> None:
    def node(spec: dict[str, object]) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": spec}

    unset, one = node({}), node(allocation_patch("10.42.0.0/24")["spec"])
    other = node(allocation_patch("10.42.1.0/24")["spec"])

    def fields(new: dict[str, object], old: dict[str, object]) -> set[str]:
        errs: list[Cause] = []
        validate_update(errs, "Node", new, old)
        return {c.field for c in errs}

    assert fields(one, unset) == set() and fields(one, one) == set()
    assert fields(other, one) == {"spec.podCIDR", "spec.podCIDRs"}
    assert fields(unset, one) == {"spec.podCIDR", "spec.podCIDRs"}


def test_runs_by_default() -> None:
    assert "nodeipam" in select(())
    assert "nodeipam" not in select(("*", "-nodeipam"))
