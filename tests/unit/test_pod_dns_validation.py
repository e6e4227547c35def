"""dnsPolicy and dnsConfig are accepted (the kubelet writes them into resolv.conf) and
checked as Kubernetes checks them; a wrong one is refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.defaults import apply_defaults
from api.validation import validate


def _causes(**spec: Any) -> dict[str, str]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "team"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}], **copy.deepcopy(spec)},
    }
    apply_defaults("Pod", pod)
    return {c.field: c.message for c in validate("Pod", pod)}


@pytest.mark.parametrize(
    "spec",
    [
        {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}},
        {"dnsPolicy": "Default"},
        {"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True},
        {
            "dnsConfig": {
                "nameservers": ["192.0.2.53", "2001:db8::53"],
                "searches": ["corp.example", "lab.example.", "."],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
            }
        },
    ],
)
def test_supported_dns_settings_are_accepted(spec: dict[str, Any]) -> None:
    assert _causes(**spec) == {}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"dnsPolicy": "None"}, "spec.dnsConfig"),
        (
            {"dnsPolicy": "None", "dnsConfig": {"searches": ["a.example"]}},
            "spec.dnsConfig.nameservers",
        ),
        (
            {"dnsConfig": {"nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]}},
            "spec.dnsConfig.nameservers",
        ),
        ({"dnsConfig": {"nameservers": ["dns.example"]}}, "spec.dnsConfig.nameservers[0]"),
        (
            {"dnsConfig": {"searches": [f"s{i}.example" for i in range(33)]}},
            "spec.dnsConfig.searches",
        ),
        (
            {"dnsConfig": {"searches": ["a" * 250 + f".x{i}" for i in range(9)]}},
            "spec.dnsConfig.searches",
        ),
        ({"dnsConfig": {"searches": ["Not_A_Domain"]}}, "spec.dnsConfig.searches[0]"),
        ({"dnsConfig": {"options": [{"value": "2"}]}}, "spec.dnsConfig.options[0].name"),
    ],
)
def test_wrong_dns_settings_are_refused_naming_the_field(spec: dict[str, Any], field: str) -> None:
    causes = _causes(**spec)
    assert field in causes, causes
