"""ClusterIP allocation in the apiserver (in process): every ClusterIP, NodePort and
LoadBalancer Service gets one from the service CIDR, headless and ExternalName Services
none; a requested address is honoured or refused with Kubernetes' 422; no two Services
ever share one, even when their creates race; delete and a move to ExternalName release
it; an update keeps it and may not change it; the kubernetes Service points at the API."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from tests.inprocess import InProcessApi, inprocess_apiserver
from tests.wait import wait_for_async

pytestmark = pytest.mark.anyio

SVCS = "/api/v1/namespaces/default/services"
RANGE = ipaddress.ip_network("10.43.0.0/16")


def svc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": name}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


async def test_every_service_type_with_an_address_gets_one(inprocess_api: InProcessApi) -> None:
    seen = set()
    for name, stype in (("a", "ClusterIP"), ("b", "NodePort"), ("c", "LoadBalancer")):
        out = await inprocess_api.create(SVCS, svc(name, type=stype))
        spec = out["spec"]
        assert ipaddress.ip_address(spec["clusterIP"]) in RANGE
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
        assert out["status"] == {"loadBalancer": {}}
        seen.add(spec["clusterIP"])
    assert len(seen) == 3
    # The stored object says the same as the create's reply.
    _, stored = await inprocess_api.status_of("GET", f"{SVCS}/a")
    assert stored["spec"]["clusterIP"] in seen


async def test_headless_and_external_name_get_no_address(inprocess_api: InProcessApi) -> None:
    headless = await inprocess_api.create(SVCS, svc("h", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["clusterIPs"] == ["None"]
    assert headless["spec"]["ipFamilies"] == ["IPv4"]
    ext = await inprocess_api.create(
        SVCS,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "e"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com"},
        },
    )
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(ext["spec"])
    assert ext["status"] == {"loadBalancer": {}}


async def test_a_requested_address_is_honoured_then_refused_to_others(
    inprocess_api: InProcessApi,
) -> None:
    out = await inprocess_api.create(SVCS, svc("a", clusterIP="10.43.0.5"))
    assert out["spec"]["clusterIPs"] == ["10.43.0.5"]
    code, status = await inprocess_api.status_of("POST", SVCS, json=svc("b", clusterIP="10.43.0.5"))
    assert code == 422, status
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(
        'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.5"]: '
        "failed to allocate IP 10.43.0.5: provided IP is already allocated"
    )
    assert "leave clusterIP out" in status["message"]
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.clusterIPs"]
    code, _ = await inprocess_api.status_of("GET", f"{SVCS}/b")
    assert code == 404


async def test_an_address_outside_the_range_is_refused(inprocess_api: InProcessApi) -> None:
    code, status = await inprocess_api.status_of("POST", SVCS, json=svc("b", clusterIP="10.9.0.5"))
    assert code == 422, status
    assert (
        "failed to allocate IP 10.9.0.5: provided IP is not in the valid range. The range of "
        "valid IPs is 10.43.0.0/16" in status["message"]
    )


async def test_the_reserved_addresses_are_kept_for_their_services(
    inprocess_api: InProcessApi,
) -> None:
    code, status = await inprocess_api.status_of("POST", SVCS, json=svc("b", clusterIP="10.43.0.1"))
    assert code == 422 and "provided IP is already allocated" in status["message"]
    code, status = await inprocess_api.status_of(
        "POST", SVCS, json=svc("b", clusterIP="10.43.0.10")
    )
    assert code == 422 and "reserved for the Service kube-system/kube-dns" in status["message"]
    dns = svc("kube-dns", clusterIP="10.43.0.10")
    out = await inprocess_api.create("/api/v1/namespaces/kube-system/services", dns)
    assert out["spec"]["clusterIP"] == "10.43.0.10"


async def test_delete_releases_the_address(inprocess_api: InProcessApi) -> None:
    a = await inprocess_api.create(SVCS, svc("a"))
    ip = a["spec"]["clusterIP"]
    code, _ = await inprocess_api.status_of("DELETE", f"{SVCS}/a")
    assert code == 200
    b = await inprocess_api.create(SVCS, svc("b", clusterIP=ip))
    assert b["spec"]["clusterIP"] == ip


async def test_update_keeps_the_address_and_may_not_change_it(
    inprocess_api: InProcessApi,
) -> None:
    a = await inprocess_api.create(SVCS, svc("a"))
    ip = a["spec"]["clusterIP"]
    # A PUT of the original manifest (no clusterIP, as kubectl replace sends) keeps it.
    code, out = await inprocess_api.status_of("PUT", f"{SVCS}/a", json=svc("a", type="NodePort"))
    assert code == 200, out
    assert (out["spec"]["clusterIP"], out["spec"]["clusterIPs"]) == (ip, [ip])
    changed = dict(out)
    changed["spec"] = {**out["spec"], "clusterIP": "10.43.0.77", "clusterIPs": ["10.43.0.77"]}
    code, status = await inprocess_api.status_of("PUT", f"{SVCS}/a", json=changed)
    assert code == 422, status
    assert 'spec.clusterIP: Invalid value: "10.43.0.77": field is immutable' in status["message"]
    assert (
        "spec.clusterIPs[0]" in status["message"]
        and "may not change once set" in (status["message"])
    )
    code, status = await inprocess_api.status_of(
        "PATCH",
        f"{SVCS}/a",
        json={"spec": {"clusterIP": "10.43.0.78"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert code == 422 and "field is immutable" in status["message"], status
    # The refused address stays free: another Service may have it.
    other = await inprocess_api.create(SVCS, svc("b", clusterIP="10.43.0.77"))
    assert other["spec"]["clusterIP"] == "10.43.0.77"


async def test_external_name_and_back_releases_then_allocates(
    inprocess_api: InProcessApi,
) -> None:
    a = await inprocess_api.create(SVCS, svc("a"))
    ip = a["spec"]["clusterIP"]
    code, out = await inprocess_api.status_of(
        "PATCH",
        f"{SVCS}/a",
        json={"spec": {"type": "ExternalName", "externalName": "db.example.com"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert code == 200, out
    assert "clusterIP" not in out["spec"] and "ipFamilies" not in out["spec"]
    b = await inprocess_api.create(SVCS, svc("b", clusterIP=ip))  # released
    assert b["spec"]["clusterIP"] == ip
    code, out = await inprocess_api.status_of(
        "PATCH",
        f"{SVCS}/a",
        json={"spec": {"type": "ClusterIP", "externalName": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert code == 200, out
    assert out["spec"]["clusterIP"] not in ("", ip, None)


async def test_racing_creates_never_share_an_address_and_a_full_range_says_so(
    tmp_path: Path,
) -> None:
    # A /28 holds 14 addresses: .1 is the kubernetes Service's, .10 kept for kube-dns.
    async with inprocess_apiserver(tmp_path / "home", service_cidr="10.43.0.0/28") as api:
        replies = await asyncio.gather(
            *(api.status_of("POST", SVCS, json=svc(f"s{i}")) for i in range(13))
        )
        ok = [body["spec"]["clusterIP"] for code, body in replies if code == 201]
        full = [body for code, body in replies if code != 201]
        assert len(ok) == 12 and len(set(ok)) == 12
        assert not {"10.43.0.1", "10.43.0.10"} & set(ok)
        (refused,) = full
        assert refused["code"] == 500 and "range is full" in refused["message"]
        assert "--service-cidr" in refused["message"]


async def test_a_restarted_apiserver_knows_the_addresses_held(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with inprocess_apiserver(home) as api:
        await api.create(SVCS, svc("a", clusterIP="10.43.0.5"))
    async with inprocess_apiserver(home) as api:
        code, status = await api.status_of("POST", SVCS, json=svc("b", clusterIP="10.43.0.5"))
        assert code == 422 and "already allocated" in status["message"]


async def test_the_kubernetes_service_points_at_the_apiserver(inprocess_api: InProcessApi) -> None:
    _, k8s = await inprocess_api.status_of("GET", f"{SVCS}/kubernetes")
    spec = k8s["spec"]
    assert (spec["type"], spec["clusterIP"], spec["clusterIPs"]) == (
        "ClusterIP",
        "10.43.0.1",
        ["10.43.0.1"],
    )
    assert spec["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    assert "selector" not in spec  # its endpoints are the apiserver's own, not pods'
    assert k8s["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    _, ep = await inprocess_api.status_of("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    assert ep["subsets"] == [
        {
            "addresses": [{"ip": "127.0.0.1"}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
        }
    ]
    _, es = await inprocess_api.status_of(
        "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
    )
    assert es["addressType"] == "IPv4"
    assert es["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
    assert es["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"


async def test_the_kubernetes_service_is_put_back_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with inprocess_apiserver(home) as api:
        for path in (
            f"{SVCS}/kubernetes",
            "/api/v1/namespaces/default/endpoints/kubernetes",
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
        ):
            code, _ = await api.status_of("DELETE", path)
            assert code == 200
    async with inprocess_apiserver(home) as api:
        _, k8s = await api.status_of("GET", f"{SVCS}/kubernetes")
        assert k8s["spec"]["clusterIP"] == "10.43.0.1"
        code, _ = await api.status_of("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
        assert code == 200
        rv = k8s["metadata"]["resourceVersion"]
    async with inprocess_apiserver(home) as api:
        # Unchanged at the next start: nothing rewritten.
        _, again = await api.status_of("GET", f"{SVCS}/kubernetes")
        assert again["metadata"]["resourceVersion"] == rv


async def test_endpoint_slices_are_validated_and_listed_as_kubectl_shows(
    inprocess_api: InProcessApi,
) -> None:
    path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    bad = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "x"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["fd00::1"]}],
    }
    code, status = await inprocess_api.status_of("POST", path, json=bad)
    assert code == 422 and "endpoints[0].addresses[0]" in status["message"], status
    code, status = await inprocess_api.status_of("POST", path, json={**bad, "addressType": "X"})
    assert code == 422 and "addressType" in status["message"]
    good = {
        **bad,
        "endpoints": [{"addresses": [f"10.42.0.{i}"]} for i in range(1, 6)],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    await inprocess_api.create(path, good)
    r = await inprocess_api.client.get(
        path, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "AddressType",
        "Ports",
        "Endpoints",
        "Age",
    ]
    cells = {row["cells"][0]: row["cells"][1:4] for row in table["rows"]}
    assert cells["x"] == ["IPv4", "8080", "10.42.0.1,10.42.0.2,10.42.0.3 + 2 more..."]
    assert cells["kubernetes"] == ["IPv4", "6443", "127.0.0.1"]
    x = await inprocess_api.client.get(f"{path}/x")
    code, status = await inprocess_api.status_of(
        "PUT", f"{path}/x", json={**x.json(), "addressType": "IPv6"}
    )
    assert code == 422 and "field is immutable" in status["message"]


async def test_a_deleted_kubernetes_service_comes_back(tmp_path: Path) -> None:
    # As Kubernetes' bootstrap controller: `kubectl delete svc --all` in default must not
    # leave pods without the API until the next apiserver start.
    async with inprocess_apiserver(tmp_path / "home", kubernetes_service_period=0.05) as api:
        for path in (f"{SVCS}/kubernetes", "/api/v1/namespaces/default/endpoints/kubernetes"):
            code, _ = await api.status_of("DELETE", path)
            assert code == 200

        async def back() -> bool | None:
            svc_code, k8s = await api.status_of("GET", f"{SVCS}/kubernetes")
            ep_code, _ = await api.status_of(
                "GET", "/api/v1/namespaces/default/endpoints/kubernetes"
            )
            ok = svc_code == 200 and ep_code == 200 and k8s["spec"]["clusterIP"] == "10.43.0.1"
            return ok or None

        found: bool = await wait_for_async(
            back, "the kubernetes Service and Endpoints put back", 10
        )
        assert found


async def test_services_stored_before_the_service_cidr_get_an_address_at_start(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    async with inprocess_apiserver(home) as api:
        await api.create(SVCS, svc("old"))
        await api.create(SVCS, svc("headless", clusterIP="None"))

        def strip(current: dict[str, Any] | None) -> dict[str, Any] | None:
            # What a store written before ClusterIPs were allocated holds.
            assert current is not None
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                current["spec"].pop(key, None)
            return current

        await api.server.store.mutate("/services", "default", "old", strip)
        _, stored = await api.status_of("GET", f"{SVCS}/old")
        assert "clusterIP" not in stored["spec"]
    async with inprocess_apiserver(home) as api:
        _, old = await api.status_of("GET", f"{SVCS}/old")
        ip = old["spec"]["clusterIP"]
        assert ipaddress.ip_address(ip) in RANGE and old["spec"]["ipFamilies"] == ["IPv4"]
        _, headless = await api.status_of("GET", f"{SVCS}/headless")
        assert headless["spec"]["clusterIP"] == "None"
        code, status = await api.status_of("POST", SVCS, json=svc("b", clusterIP=ip))
        assert code == 422 and "already allocated" in status["message"]


async def test_the_kubernetes_service_follows_the_apiservers_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with inprocess_apiserver(home):
        pass
    async with inprocess_apiserver(home, server_address="127.0.0.1:7443") as api:
        _, k8s = await api.status_of("GET", f"{SVCS}/kubernetes")
        assert k8s["spec"]["ports"][0]["targetPort"] == 7443
        assert k8s["spec"]["clusterIP"] == "10.43.0.1"
        _, ep = await api.status_of("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
        assert ep["subsets"][0]["ports"][0]["port"] == 7443
        _, es = await api.status_of(
            "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
        )
        assert es["ports"][0]["port"] == 7443


async def test_a_service_from_an_older_range_can_still_be_updated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with inprocess_apiserver(home) as api:
        old = await api.create(SVCS, svc("a"))
    async with inprocess_apiserver(home, service_cidr="10.96.0.0/16") as api:
        # Its address is outside the new range: kept (immutable), and its other fields
        # still change; a new Service gets one of the new range.
        code, out = await api.status_of(
            "PATCH",
            f"{SVCS}/a",
            json={"metadata": {"labels": {"tier": "web"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert code == 200, out
        assert out["spec"]["clusterIP"] == old["spec"]["clusterIP"]
        new = await api.create(SVCS, svc("b"))
        assert ipaddress.ip_address(new["spec"]["clusterIP"]) in ipaddress.ip_network(
            "10.96.0.0/16"
        )
