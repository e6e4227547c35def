"""A container's Service variables as Kubernetes' kubelet makes them: the ClusterIP and
the Service port, for Services of the pod's namespace with a ClusterIP and for
default/kubernetes (pure; and which variables the node's proxy hands out)."""

from __future__ import annotations

from typing import Any

from kubelet.envvars import resolve_env, service_env_vars
from kubelet.proxy import ServiceProxy


def svc(name: str, ns: str = "default", ip: str | None = "10.43.7.9", **spec: Any) -> dict:
    body: dict[str, Any] = {
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
            {"name": "grpc-api", "port": 9090, "protocol": "TCP", "nodePort": 30090},
        ],
        **spec,
    }
    if ip is not None:
        body["clusterIP"] = ip
        body["clusterIPs"] = [ip]
    return {"metadata": {"name": name, "namespace": ns}, "spec": body}


KUBERNETES = {
    "metadata": {"name": "kubernetes", "namespace": "default"},
    "spec": {
        "clusterIP": "10.43.0.1",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    },
}


def test_variables_carry_the_cluster_ip_and_the_service_port() -> None:
    env = service_env_vars([svc("model-server", type="NodePort")], "default")
    assert env == {
        "MODEL_SERVER_SERVICE_HOST": "10.43.7.9",
        "MODEL_SERVER_SERVICE_PORT": "80",  # the Service's port, never the NodePort
        "MODEL_SERVER_SERVICE_PORT_HTTP": "80",
        "MODEL_SERVER_SERVICE_PORT_GRPC_API": "9090",
        "MODEL_SERVER_PORT": "tcp://10.43.7.9:80",
        "MODEL_SERVER_PORT_80_TCP": "tcp://10.43.7.9:80",
        "MODEL_SERVER_PORT_80_TCP_PROTO": "tcp",
        "MODEL_SERVER_PORT_80_TCP_PORT": "80",
        "MODEL_SERVER_PORT_80_TCP_ADDR": "10.43.7.9",
        "MODEL_SERVER_PORT_9090_TCP": "tcp://10.43.7.9:9090",
        "MODEL_SERVER_PORT_9090_TCP_PROTO": "tcp",
        "MODEL_SERVER_PORT_9090_TCP_PORT": "9090",
        "MODEL_SERVER_PORT_9090_TCP_ADDR": "10.43.7.9",
    }


def test_only_services_with_a_cluster_ip_of_the_pods_namespace() -> None:
    services = [
        svc("web", "lab"),
        svc("headless", "lab", ip="None"),
        svc("alias", "lab", ip=None, type="ExternalName", externalName="db.example.com"),
        svc("elsewhere", "other"),
        KUBERNETES,
    ]
    env = service_env_vars(services, "lab")
    assert {k for k in env if k.endswith("_SERVICE_HOST")} == {
        "WEB_SERVICE_HOST",
        "KUBERNETES_SERVICE_HOST",
    }
    # The API is found from every namespace, as in-cluster clients expect.
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("10.43.0.1", "443")
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.43.0.1:443"


def test_a_namespace_service_named_kubernetes_wins_over_the_masters() -> None:
    mine = svc("kubernetes", "lab", ip="10.43.9.9")
    env = service_env_vars([KUBERNETES, mine], "lab")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.9.9"
    assert service_env_vars([mine, KUBERNETES], "lab")["KUBERNETES_SERVICE_HOST"] == "10.43.9.9"


def test_enable_service_links_false_keeps_only_the_kubernetes_service() -> None:
    base = service_env_vars([KUBERNETES, svc("kubernetes-dashboard"), svc("web")], "default")
    assert "KUBERNETES_DASHBOARD_SERVICE_HOST" in base
    pod = {"metadata": {"name": "p"}, "spec": {"enableServiceLinks": False}}
    env = resolve_env(pod, {"name": "c"}, {}, {}, "127.0.0.1", base)
    assert env == {
        k: v for k, v in base.items() if k.startswith(("KUBERNETES_SERVICE", "KUBERNETES_PORT"))
    }
    assert "KUBERNETES_DASHBOARD_SERVICE_HOST" not in env and "WEB_SERVICE_HOST" not in env
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"


def _proxy(serves_traffic: bool) -> ServiceProxy:
    proxy = ServiceProxy(None, "192.168.1.5", "n1", serves_traffic=serves_traffic)  # type: ignore[arg-type]
    proxy.services.list = lambda: [KUBERNETES, svc("web", type="NodePort")]  # type: ignore[method-assign]
    return proxy


def test_the_fake_runtime_hands_out_kubernetes_variables() -> None:
    # Nothing runs on the fake runtime, so nothing to reach: the variables stay what
    # Kubernetes would set (ClusterIP, Service port), for learning.
    env = _proxy(serves_traffic=False).service_env("default")
    assert (env["WEB_SERVICE_HOST"], env["WEB_SERVICE_PORT"]) == ("10.43.7.9", "80")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"


def test_the_userspace_fallback_keeps_its_listen_addresses() -> None:
    # No kernel path: containers reach a Service where the userspace proxy listens (the
    # NodePort on the node address), as before ClusterIPs existed.
    env = _proxy(serves_traffic=True).service_env("default")
    assert (env["WEB_SERVICE_HOST"], env["WEB_SERVICE_PORT"]) == ("192.168.1.5", "30090")
