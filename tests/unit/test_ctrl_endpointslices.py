"""EndpointSlices from the endpoints controller: the same pods as the Endpoints, with
conditions, ports, nodeName, targetRef, the Service's labels and owner (pure)."""

from __future__ import annotations

import copy
import json
from typing import Any

from controllers import endpoints, endpointslices
from tests.unit.test_ctrl_endpoints import SVC, pod

SVC_UID: dict[str, Any] = copy.deepcopy(SVC)
SVC_UID["metadata"]["uid"] = "svc-uid"
PORTS = {"srv/8080": 31001, "srv/9100": 31002}


def slices_of(svc: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    members = endpoints.pod_endpoints(svc, pods, {}, include_terminating=True)
    return endpointslices.desired_endpoint_slices(svc, members)


def test_one_slice_with_conditions_ports_and_references() -> None:
    terminating = pod(
        "t",
        True,
        PORTS,
        host_ip="10.0.0.4",
        metadata={
            "name": "t",
            "namespace": "default",
            "uid": "u-t",
            "labels": {"app": "web"},
            "annotations": {"kubelab.io/host-ports": json.dumps(PORTS)},
            "deletionTimestamp": "2024-01-01T00:00:00Z",
        },
    )
    pods = [
        pod("a", True, PORTS),
        pod("c", False, PORTS, host_ip="10.0.0.3", node="n3"),
        terminating,
    ]
    (es,) = slices_of(SVC_UID, pods)
    assert es["apiVersion"] == "discovery.k8s.io/v1" and es["kind"] == "EndpointSlice"
    assert es["addressType"] == "IPv4"
    assert es["metadata"]["name"].startswith("web-")
    assert es["metadata"]["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert es["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": "svc-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert es["ports"] == [
        {"name": "http", "port": 31001, "protocol": "TCP"},
        {"name": "metrics", "port": 31002, "protocol": "TCP"},
    ]
    by_name = {e["targetRef"]["name"]: e for e in es["endpoints"]}
    assert by_name["a"] == {
        "addresses": ["10.0.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "u-a"},
        "nodeName": "n1",
    }
    assert by_name["c"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    # A terminating pod stays in the slice, not ready but still serving (its readiness).
    assert by_name["t"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    # ... and is not in the Endpoints at all, as Kubernetes has it.
    ep = endpoints.desired_endpoints(SVC_UID, pods, {})
    listed = [
        a["targetRef"]["name"] for s in ep["subsets"] for k in s for a in s[k] if k != "ports"
    ]
    assert sorted(listed) == ["a", "c"]


def test_no_pods_leaves_a_placeholder_and_differing_ports_split() -> None:
    (empty,) = slices_of(SVC_UID, [])
    assert empty["endpoints"] == [] and empty["ports"] == []
    split = slices_of(
        SVC_UID,
        [pod("a", True, PORTS), pod("b", True, {"srv/8080": 31005, "srv/9100": 31006})],
    )
    assert len(split) == 2
    assert {s["ports"][0]["port"] for s in split} == {31001, 31005}
    assert len({s["metadata"]["name"] for s in split}) == 2


def test_headless_label_and_hostname_for_its_subdomain() -> None:
    headless = {**SVC_UID, "spec": {**SVC_UID["spec"], "clusterIP": "None"}}
    p = pod("a", True, PORTS)
    p["spec"].update({"hostname": "web-0", "subdomain": "web"})
    (es,) = slices_of(headless, [p])
    assert es["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert es["endpoints"][0]["hostname"] == "web-0"
    ep = endpoints.desired_endpoints(headless, [p], {})
    assert ep["subsets"][0]["addresses"][0]["hostname"] == "web-0"


def test_reconcile_creates_replaces_deletes_and_leaves_others_alone() -> None:
    pods = [pod("a", True, PORTS)]
    members = endpoints.pod_endpoints(SVC_UID, pods, {}, include_terminating=True)
    res = endpointslices.reconcile_slices(SVC_UID, [], members, namespace="default", name="web")
    (create,) = res.of("create", "endpointslices")
    assert create.body is not None
    stored = {**create.body, "metadata": {**create.body["metadata"], "resourceVersion": "3"}}
    again = endpointslices.reconcile_slices(
        SVC_UID, [stored], members, namespace="default", name="web"
    )
    assert again.actions == []
    pods.append(pod("b", False, PORTS, host_ip="10.0.0.9"))
    members = endpoints.pod_endpoints(SVC_UID, pods, {}, include_terminating=True)
    (upd,) = endpointslices.reconcile_slices(
        SVC_UID, [stored], members, namespace="default", name="web"
    ).actions
    assert upd.verb == "replace" and upd.body is not None
    assert upd.body["metadata"]["resourceVersion"] == "3"
    assert len(upd.body["endpoints"]) == 2
    # The Service gone: its slices go.
    (gone,) = endpointslices.reconcile_slices(
        None, [stored], [], namespace="default", name="web"
    ).actions
    assert gone.verb == "delete" and gone.name == stored["metadata"]["name"]
    # Slices of other managers (the apiserver's own kubernetes slice) are not ours.
    theirs = {"metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "web"}}}
    assert endpointslices.managed_slices([theirs, stored], "web") == [stored]


def test_hand_written_endpoints_of_a_selectorless_service_are_mirrored() -> None:
    svc: dict[str, Any] = {
        "metadata": {"name": "db", "namespace": "default", "uid": "s"},
        "spec": {"ports": []},
    }
    ep: dict[str, Any] = {
        "metadata": {"name": "db", "namespace": "default", "uid": "e", "labels": {"x": "y"}},
        "subsets": [
            {
                "addresses": [{"ip": "192.0.2.10", "hostname": "db-0"}],
                "notReadyAddresses": [{"ip": "192.0.2.11"}],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }
        ],
    }
    res = endpointslices.reconcile_slices(
        svc, [], [], namespace="default", name="db", hand_written=ep
    )
    (create,) = res.of("create", "endpointslices")
    es = create.body
    assert es is not None
    assert es["metadata"]["labels"] == {
        "x": "y",
        "kubernetes.io/service-name": "db",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert es["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert es["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    assert es["endpoints"] == [
        {"addresses": ["192.0.2.10"], "conditions": {"ready": True}, "hostname": "db-0"},
        {"addresses": ["192.0.2.11"], "conditions": {"ready": False}},
    ]
    # The apiserver's own kubernetes Endpoints say skip-mirror: it writes its own slice.
    skip = {
        **ep,
        "metadata": {
            **ep["metadata"],
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
    }
    assert (
        endpointslices.reconcile_slices(
            svc, [], [], namespace="default", name="db", hand_written=skip
        ).actions
        == []
    )
    # A selector added later: the mirrored slice goes, the pods' slice comes.
    stored = {**es, "metadata": {**es["metadata"], "resourceVersion": "4"}}
    with_selector = {**SVC_UID, "metadata": {**SVC_UID["metadata"], "name": "db"}}
    actions = endpointslices.reconcile_slices(
        with_selector, [stored], [], namespace="default", name="db", hand_written=ep
    ).actions
    assert sorted(a.verb for a in actions) == ["create", "delete"]
