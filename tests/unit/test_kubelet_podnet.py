"""The pod network's pure parts: the sandbox step of a pod's plan (kubelet/plan.py), the
names and specs of the node's bridge and a pod's sandbox (kubelet/podnet.py), the
container spec that joins a sandbox (kubelet/containers.py), the pod IP in the status and
the downward API, and the fake runtime handing out addresses from the node's subnet."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelet import containers as cspec
from kubelet.envvars import field_ref
from kubelet.plan import Create, Kill, ObservedContainer, PodView, compute_pod_actions
from kubelet.podnet import (
    OFF,
    ON,
    PENDING,
    PodNetwork,
    bridge_name,
    network_name,
    network_spec,
    sandbox_spec,
)
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_POD_UID,
    LABEL_SANDBOX,
    ContainerInfo,
    RuntimeError_,
)
from kubelet.runtime.fake import FakeRuntime
from kubelet.status import pod_status

UID = "0f0e0d0c-aaaa-bbbb-cccc-000000000001"
CLUSTER = "c1a2b3c4-0000-1111-2222-333333333333"


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": UID},
        "spec": {
            "containers": [
                {"name": "app", "image": "img", "ports": [{"containerPort": 80, "hostPort": 8080}]}
            ],
            **spec,
        },
    }


def info(state: str = "running", sandbox: bool = False, ip: str = "") -> ContainerInfo:
    labels = {LABEL_SANDBOX: "true"} if sandbox else {}
    return ContainerInfo(id="s1" if sandbox else "c1", name="x", labels=labels, state=state, ip=ip)


def view(
    p: dict[str, Any], network: str, sandbox: ContainerInfo | None = None, app: Any = None
) -> PodView:
    observed = {"app": ObservedContainer(current=app)}
    return PodView(pod=p, now=0.0, observed=observed, pod_network=network, sandbox=sandbox)


def test_a_new_pod_gets_a_sandbox_before_its_containers() -> None:
    a = compute_pod_actions(view(pod(), ON))
    assert a.sandbox is not None and a.sandbox.action == "create"
    assert a.own_ip and isinstance(a.steps[0], Create)
    # A running sandbox: nothing to do for it, the pod keeps its own address.
    a = compute_pod_actions(view(pod(), ON, sandbox=info(sandbox=True, ip="10.42.0.2")))
    assert a.sandbox is None and a.own_ip and not a.publish_ports


def test_no_pod_cidr_yet_means_wait_then_the_nodes_address() -> None:
    a = compute_pod_actions(view(pod(), PENDING))
    assert a.sandbox is not None and a.sandbox.action == "wait" and a.steps == ()
    a = compute_pod_actions(view(pod(), OFF))
    assert a.sandbox is None and not a.own_ip and isinstance(a.steps[0], Create)


def test_host_network_and_adopted_pods_get_no_sandbox() -> None:
    a = compute_pod_actions(view(pod(hostNetwork=True), ON))
    assert a.sandbox is None and not a.own_ip
    # Its containers run without one (started before the node had a pod network).
    a = compute_pod_actions(view(pod(), ON, app=info()))
    assert a.sandbox is None and not a.own_ip


def test_a_dead_sandbox_is_recreated_and_its_containers_killed() -> None:
    a = compute_pod_actions(view(pod(), ON, sandbox=info("exited", sandbox=True), app=info()))
    assert a.sandbox is not None and a.sandbox.action == "recreate"
    (kill,) = a.steps
    assert isinstance(kill, Kill) and kill.container_id == "c1"
    assert "sandbox changed" in kill.message


def test_termination_removes_the_sandbox_last_without_a_stop_event() -> None:
    p = pod()
    p["metadata"]["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    sb, app = info(sandbox=True), info()
    v = PodView(pod=p, now=0.0, observed={}, instances=(sb, app))
    t = compute_pod_actions(v).terminate
    assert t is not None
    assert [s.container_id for s in t.stop] == ["c1"]
    assert [i.id for i in t.remove] == ["c1", "s1"]


def test_names_of_the_bridge_and_the_sandbox() -> None:
    net = network_spec(CLUSTER, "gpu-1", "10.42.3.0/24")
    assert net.name == network_name(CLUSTER, "gpu-1") == "kubelab-gpu-1-c1a2b3c4"
    assert net.gateway == "10.42.3.1" and net.subnet == "10.42.3.0/24"
    assert net.labels[LABEL_CLUSTER] == CLUSTER
    assert len(net.bridge) <= 15 and net.bridge == bridge_name(CLUSTER, "gpu-1")
    assert bridge_name(CLUSTER, "gpu-2") != net.bridge
    p = pod(
        hostAliases=[{"ip": "10.1.1.1", "hostnames": ["db"]}],
        securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]},
    )
    sb = sandbox_spec(
        node="gpu-1", cluster=CLUSTER, pod=p, network=net.name, image="pause", address="10.0.0.5"
    )
    assert sb.network == net.name and sb.labels[LABEL_SANDBOX] == "true"
    assert sb.labels[LABEL_POD_UID] == UID and sb.labels[LABEL_CLUSTER] == CLUSTER
    assert sb.hostname == "web" and sb.extra_hosts == ["db:10.1.1.1"]
    assert sb.sysctls == {"net.ipv4.ip_local_port_range": "1 2"}
    # The hostPort is published by the sandbox, which holds the network namespace.
    assert [(m.container_port, m.host_port, m.host_ip) for m in sb.ports] == [
        (80, 8080, "10.0.0.5")
    ]


def test_a_container_joining_the_sandbox_leaves_the_network_to_it() -> None:
    p = pod(securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]})
    c = p["spec"]["containers"][0]
    kw: dict[str, Any] = {
        "node": "n",
        "address": "10.0.0.5",
        "pod": p,
        "container": c,
        "restart_count": 0,
        "env": {},
        "mounts": [],
        "host_ports": {"app/80": 8080},
        "real_gpus": False,
    }
    alone = cspec.build_spec(**kw)
    joined = cspec.build_spec(**kw, network_of="s1")
    assert alone.ports and alone.hostname == "web" and alone.sysctls
    assert joined.network_of == "s1" and joined.network is None
    assert joined.ports == [] and joined.hostname is None and joined.extra_hosts == []
    assert joined.sysctls == {}


def test_pod_ip_in_status_and_downward_api() -> None:
    st = pod_status(pod(), [], runtime="docker", host_ip="10.0.0.5", now="t", pod_ip="10.42.0.7")
    assert st["podIP"] == "10.42.0.7" and st["podIPs"] == [{"ip": "10.42.0.7"}]
    assert st["hostIP"] == "10.0.0.5"
    st = pod_status(pod(), [], runtime="docker", host_ip="10.0.0.5", now="t")
    assert st["podIP"] == "10.0.0.5"
    # On the pod network but its sandbox not up yet: no address, not the node's.
    st = pod_status(pod(), [], runtime="docker", host_ip="10.0.0.5", now="t", pod_ip="")
    assert "podIP" not in st and "podIPs" not in st and st["hostIP"] == "10.0.0.5"
    assert field_ref(pod(), "status.podIP", "10.0.0.5", "10.42.0.7") == "10.42.0.7"
    assert field_ref(pod(), "status.podIP", "10.0.0.5") == "10.0.0.5"


def test_pod_network_state_follows_the_node() -> None:
    clock = [0.0]
    net = PodNetwork("n", cidr_wait=5.0, clock=lambda: clock[0])
    assert net.state == PENDING
    clock[0] = 6.0
    assert net.state == OFF
    net.learn({"spec": {"podCIDR": "10.42.9.0/24", "podCIDRs": ["10.42.9.0/24"]}})
    assert net.state == ON and net.cidr == "10.42.9.0/24"


def test_fake_runtime_hands_out_addresses_from_the_subnet() -> None:
    async def run() -> None:
        rt = FakeRuntime()
        net = network_spec(CLUSTER, "n", "10.42.5.0/30")  # two hosts: .1 gateway, .2
        await rt.ensure_network(net)
        spec = sandbox_spec(
            node="n", cluster=CLUSTER, pod=pod(), network=net.name, image="p", address=""
        )
        first = await rt.create(spec)
        got = await rt.inspect(first)
        assert got is not None and got.ip == "10.42.5.2"
        with pytest.raises(RuntimeError_, match="no free address"):
            await rt.create(spec)
        assert not await rt.remove_network(net.name)  # in use
        await rt.remove(first)
        again = await rt.inspect(await rt.create(spec))
        assert again is not None and again.ip == "10.42.5.2"  # freed and reused
        await rt.close()

    asyncio.run(run())


def test_a_sandbox_of_a_gone_pod_is_a_housekeeping_stray() -> None:
    from kubelet.housekeeping import strays
    from kubelet.ownership import sort_startup_scan

    spec = sandbox_spec(node="n", cluster=CLUSTER, pod=pod(), network="x", image="p", address="")
    sb = ContainerInfo(id="s1", name=spec.name, labels=spec.labels, state="running")
    assert sb.sandbox
    assert strays([sb], CLUSTER, "n", set()) == [sb]
    assert strays([sb], CLUSTER, "n", {UID}) == []
    assert strays([sb], "another-cluster", "n", set()) == []
    assert sort_startup_scan([sb], CLUSTER, "n", set()).orphans == [sb]


def test_a_node_without_pod_cidr_is_read_again_often_then_seldom() -> None:
    clock = [0.0]
    reads: list[str] = []

    class Client:
        async def get(self, resource: str, name: str) -> dict[str, Any]:
            reads.append(name)
            return {"spec": {}}

    net = PodNetwork("n", cidr_wait=5.0, clock=lambda: clock[0])

    async def run() -> None:
        for t in (0.0, 0.1, 0.6, 6.0, 7.0, 16.5):
            clock[0] = t
            await net.refresh(Client())  # type: ignore[arg-type]

    asyncio.run(run())
    # Pending: every 0.5 s (0.0 and 0.6, not 0.1); off: every 10 s (16.5, not 6.0 or 7.0).
    assert len(reads) == 3
