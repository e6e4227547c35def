"""A pod's resolv.conf per dnsPolicy, as the Kubernetes kubelet writes it."""

from __future__ import annotations

from typing import Any

from kubelet.resolvconf import (
    ClusterDNS,
    DNSConfig,
    parse_resolv_conf,
    pod_dns_config,
)

HOST = parse_resolv_conf(
    "# from DHCP\nnameserver 192.168.1.1\nnameserver 192.168.1.2\n"
    "search lab.example corp.example.\noptions edns0 timeout:2\n"
)
CLUSTER = ClusterDNS(("10.43.0.10",), "cluster.local")


def pod(ns: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": ns}, "spec": {"containers": [], **spec}}


def test_host_file_is_parsed() -> None:
    assert HOST == DNSConfig(
        ["192.168.1.1", "192.168.1.2"], ["lab.example", "corp.example"], ["edns0", "timeout:2"]
    )


def test_cluster_first_is_the_default() -> None:
    for p in (pod(), pod(dnsPolicy="ClusterFirst")):
        dns = pod_dns_config(p, CLUSTER, HOST)
        assert dns.text == (
            "nameserver 10.43.0.10\n"
            "search web.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example\n"
            "options ndots:5\n"
        )
        assert dns.warning == ""


def test_cluster_domain_is_the_kubelets() -> None:
    dns = pod_dns_config(pod("a"), ClusterDNS(("10.9.0.10",), "lab.internal."), DNSConfig())
    assert dns.text == (
        "nameserver 10.9.0.10\n"
        "search a.svc.lab.internal svc.lab.internal lab.internal\noptions ndots:5\n"
    )


def test_host_network_with_cluster_first_gets_default() -> None:
    dns = pod_dns_config(pod(hostNetwork=True), CLUSTER, HOST)
    assert dns.text == (
        "nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
        "search lab.example corp.example\noptions edns0 timeout:2\n"
    )


def test_cluster_first_with_host_net() -> None:
    p = pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    assert pod_dns_config(p, CLUSTER, HOST).text.startswith(
        "nameserver 10.43.0.10\nsearch web.svc."
    )


def test_default_is_the_nodes_file() -> None:
    assert pod_dns_config(pod(dnsPolicy="Default"), CLUSTER, HOST).text.startswith(
        "nameserver 192.168.1.1\n"
    )


def test_none_is_dns_config_alone() -> None:
    p = pod(
        dnsPolicy="None",
        dnsConfig={
            "nameservers": ["1.1.1.1"],
            "searches": ["my.dns.search.suffix"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        },
    )
    assert pod_dns_config(p, CLUSTER, HOST).text == (
        "nameserver 1.1.1.1\nsearch my.dns.search.suffix\noptions ndots:2 edns0\n"
    )


def test_dns_config_merges_into_cluster_first() -> None:
    p = pod(
        dnsConfig={
            "nameservers": ["10.43.0.10", "192.0.2.53"],
            "searches": ["cluster.local", "extra.example"],
            "options": [{"name": "ndots", "value": "1"}, {"name": "single-request-reopen"}],
        }
    )
    assert pod_dns_config(p, CLUSTER, HOST).text == (
        "nameserver 10.43.0.10\nnameserver 192.0.2.53\n"
        "search web.svc.cluster.local svc.cluster.local cluster.local lab.example "
        "corp.example extra.example\n"
        "options ndots:1 single-request-reopen\n"
    )


def test_without_cluster_dns_cluster_first_falls_back_to_default_and_says_so() -> None:
    dns = pod_dns_config(pod(), ClusterDNS(()), HOST)
    assert dns.text.startswith("nameserver 192.168.1.1\n")
    assert dns.reason == "MissingClusterDNS"
    assert '"Default"' in dns.warning


def test_limits_three_nameservers_and_thirty_two_searches() -> None:
    p = pod(
        dnsPolicy="None",
        dnsConfig={
            "nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"],
            "searches": [f"s{i}.example" for i in range(40)],
        },
    )
    dns = pod_dns_config(p, CLUSTER, HOST)
    lines = dns.text.splitlines()
    assert [x for x in lines if x.startswith("nameserver")] == [
        "nameserver 192.0.2.1",
        "nameserver 192.0.2.2",
        "nameserver 192.0.2.3",
    ]
    [search] = [x for x in lines if x.startswith("search ")]
    assert search.split()[1:] == [f"s{i}.example" for i in range(32)]
    assert dns.reason == "DNSConfigForming"


def test_search_line_is_at_most_2048_characters() -> None:
    long = ["a" * 250 + f".x{i}" for i in range(10)]
    dns = pod_dns_config(
        pod(dnsPolicy="None", dnsConfig={"nameservers": ["192.0.2.1"], "searches": long}),
        CLUSTER,
        HOST,
    )
    [search] = [x for x in dns.text.splitlines() if x.startswith("search ")]
    assert len(search) - len("search ") <= 2048
    assert search.split()[1:] == long[:8]  # 8 x 254 + 7 spaces = 2039


def test_the_cluster_domain_names_the_pods_fqdn_too() -> None:
    from kubelet.podspec_runtime import pod_identity

    p = pod(hostname="web-0", subdomain="grp")
    assert pod_identity(p).domainname == "grp.web.svc.cluster.local"
    assert pod_identity(p, "lab.internal.").domainname == "grp.web.svc.lab.internal"
