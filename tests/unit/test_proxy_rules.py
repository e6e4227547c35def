"""The kernel Service proxy's planner (kubelet/proxy_rules.py) and the executor's pure
parts (kubelet/kernelproxy.py): rule text per case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelet.kernelproxy import address_changes, interface_name, replace_script, set_hairpin
from kubelet.proxy import ListenSpec, userspace_serves
from kubelet.proxy_rules import (
    Plan,
    ServicePort,
    StaleFlows,
    declared,
    plan,
    stale_udp_flows,
    table_name,
)

UID = "c0ffee00-0000-4000-8000-000000000001"


def svc(name: str, cluster_ip: str = "10.43.0.5", **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"name": "http", "port": 80}])
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": cluster_ip, **spec},
    }


def eps(name: str, ips: list[str], ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        f"default/{name}": {
            "subsets": [
                {
                    "addresses": [{"ip": ip} for ip in ips],
                    "notReadyAddresses": [{"ip": "10.42.0.99"}],
                    "ports": ports or [{"name": "http", "port": 8080}],
                }
            ]
        }
    }


def chain_lines(script: str, prefix: str) -> dict[str, list[str]]:
    """The rules of every chain of ``script`` whose name starts with ``prefix``."""
    chains: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in script.splitlines():
        line = raw.strip()
        if line.startswith("chain ") and line.endswith("{"):
            name = line.split()[1]
            current = chains.setdefault(name, []) if name.startswith(prefix) else None
        elif line == "}":
            current = None
        elif current is not None:
            current.append(line)
    return chains


def rules(p: Plan, prefix: str) -> list[str]:
    """The rules of the one chain whose name starts with ``prefix``."""
    found = chain_lines(p.script, prefix)
    assert len(found) == 1, (prefix, list(found))
    return next(iter(found.values()))


def test_table_and_interface_are_named_per_cluster_and_node() -> None:
    names = {table_name(u, n) for u in ("a", "b") for n in ("x", "y")}
    assert len(names) == 4 and all(t.startswith("kubelab-") for t in names)
    assert table_name("a", "x") == table_name("a", "x")
    assert len(interface_name(UID, "a-very-long-node-name.example.com")) <= 15


def test_cluster_ip_with_one_endpoint_dnats_to_it() -> None:
    p = plan(UID, "n", [svc("web")], eps("web", ["10.42.0.7"]))
    assert p.cluster_ips == ["10.43.0.5"]
    [dispatch] = rules(p, "cluster-ips")
    assert dispatch.startswith("ip daddr 10.43.0.5 tcp dport 80 goto svc-")
    assert rules(p, "services") == [
        "jump cluster-ips",
        "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports",
    ]
    # From pods, other boxes (any interface without pod_interfaces) and this host.
    assert rules(p, "nat-prerouting")[1:] == rules(p, "nat-output")[1:] == ["jump services"]
    [sep] = chain_lines(p.script, "sep-")
    assert rules(p, "svc-") == ["jump mark-for-masquerade", f"goto {sep}"]
    assert rules(p, "sep-") == [
        "ip saddr 10.42.0.7 jump mark-for-masquerade",  # hairpin
        "meta l4proto tcp dnat to 10.42.0.7:8080",
    ]
    assert rules(p, "no-endpoints") == []
    assert rules(p, "nodeports") == []
    assert "10.42.0.99" not in p.script  # not ready: no rule


def test_with_pod_interfaces_only_this_nodes_pods_are_dnated_for_a_cluster_ip() -> None:
    # Two clusters on one box share the default service range (kubernetes at .1, DNS at
    # .10): each kubelet serves the ClusterIPs of its own pods only.
    s = svc("web", type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    p = plan(UID, "n", [s], eps("web", ["10.42.0.7"]), pod_interfaces=["kl0123456789"])
    assert rules(p, "nat-prerouting")[1:] == [
        'iifname "kl0123456789" jump cluster-ips',
        "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports",  # from anywhere
    ]
    assert rules(p, "nat-output")[1:] == ["jump services"]  # the host: as before
    two = plan(UID, "n", [s], {}, pod_interfaces=["kla", "docker0"])
    assert rules(two, "nat-prerouting")[1] == 'iifname { "kla", "docker0" } jump cluster-ips'


def test_multiple_endpoints_pick_one_at_random_per_connection() -> None:
    p = plan(UID, "n", [svc("web")], eps("web", ["10.42.0.7", "10.42.1.3", "10.42.0.8"]))
    seps = chain_lines(p.script, "sep-")
    assert len(seps) == 3
    [masq, pick] = rules(p, "svc-")
    assert masq == "jump mark-for-masquerade"
    assert pick.startswith("numgen random mod 3 vmap { 0 : goto sep-")
    assert sorted(r[-1] for r in seps.values()) == [
        "meta l4proto tcp dnat to 10.42.0.7:8080",
        "meta l4proto tcp dnat to 10.42.0.8:8080",
        "meta l4proto tcp dnat to 10.42.1.3:8080",
    ]


def test_cluster_cidr_sources_keep_their_address() -> None:
    p = plan(UID, "n", [svc("web")], eps("web", ["10.42.0.7"]), cluster_cidr="10.42.0.0/16")
    assert rules(p, "svc-")[0] == "ip saddr != 10.42.0.0/16 jump mark-for-masquerade"


def test_node_port_always_masquerades_and_shares_the_service_chain() -> None:
    s = svc("web", type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    p = plan(UID, "n", [s], eps("web", ["10.42.0.7"]))
    [np] = rules(p, "nodeports")
    ext = np.split()[-1]
    assert np == f"tcp dport 30080 goto {ext}" and ext.startswith("ext-")
    assert rules(p, "ext-") == ["jump mark-for-masquerade", f"goto svc-{ext[4:]}"]
    # The packet's bit masquerades it; the connection's lets Docker's FORWARD pass it.
    assert rules(p, "mark-for-masquerade") == [
        "meta mark set meta mark | 0x4000",
        "ct mark set ct mark | 0x4000",
    ]
    assert rules(p, "masquerading") == [
        "meta mark & 0x4000 == 0 return",
        "meta mark set meta mark ^ 0x4000",
        "masquerade fully-random",
    ]


def test_no_ready_endpoints_reject_instead_of_hanging() -> None:
    s = svc("web", type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    p = plan(UID, "n", [s], eps("web", []))
    assert rules(p, "no-endpoints") == [
        "ip daddr 10.43.0.5 tcp dport 80 reject",
        "fib daddr type local ip daddr != 127.0.0.0/8 tcp dport 30080 reject",
    ]
    assert chain_lines(p.script, "svc-") == {}
    assert rules(p, "cluster-ips") == []
    for hook in ("input", "forward", "output"):
        assert rules(p, f"filter-{hook}") == [
            f"type filter hook {hook} priority filter - 5; policy accept;",
            "ct state new jump no-endpoints",
        ]
    # The same with no Endpoints object at all (the controller has not written it yet).
    assert "reject" in plan(UID, "n", [s], {}).script


def test_udp_port_gets_udp_rules() -> None:
    s = svc("dns", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])
    p = plan(UID, "n", [s], eps("dns", ["10.42.0.9"], [{"name": "dns", "port": 5353}]))
    assert rules(p, "cluster-ips")[0].startswith("ip daddr 10.43.0.5 udp dport 53 goto svc-")
    assert rules(p, "sep-")[-1] == "meta l4proto udp dnat to 10.42.0.9:5353"


def test_named_ports_follow_the_endpoints_numbers_per_subset() -> None:
    # The endpoints controller resolves a named targetPort per pod: two subsets, two numbers.
    s = svc("web", ports=[{"name": "http", "port": 80, "targetPort": "web"}])
    ep = {
        "default/web": {
            "subsets": [
                {"addresses": [{"ip": "10.42.0.7"}], "ports": [{"name": "http", "port": 8080}]},
                {"addresses": [{"ip": "10.42.0.8"}], "ports": [{"name": "http", "port": 9090}]},
            ]
        }
    }
    dnats = sorted(r[-1] for r in chain_lines(plan(UID, "n", [s], ep).script, "sep-").values())
    assert dnats == [
        "meta l4proto tcp dnat to 10.42.0.7:8080",
        "meta l4proto tcp dnat to 10.42.0.8:9090",
    ]


def test_client_ip_affinity_remembers_the_endpoint_per_source() -> None:
    s = svc(
        "web",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    p = plan(UID, "n", [s], eps("web", ["10.42.0.7", "10.42.0.8"]))
    svc_rules = rules(p, "svc-")
    assert [r.split()[:2] for r in svc_rules[1:3]] == [["ip", "saddr"], ["ip", "saddr"]]
    assert all("@aff-" in r and " goto sep-" in r for r in svc_rules[1:3])
    assert svc_rules[3].startswith("numgen random mod 2")
    assert p.script.count("flags dynamic,timeout; timeout 600s;") == 2
    assert all(r[1].startswith("update @aff-") for r in chain_lines(p.script, "sep-").values())


def test_what_the_kernel_does_not_serve() -> None:
    services = [
        svc("headless", cluster_ip="None"),
        svc("alias", cluster_ip="", type="ExternalName", externalName="db.example.com"),
        svc("legacy", cluster_ip=""),  # no ClusterIP allocated: the userspace proxy's
        svc("sctp", cluster_ip="10.43.0.6", ports=[{"port": 99, "protocol": "SCTP"}]),
        svc(
            "local", cluster_ip="10.43.0.7", externalTrafficPolicy="Local", externalIPs=["1.2.3.4"]
        ),
        svc("loop", cluster_ip="10.43.0.8"),
    ]
    endpoints = {**eps("local", ["10.42.0.7"]), **eps("loop", ["127.0.0.1", "10.42.0.3"])}
    p = plan(UID, "n", services, endpoints)
    assert p.cluster_ips == ["10.43.0.7", "10.43.0.8"]
    assert "127.0.0.1:8080" not in p.script and "10.42.0.3:8080" in p.script
    assert p.notes == [
        "default/sctp: port 99/SCTP is not served (TCP/UDP only)",
        "default/local: externalTrafficPolicy Local is served as Cluster by this proxy",
        "default/local: externalIPs are not served by this proxy",
        "default/loop: endpoint 127.0.0.1:8080 is loopback, left out",
    ]


def test_a_deleted_service_leaves_no_rule() -> None:
    both = plan(UID, "n", [svc("a"), svc("b", "10.43.0.6")], {**eps("a", ["10.42.0.7"])})
    one = plan(UID, "n", [svc("a")], eps("a", ["10.42.0.7"]))
    assert "10.43.0.6" in both.script and "10.43.0.6" not in one.script
    assert one.cluster_ips == ["10.43.0.5"]
    terminating = svc("a")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert plan(UID, "n", [terminating], eps("a", ["10.42.0.7"])).cluster_ips == []


def test_replace_script_swaps_the_table_in_one_transaction() -> None:
    p = plan(UID, "n", [], {})
    lines = replace_script(p).splitlines()
    assert lines[:3] == [
        f"table ip {p.table}",
        f"delete table ip {p.table}",
        f"table ip {p.table} {{",
    ]


def test_a_later_sync_flushes_and_deletes_only_what_went_so_affinity_sets_stay() -> None:
    a, b = "10.42.0.7", "10.42.0.8"
    sticky = svc("web", sessionAffinity="ClientIP")
    both = {**eps("web", [a, b]), **eps("old", [a])}
    before = plan(UID, "n", [sticky, svc("old", "10.43.0.6")], both)
    after = plan(UID, "n", [sticky], eps("web", [a]))
    lines = replace_script(after, before.script).splitlines()
    t = after.table
    [gone_set] = [s for s in declared(before.script)[1] if b in s]
    [kept_set] = declared(after.script)[1]
    assert a in kept_set and "10800s" in kept_set
    assert lines[0] == f"flush table ip {t}"  # rules go; set members stay
    deletes = lines[1 : lines.index(f"table ip {t} {{")]
    assert f"delete set ip {t} {gone_set}" in deletes
    assert not any(kept_set in d for d in deletes)
    gone_chains = {d.split()[-1] for d in deletes if d.split()[1] == "chain"}
    assert gone_chains == declared(before.script)[0] - declared(after.script)[0]
    assert any(b in c for c in gone_chains) and any("-old-" in c for c in gone_chains)
    assert len(deletes) == len(gone_chains) + 1


def test_address_changes_adds_and_removes_only_the_difference() -> None:
    assert address_changes({"10.43.0.1", "10.43.0.2"}, {"10.43.0.2", "10.43.0.3"}, "kl-x") == (
        "address del 10.43.0.1/32 dev kl-x\naddress add 10.43.0.3/32 dev kl-x\n"
    )
    assert address_changes({"10.43.0.2"}, {"10.43.0.2"}, "kl-x") == ""


def test_userspace_listeners_left_with_the_kernel_path() -> None:
    with_ip = svc("web", type="LoadBalancer")
    without_ip = svc("old", cluster_ip="")
    port = ListenSpec("default/web", "http", "127.0.0.1", 80, "TCP", "port")
    node_lo = ListenSpec("default/web", "http", "127.0.0.1", 30080, "TCP", "nodePort")
    node_eth = ListenSpec("default/web", "http", "192.168.1.5", 30080, "TCP", "nodePort")
    lb = ListenSpec("default/web", "http", "192.168.1.5", 80, "TCP", "loadBalancer")
    assert [userspace_serves(with_ip, s, True) for s in (port, node_lo, node_eth, lb)] == [
        False,  # ClusterIP: the kernel
        True,  # NodePort on loopback: no route_localnet
        False,  # NodePort on the node address: the kernel
        True,  # the LoadBalancer port stays a listener
    ]
    assert all(userspace_serves(without_ip, s, True) for s in (port, node_lo, node_eth, lb))
    assert all(userspace_serves(with_ip, s, False) for s in (port, node_lo, node_eth, lb))


def udp_port(backends: list[tuple[str, int]], node_port: int = 0) -> ServicePort:
    return ServicePort("default/dns", "dns", "udp", "10.43.0.10", 53, node_port, tuple(backends))


def test_stale_udp_flows_of_removed_endpoints_and_of_a_port_that_had_none() -> None:
    a, b = ("10.42.0.7", 5353), ("10.42.0.8", 5353)
    assert stale_udp_flows([udp_port([a, b])], [udp_port([a, b])]) == []
    assert stale_udp_flows([udp_port([a, b])], [udp_port([b])]) == [StaleFlows("10.43.0.10", 53, a)]
    # No endpoint before (the REJECT answered, or no rule at all): those entries go.
    assert stale_udp_flows([udp_port([])], [udp_port([a])]) == [StaleFlows("10.43.0.10", 53, None)]
    assert stale_udp_flows([], [udp_port([a])]) == [StaleFlows("10.43.0.10", 53, None)]
    # The Service deleted: the flows to its endpoints go, at the NodePort too.
    assert stale_udp_flows([udp_port([a], node_port=30053)], []) == [
        StaleFlows("10.43.0.10", 53, a),
        StaleFlows("", 30053, a),
    ]
    # TCP ends its connections itself: nothing to delete.
    tcp = ServicePort("default/web", "", "tcp", "10.43.0.5", 80, 0, (a,))
    assert stale_udp_flows([tcp], []) == []


def test_hairpin_mode_goes_on_for_every_port_of_the_pod_bridges(tmp_path: Path) -> None:
    for port, flag in (("veth1", "0"), ("veth2", "1")):
        (tmp_path / "kl0" / "brif" / port).mkdir(parents=True)
        (tmp_path / "kl0" / "brif" / port / "hairpin_mode").write_text(flag + "\n")
    (tmp_path / "eth0").mkdir()  # not a bridge: left alone
    assert set_hairpin(["kl0", "eth0", "missing"], str(tmp_path)) == ["veth1"]
    assert (tmp_path / "kl0" / "brif" / "veth1" / "hairpin_mode").read_text() == "1"
    assert set_hairpin(["kl0"], str(tmp_path)) == []
