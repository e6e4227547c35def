"""Every write records its manager in managedFields, in process (apiserver/objects.py
through apiserver/server_side_apply.py): a create, PUT or non-apply PATCH is an Update
entry of ``?fieldManager=`` or the User-Agent's first word, ``/status`` and ``/scale``
writes carry their subresource, and a later server-side apply conflicts with them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = {"content-type": "application/merge-patch+json"}
APPLY = {"content-type": "application/apply-patch+yaml"}


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def owners(obj: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
        for e in obj["metadata"]["managedFields"]
    }


async def test_a_create_is_an_update_entry_of_its_field_manager(
    inprocess_api: InProcessApi,
) -> None:
    made = await inprocess_api.create(DEPLOYMENTS, deployment("a"), fieldManager="kubectl-create")
    ((key, fields),) = owners(made).items()
    assert key == ("kubectl-create", "Update", "")
    assert fields["f:spec"]["f:replicas"] == {}
    (entry,) = made["metadata"]["managedFields"]
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1"


async def test_without_field_manager_the_user_agent_names_it(inprocess_api: InProcessApi) -> None:
    r = await inprocess_api.client.post(
        DEPLOYMENTS,
        json=deployment("b"),
        headers={"user-agent": "OpenAPI-Generator/31.0.0/python"},
    )
    assert r.status_code == 201, r.text
    assert set(owners(r.json())) == {("OpenAPI-Generator", "Update", "")}


async def test_an_apply_conflicts_with_a_patch_that_changed_its_field(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(DEPLOYMENTS, deployment("c"), fieldManager="kubectl-create")
    path = f"{DEPLOYMENTS}/c"
    code, _ = await api.status_of(
        "PATCH", path, params={"fieldManager": "kubectl-edit"}, headers=MERGE,
        content=b'{"spec":{"replicas":5}}',
    )  # fmt: skip
    assert code == 200
    code, body = await api.status_of(
        "PATCH", path, params={"fieldManager": "helm"}, headers=APPLY,
        content=b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"c"},'
        b'"spec":{"replicas":3}}',
    )  # fmt: skip
    assert code == 409, body
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"
    code, forced = await api.status_of(
        "PATCH", path, params={"fieldManager": "helm", "force": "true"}, headers=APPLY,
        content=b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"c"},'
        b'"spec":{"replicas":3}}',
    )  # fmt: skip
    assert code == 200 and forced["spec"]["replicas"] == 3
    assert set(owners(forced)) == {("kubectl-create", "Update", ""), ("helm", "Apply", "")}


async def test_status_and_scale_writes_carry_their_subresource(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    made = await api.create(DEPLOYMENTS, deployment("d"), fieldManager="kubectl-create")
    path = f"{DEPLOYMENTS}/d"
    status = {**made, "status": {"replicas": 2, "observedGeneration": 1}}
    code, _ = await api.status_of(
        "PUT", f"{path}/status", params={"fieldManager": "kube-controller-manager"}, json=status
    )
    assert code == 200
    code, _ = await api.status_of(
        "PATCH", f"{path}/scale", params={"fieldManager": "kubectl-scale"}, headers=MERGE,
        content=b'{"spec":{"replicas":4}}',
    )  # fmt: skip
    assert code == 200
    _, live = await api.status_of("GET", path)
    got = owners(live)
    assert got[("kube-controller-manager", "Update", "status")]["f:status"]["f:replicas"] == {}
    assert got[("kubectl-scale", "Update", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in got[("kubectl-create", "Update", "")]["f:spec"]


async def test_a_field_manager_over_128_characters_is_refused(inprocess_api: InProcessApi) -> None:
    code, body = await inprocess_api.status_of(
        "POST", DEPLOYMENTS, params={"fieldManager": "m" * 129}, json=deployment("e")
    )
    assert code == 422, body
    assert body["details"]["causes"][0]["field"] == "fieldManager"


async def test_a_write_with_no_manager_and_no_user_agent_is_recorded_nameless(
    inprocess_api: InProcessApi,
) -> None:
    # kube-apiserver records it too, its manager left out (wrk, curl -A '')
    r = await inprocess_api.client.post(
        DEPLOYMENTS, json=deployment("f"), headers={"user-agent": ""}
    )
    assert r.status_code == 201, r.text
    (entry,) = r.json()["metadata"]["managedFields"]
    assert "manager" not in entry and entry["operation"] == "Update"
