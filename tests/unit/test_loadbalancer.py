"""LoadBalancer Services: the controller's ingress decision (every Ready node's address,
as k3s' ServiceLB, minus nodes that cannot bind the port) and the proxy's listeners on the
Service's own port besides its nodePort."""

from __future__ import annotations

import errno
from typing import Any

from api.loadbalancer import LB_UNAVAILABLE_ANNOTATION
from controllers.loadbalancer import desired_ingress, reconcile
from kubelet.proxy import (
    ListenSpec,
    bind_failure_event,
    listen_specs,
    service_env_vars,
    unavailable_balancers,
)


def svc(stype: str = "LoadBalancer", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": stype,
            "ports": [{"name": "http", "port": 8080, "nodePort": 31000, "protocol": "TCP"}],
            **spec,
        },
    }


def node(name: str, ip: str, ready: bool = True, cannot: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if cannot:
        meta["annotations"] = {LB_UNAVAILABLE_ANNOTATION: cannot}
    return {
        "metadata": meta,
        "status": {
            "addresses": [
                {"type": "Hostname", "address": name},
                {"type": "InternalIP", "address": ip},
            ],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_ingress_lists_ready_nodes_that_can_serve() -> None:
    nodes = [
        node("b", "10.0.0.2"),
        node("a", "10.0.0.1"),
        node("down", "10.0.0.3", ready=False),
        node("busy", "10.0.0.4", cannot="other/x,default/web"),
        node("twin", "10.0.0.1"),  # two kubelets on one box: one entry
    ]
    assert desired_ingress(svc(), nodes) == [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]
    assert desired_ingress(svc("NodePort"), nodes) == []
    named = node("h", "ignored")
    named["status"]["addresses"] = [{"type": "Hostname", "address": "box.lab"}]
    assert desired_ingress(svc(), [named]) == [{"hostname": "box.lab"}]


def test_reconcile_patches_status_and_warns_when_no_node_serves() -> None:
    res = reconcile(svc(), [node("a", "10.0.0.1")])
    (patch,) = res.actions
    assert (patch.verb, patch.subresource) == ("patch", "status")
    assert patch.body == {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}
    served = svc()
    served["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    assert reconcile(served, [node("a", "10.0.0.1")]).actions == []
    res = reconcile(served, [node("a", "10.0.0.1", cannot="default/web")])
    assert [a.verb for a in res.actions] == ["patch", "event"]
    assert res.actions[0].body == {"status": {"loadBalancer": {"ingress": None}}}
    assert res.actions[1].reason == "NoLoadBalancerNodes"
    # Another implementation's Service is left alone.
    assert reconcile(svc(loadBalancerClass="example.com/lb"), [node("a", "1.2.3.4")]).actions == []


def test_proxy_serves_the_port_and_the_node_port_of_a_load_balancer() -> None:
    specs = listen_specs(svc(), "10.0.0.1")
    assert [(s.address, s.port, s.role) for s in specs] == [
        ("10.0.0.1", 31000, "nodePort"),
        ("10.0.0.1", 8080, "loadBalancer"),
    ]
    assert [s.role for s in listen_specs(svc("NodePort"), "10.0.0.1")] == ["nodePort"]
    env = service_env_vars([svc()], "10.0.0.1")
    assert env["WEB_SERVICE_PORT"] == "31000" and env["WEB_SERVICE_PORT_HTTP"] == "31000"


def test_unavailable_balancers_and_their_event() -> None:
    lb = ListenSpec("default/web", "http", "10.0.0.1", 8080, "TCP", "loadBalancer")
    np = ListenSpec("default/np", "", "10.0.0.1", 31001, "TCP", "nodePort")
    assert unavailable_balancers([(lb, True), (np, True)]) == "default/web"
    assert unavailable_balancers([(lb, False)]) == ""
    reason, message = bind_failure_event(svc(), lb, "box-1", OSError(errno.EADDRINUSE, "in use"))
    assert reason == "LoadBalancerPortUnavailable"
    assert "load balancer port 8080 (10.0.0.1:8080) on node box-1" in message
    assert "left out of status.loadBalancer.ingress" in message
