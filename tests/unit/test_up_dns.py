"""`kubelab up` runs the cluster DNS and points its kubelets at the kube-dns Service."""

from __future__ import annotations

from pathlib import Path

from kubelab.up import DEFAULTS, plan_children


def _settings(**over: object) -> dict[str, object]:
    return {**DEFAULTS, "node_name": "box", "nodes": 2, **over}


def _args(children: list, name: str) -> list[str]:
    [c] = [c for c in children if c.name == name]
    return list(c.args)


def test_dns_runs_on_the_node_address_behind_the_service_range_dot_ten(tmp_path: Path) -> None:
    kids = plan_children(tmp_path, _settings(address="192.0.2.5"), tmp_path / "k.kubeconfig")
    dns = _args(kids, "dns")
    assert dns[0] == "dns"
    assert dns[dns.index("--kubeconfig") + 1] == str(tmp_path / "dns.kubeconfig")
    assert dns[dns.index("--listen") + 1] == "192.0.2.5"
    assert dns[dns.index("--port") + 1] == "53"
    assert dns[dns.index("--cluster-ip") + 1] == "10.43.0.10"
    # Docker pods reach it on the node's pod bridge; the fake runtime has none.
    assert dns[dns.index("--node") + 1] == "box"
    fake = _args(plan_children(tmp_path, _settings(runtime="fake"), tmp_path / "k"), "dns")
    assert "--node" not in fake
    for kubelet in ("kubelet", "kubelet-sim"):
        args = _args(kids, kubelet)
        assert args[args.index("--cluster-dns") + 1] == "10.43.0.10"


def test_dns_follows_the_service_cidr_and_dns_port(tmp_path: Path) -> None:
    kids = plan_children(
        tmp_path, _settings(service_cidr="10.96.0.0/12", dns_port=0), tmp_path / "k.kubeconfig"
    )
    dns = _args(kids, "dns")
    assert dns[dns.index("--cluster-ip") + 1] == "10.96.0.10"
    assert dns[dns.index("--port") + 1] == "0"
    args = _args(kids, "kubelet")
    assert args[args.index("--cluster-dns") + 1] == "10.96.0.10"
