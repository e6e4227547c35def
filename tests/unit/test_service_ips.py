"""The ClusterIP allocator and the address-field rules of a Service write (pure)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from api import validation
from apiserver.service_ips import (
    IPAllocationError,
    ServiceCIDRError,
    ServiceIPs,
    parse_service_cidr,
    range_offset,
)
from apiserver.service_ips_spec import (
    allocated_ips,
    init_ip_families,
    keep_on_update,
    wanted_cluster_ip,
)


def test_range_offset_follows_kubernetes_band_formula() -> None:
    # min(max(16, size/16), 256), none for a range of 16 or fewer.
    assert range_offset(14) == 0
    assert range_offset(16) == 0
    assert range_offset(30) == 16
    assert range_offset(254) == 16
    assert range_offset(1022) == 63
    assert range_offset(65534) == 256


def test_addresses_skip_network_and_broadcast() -> None:
    ips = ServiceIPs.from_cidr("10.43.0.0/28")
    assert ips.size == 14
    assert ips.address(0) == "10.43.0.1"
    assert ips.address(13) == "10.43.0.14"
    assert ips.index_of("10.43.0.0") is None
    assert ips.index_of("10.43.0.15") is None
    assert ips.index_of("10.43.0.14") == 13
    assert ips.index_of("10.44.0.1") is None
    assert ips.index_of("banana") is None
    assert (ips.kubernetes_ip, ips.dns_ip) == ("10.43.0.1", "10.43.0.10")


def test_dynamic_pick_prefers_the_upper_band() -> None:
    # With the random start at the band's low end, the first pick is the first address
    # above the static band (index 256 of a /16 is 10.43.1.1).
    ips = ServiceIPs.from_cidr("10.43.0.0/16", rand=lambda lo, hi: lo)
    assert ips.pick() == "10.43.1.1"
    ips.record("10.43.1.1", "default/a")
    assert ips.pick() == "10.43.1.2"


def test_pick_is_random_and_wraps_within_the_band() -> None:
    ips = ServiceIPs.from_cidr("10.43.0.0/24", rand=lambda lo, hi: hi)
    # /24: 254 usable, offset 16: the upper band is indexes 16..253; start at the last.
    assert ips.pick() == "10.43.0.254"
    ips.record("10.43.0.254", "default/a")
    assert ips.pick() == "10.43.0.17"  # wrapped to the band's start (index 16)


def test_lower_band_only_once_the_upper_is_full_and_reserved_never_picked() -> None:
    ips = ServiceIPs.from_cidr("10.43.0.0/27")  # 30 usable, offset 16
    got = set()
    for n in itertools.count():
        ip = ips.pick()
        if ip is None:
            break
        band = "upper" if ips.index_of(ip) >= 16 else "lower"  # type: ignore[operator]
        if n < 14:
            assert band == "upper", (n, ip)
        ips.record(ip, f"default/s{n}")
        got.add(ip)
    assert len(got) == 28  # 30 usable minus .1 (kubernetes) and .10 (kube-dns)
    assert "10.43.0.1" not in got and "10.43.0.10" not in got
    assert ips.pick() is None


def test_requested_ip_checks_range_holder_and_reservations() -> None:
    ips = ServiceIPs.from_cidr("10.43.0.0/16")
    ips.check_requested("10.43.0.5", "default/a")
    ips.record("10.43.0.5", "default/a")
    ips.check_requested("10.43.0.5", "default/a")  # its own address: fine
    with pytest.raises(IPAllocationError, match="provided IP is already allocated"):
        ips.check_requested("10.43.0.5", "default/b")
    with pytest.raises(IPAllocationError, match="not in the valid range.*10.43.0.0/16"):
        ips.check_requested("10.44.0.5", "default/b")
    with pytest.raises(IPAllocationError, match="not in the valid range"):
        ips.check_requested("10.43.255.255", "default/b")  # broadcast
    with pytest.raises(IPAllocationError, match="reserved for the Service kube-system/kube-dns"):
        ips.check_requested("10.43.0.10", "default/b")
    ips.check_requested("10.43.0.10", "kube-system/kube-dns")
    ips.check_requested("10.43.0.1", "default/kubernetes")
    with pytest.raises(IPAllocationError, match="reserved for the Service default/kubernetes"):
        ips.check_requested("10.43.0.1", "default/b")


def test_release_only_by_its_holder() -> None:
    ips = ServiceIPs.from_cidr("10.43.0.0/16")
    ips.record("10.43.0.5", "default/a")
    ips.release("10.43.0.5", "default/b")
    assert ips.held == {"10.43.0.5": "default/a"}
    ips.release("10.43.0.5", "default/a")
    assert ips.held == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("banana", "not a network"),
        ("10.43.0.1/16", "not a network"),  # host bits set
        ("fd00::/108", "only IPv4"),
        ("10.0.0.0/8", "between /12 and /28"),
        ("10.43.0.0/30", "between /12 and /28"),
    ],
)
def test_bad_service_cidr_is_refused_with_the_fix(text: str, why: str) -> None:
    with pytest.raises(ServiceCIDRError, match=why):
        parse_service_cidr(text)


# -- the address fields of a write ------------------------------------------------------


def test_families_default_to_single_stack_ipv4() -> None:
    spec: dict[str, Any] = {"type": "ClusterIP", "selector": {"app": "x"}}
    assert init_ip_families(spec, None) == []
    assert (spec["ipFamilyPolicy"], spec["ipFamilies"]) == ("SingleStack", ["IPv4"])
    ext: dict[str, Any] = {"type": "ExternalName", "externalName": "a.example.com"}
    assert init_ip_families(ext, None) == []
    assert "ipFamilies" not in ext and "ipFamilyPolicy" not in ext


def test_selectorless_headless_gets_require_dual_stack_as_kubernetes() -> None:
    spec: dict[str, Any] = {"clusterIP": "None", "clusterIPs": ["None"]}
    assert init_ip_families(spec, None) == []
    assert (spec["ipFamilyPolicy"], spec["ipFamilies"]) == ("RequireDualStack", ["IPv4", "IPv6"])
    with_selector: dict[str, Any] = {"clusterIP": "None", "selector": {"app": "x"}}
    assert init_ip_families(with_selector, None) == []
    assert with_selector["ipFamilies"] == ["IPv4"]


def test_families_this_cluster_lacks_are_refused() -> None:
    (cause,) = init_ip_families({"ipFamilies": ["IPv6"]}, None)
    assert cause.field == "spec.ipFamilies[0]" and "not configured on this cluster" in cause.message
    (cause,) = init_ip_families({"ipFamilyPolicy": "RequireDualStack"}, None)
    assert "not configured for dual-stack services" in cause.message
    (cause,) = init_ip_families({"clusterIP": "fd00::5", "clusterIPs": ["fd00::5"]}, None)
    assert cause.field == "spec.clusterIPs[0]" and "IPv6 is not configured" in cause.message
    prefer: dict[str, Any] = {"ipFamilyPolicy": "PreferDualStack"}
    assert init_ip_families(prefer, None) == []
    assert prefer["ipFamilies"] == ["IPv4"]


def test_update_keeps_the_policy_it_had() -> None:
    spec: dict[str, Any] = {"clusterIP": "10.43.0.7"}
    assert init_ip_families(spec, {"ipFamilyPolicy": "PreferDualStack"}) == []
    assert spec["ipFamilyPolicy"] == "PreferDualStack"


def test_update_leaving_addresses_out_keeps_them() -> None:
    old = {"type": "ClusterIP", "clusterIP": "10.43.0.7", "clusterIPs": ["10.43.0.7"]}
    new: dict[str, Any] = {"type": "NodePort", "ports": []}
    keep_on_update(old, new)
    assert (new["clusterIP"], new["clusterIPs"]) == ("10.43.0.7", ["10.43.0.7"])


def test_update_to_external_name_drops_the_addresses_it_had() -> None:
    old = {
        "type": "ClusterIP",
        "clusterIP": "10.43.0.7",
        "clusterIPs": ["10.43.0.7"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
    }
    new: dict[str, Any] = {**old, "type": "ExternalName", "externalName": "a.example.com"}
    keep_on_update(old, new)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(new)


def test_changed_singular_with_unchanged_plural_follows() -> None:
    old = {"clusterIP": "10.43.0.7", "clusterIPs": ["10.43.0.7"]}
    new = {"clusterIP": "10.43.0.8", "clusterIPs": ["10.43.0.7"]}
    keep_on_update(old, new)
    assert new["clusterIPs"] == ["10.43.0.8"]  # and validation then refuses the change


def test_wanted_and_allocated_ips() -> None:
    assert wanted_cluster_ip({"type": "ExternalName"}) is None
    assert wanted_cluster_ip({"clusterIP": "None"}) is None
    assert wanted_cluster_ip({}) == ""
    assert wanted_cluster_ip({"clusterIP": "10.43.0.9", "clusterIPs": ["10.43.0.9"]}) == "10.43.0.9"
    assert allocated_ips({"spec": {"clusterIP": "10.43.0.9"}}) == ["10.43.0.9"]
    assert allocated_ips({"spec": {"clusterIP": "None", "clusterIPs": ["None"]}}) == []
    assert allocated_ips({"spec": {"type": "ExternalName", "clusterIP": "10.43.0.9"}}) == []
    assert allocated_ips(None) == []


# -- structural validation (api/validation/service_ips.py) ------------------------------


def _errors(spec: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec}
    old_svc = None if old is None else {**svc, "spec": old}
    return {c.field: c.message for c in validation.validate("Service", svc, old_svc)}


PORTS = [{"port": 80}]


def test_cluster_ips_must_agree_with_cluster_ip() -> None:
    errs = _errors({"ports": PORTS, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.6"]})
    assert "first value must match `clusterIP`" in errs["spec.clusterIPs"]
    errs = _errors({"ports": PORTS, "clusterIPs": ["10.43.0.6"]})
    assert "must be empty when `clusterIP` is not specified" in errs["spec.clusterIPs"]
    errs = _errors({"ports": PORTS, "clusterIP": "None", "clusterIPs": ["None", "10.43.0.6"]})
    assert "'None' must be the first and only value" in errs["spec.clusterIPs"]
    errs = _errors({"ports": PORTS, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5", "x"]})
    assert "must be a valid IP address" in errs["spec.clusterIPs[1]"]
    errs = _errors(
        {"ports": PORTS, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5", "10.43.0.6"]}
    )
    assert "no more than one IP for each IP family" in errs["spec.clusterIPs"]
    assert _errors({"ports": PORTS, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"]}) == {}


def test_external_name_may_not_carry_addresses() -> None:
    errs = _errors(
        {
            "type": "ExternalName",
            "externalName": "a.example.com",
            "clusterIPs": ["10.43.0.5"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        }
    )
    for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert "may not be set for ExternalName services" in errs[f"spec.{key}"]


def test_family_values_and_node_port_headless() -> None:
    errs = _errors({"ports": PORTS, "ipFamilies": ["IPv5", "IPv4", "IPv4"], "ipFamilyPolicy": "X"})
    assert "Unsupported value" in errs["spec.ipFamilies[0]"]
    assert "Duplicate value" in errs["spec.ipFamilies[2]"]
    assert "Unsupported value" in errs["spec.ipFamilyPolicy"]
    errs = _errors(
        {"ports": PORTS, "type": "NodePort", "clusterIP": "None", "clusterIPs": ["None"]}
    )
    assert "may not be set to 'None' for NodePort services" in errs["spec.clusterIPs[0]"]


def test_cluster_ip_is_immutable_as_kubernetes_words_it() -> None:
    old = {"ports": PORTS, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"]}
    errs = _errors({"ports": PORTS, "clusterIP": "10.43.0.6", "clusterIPs": ["10.43.0.6"]}, old)
    assert "field is immutable" in errs["spec.clusterIP"]
    assert "may not change once set" in errs["spec.clusterIPs[0]"]
    # To or from ExternalName the address may go or come.
    assert _errors({"type": "ExternalName", "externalName": "a.example.com"}, old) == {}


def test_the_kubernetes_endpoints_address_follows_advertise_then_listen() -> None:
    import ipaddress as ipa

    from apiserver.service_ips_bootstrap import endpoint_address

    assert endpoint_address("127.0.0.1") == "127.0.0.1"
    assert endpoint_address("0.0.0.0", "192.0.2.7") == "192.0.2.7"
    assert endpoint_address("10.1.2.3", "192.0.2.7") == "192.0.2.7"
    assert endpoint_address("localhost") == "127.0.0.1"  # a name is resolved: Endpoints hold IPs
    # A wildcard listen: the box's own address (as kube-apiserver's default advertise
    # address), never 0.0.0.0, which is no address a pod can connect to.
    picked = endpoint_address("0.0.0.0")
    assert picked != "0.0.0.0" and ipa.ip_address(picked).version == 4


def test_a_loopback_api_address_is_called_out() -> None:
    from apiserver.service_ips_bootstrap import unreachable_from_pods

    why = unreachable_from_pods("127.0.0.1")
    assert why is not None and "pods cannot reach the API" in why and "--listen 0.0.0.0" in why
    assert unreachable_from_pods("192.0.2.7") is None
