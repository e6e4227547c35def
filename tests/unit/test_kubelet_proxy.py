"""The Service proxy's pure parts: listen addresses, ready backends, Service variables."""

from __future__ import annotations

from kubelet.proxy import ListenSpec, listen_specs, ready_backends, service_env_vars


def svc(
    name: str, stype: str = "ClusterIP", ports: list[dict] | None = None, **spec: object
) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": stype, "ports": ports or [{"port": 8080}], **spec},
    }


def test_cluster_ip_service_listens_on_loopback_at_its_port() -> None:
    assert listen_specs(svc("web"), "10.0.0.5") == [
        ListenSpec("default/web", "", "127.0.0.1", 8080)
    ]


def test_node_port_service_listens_on_node_address_at_node_port() -> None:
    s = svc("web", "NodePort", [{"name": "http", "port": 80, "nodePort": 30080}])
    assert listen_specs(s, "10.0.0.5") == [
        ListenSpec("default/web", "http", "10.0.0.5", 30080, "TCP", "nodePort")
    ]


def test_headless_external_name_and_udp_get_no_listener() -> None:
    assert listen_specs(svc("h", clusterIP="None"), "127.0.0.1") == []
    assert listen_specs(svc("x", "ExternalName", externalName="db.example.com"), "1.2.3.4") == []
    assert listen_specs(svc("u", ports=[{"port": 53, "protocol": "UDP"}]), "127.0.0.1") == []


def test_ready_backends_skip_not_ready_and_match_port_name() -> None:
    ep = {
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1"}, {"ip": "10.0.0.6"}],
                "notReadyAddresses": [{"ip": "10.0.0.7"}],
                "ports": [{"name": "http", "port": 31001}, {"name": "metrics", "port": 31002}],
            },
            {"addresses": [{"ip": "10.0.0.8"}], "ports": [{"name": "http", "port": 31005}]},
        ]
    }
    assert ready_backends(ep, "http") == [
        ("10.0.0.6", 31001),
        ("10.0.0.8", 31005),
        ("127.0.0.1", 31001),
    ]
    assert ready_backends(ep, "metrics") == [("10.0.0.6", 31002), ("127.0.0.1", 31002)]
    assert ready_backends(ep, "grpc") == []
    assert ready_backends(None, "") == []


def test_single_unnamed_port_matches_unnamed_service_port() -> None:
    ep = {"subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 32000}]}]}
    assert ready_backends(ep, "") == [("127.0.0.1", 32000)]


def test_service_env_vars_follow_kubernetes_names() -> None:
    env = service_env_vars(
        [
            svc("model-server", "NodePort", [{"name": "http", "port": 80, "nodePort": 30080}]),
            svc("redis", ports=[{"port": 6379}]),
        ],
        "10.0.0.5",
    )
    assert env["MODEL_SERVER_SERVICE_HOST"] == "10.0.0.5"
    assert env["MODEL_SERVER_SERVICE_PORT"] == "30080"
    assert env["MODEL_SERVER_SERVICE_PORT_HTTP"] == "30080"
    assert env["MODEL_SERVER_PORT"] == "tcp://10.0.0.5:30080"
    assert env["MODEL_SERVER_PORT_30080_TCP_ADDR"] == "10.0.0.5"
    assert env["REDIS_SERVICE_HOST"] == "127.0.0.1"
    assert env["REDIS_SERVICE_PORT"] == "6379"
    assert env["REDIS_PORT_6379_TCP"] == "tcp://127.0.0.1:6379"
