"""Endpoints: node address + published port, ready vs not ready, named ports."""

from __future__ import annotations

import json

from controllers import endpoints

SVC = {
    "metadata": {"name": "web", "namespace": "default", "labels": {"team": "a"}},
    "spec": {
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9100, "targetPort": 9100},
        ],
    },
}


def pod(
    name: str,
    ready: bool,
    host_ports: dict[str, int] | None,
    host_ip: str = "10.0.0.1",
    node: str = "n1",
    pod_ip: str | None = None,
    **extra: object,
) -> dict:
    """A pod as its kubelet reports it; without a pod network (``pod_ip`` None) the pod's
    address is the node's, with its ports published there."""
    ann = {"kubelab.io/host-ports": json.dumps(host_ports)} if host_ports is not None else {}
    p = {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"u-{name}",
            "labels": {"app": "web"},
            "annotations": ann,
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "srv",
                    "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9100}],
                }
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": host_ip,
            "podIP": host_ip if pod_ip is None else pod_ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    p.update(extra)  # type: ignore[arg-type]
    return p


def test_ready_and_not_ready_addresses_with_published_ports() -> None:
    pods = [
        pod("a", True, {"srv/8080": 31001, "srv/9100": 31002}),
        pod("b", True, {"srv/8080": 31001, "srv/9100": 31002}, host_ip="10.0.0.2", node="n2"),
        pod("c", False, {"srv/8080": 31001, "srv/9100": 31002}, host_ip="10.0.0.3", node="n3"),
    ]
    ep = endpoints.desired_endpoints(SVC, pods, {})
    assert ep["metadata"]["name"] == "web" and ep["metadata"]["labels"] == {"team": "a"}
    (sub,) = ep["subsets"]
    assert [a["ip"] for a in sub["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a["ip"] for a in sub["notReadyAddresses"]] == ["10.0.0.3"]
    assert sub["addresses"][0]["targetRef"] == {
        "kind": "Pod",
        "namespace": "default",
        "name": "a",
        "uid": "u-a",
    }
    assert sub["addresses"][0]["nodeName"] == "n1"
    assert sub["ports"] == [
        {"name": "http", "port": 31001, "protocol": "TCP"},
        {"name": "metrics", "port": 31002, "protocol": "TCP"},
    ]


def test_pods_with_different_published_ports_get_separate_subsets() -> None:
    pods = [
        pod("a", True, {"srv/8080": 31001, "srv/9100": 31002}),
        pod("b", True, {"srv/8080": 31005, "srv/9100": 31006}),
    ]
    ep = endpoints.desired_endpoints(SVC, pods, {})
    assert sorted(s["ports"][0]["port"] for s in ep["subsets"]) == [31001, 31005]


def test_pod_ip_and_container_port_on_the_pod_network() -> None:
    # A pod with its own address is reached there, on its container ports; the node's
    # address is not its address.
    p = pod("a", True, None, host_ip="192.168.1.5", pod_ip="10.42.1.7")
    ep = endpoints.desired_endpoints(SVC, [p], {"n1": "192.168.1.5"})
    (sub,) = ep["subsets"]
    assert sub["addresses"][0]["ip"] == "10.42.1.7"
    assert [x["port"] for x in sub["ports"]] == [8080, 9100]
    # A hostPort is the node's; at the pod's own address the container port answers.
    hp = pod("h", True, None, host_ip="192.168.1.5", pod_ip="10.42.1.8")
    hp["spec"]["containers"][0]["ports"][0]["hostPort"] = 30080
    (sub,) = endpoints.desired_endpoints(SVC, [hp], {})["subsets"]
    assert sub["ports"][0]["port"] == 8080
    legacy = pod("l", True, None, host_ip="192.168.1.5")  # podIP is the node's
    legacy["spec"]["containers"][0]["ports"][0]["hostPort"] = 30080
    (sub,) = endpoints.desired_endpoints(SVC, [legacy], {})["subsets"]
    assert sub["ports"][0]["port"] == 30080
    # Not reported yet: no address, so no endpoint (as Kubernetes), not the node's.
    unreported = pod("b", True, None, host_ip="", pod_ip="")
    assert endpoints.desired_endpoints(SVC, [unreported], {"n1": "192.168.1.5"})["subsets"] == []


def test_excludes_terminating_unmatched_and_addressless_pods() -> None:
    pods = [
        pod(
            "gone",
            True,
            {},
            metadata={
                "name": "gone",
                "namespace": "default",
                "labels": {"app": "web"},
                "deletionTimestamp": "2024-01-01T00:00:00Z",
            },
        ),
        pod(
            "other",
            True,
            {},
            metadata={"name": "other", "namespace": "default", "labels": {"app": "db"}},
        ),
        pod("noip", True, {}, host_ip="", node=""),
    ]
    assert endpoints.desired_endpoints(SVC, pods, {})["subsets"] == []


def test_reconcile_create_update_delete_and_selectorless() -> None:
    pods = [pod("a", True, {"srv/8080": 31001, "srv/9100": 31002})]
    res = endpoints.reconcile(SVC, None, pods, {}, namespace="default", name="web")
    (create,) = res.of("create")
    existing = {**create.body, "metadata": {**create.body["metadata"], "resourceVersion": "5"}}  # type: ignore[dict-item]
    assert (
        endpoints.reconcile(SVC, existing, pods, {}, namespace="default", name="web").actions == []
    )
    pods.append(pod("b", False, {"srv/8080": 31001, "srv/9100": 31002}, host_ip="10.0.0.9"))
    (upd,) = endpoints.reconcile(SVC, existing, pods, {}, namespace="default", name="web").actions
    assert upd.verb == "replace" and upd.body["metadata"]["resourceVersion"] == "5"  # type: ignore[index]
    assert upd.body["subsets"][0]["notReadyAddresses"][0]["ip"] == "10.0.0.9"  # type: ignore[index]
    (dele,) = endpoints.reconcile(None, existing, pods, {}, namespace="default", name="web").actions
    assert dele.verb == "delete"
    manual = {**SVC, "spec": {"ports": SVC["spec"]["ports"]}}  # type: ignore[index]
    assert (
        endpoints.reconcile(manual, existing, pods, {}, namespace="default", name="web").actions
        == []
    )
