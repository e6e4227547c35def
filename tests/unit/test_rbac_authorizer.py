"""The authorizer honours RBAC objects as they change (in-process apiserver): the index
follows the store's change stream, and HOME/rbac.yaml is translated into bindings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apiserver.auth import add_token
from apiserver.authz import add_binding
from tests.inprocess import InProcessApi
from tests.wait import wait_for_async

pytestmark = pytest.mark.anyio

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def as_user(api: InProcessApi, user: str, groups: list[str] | None = None) -> httpx.AsyncClient:
    token = add_token(api.home / "tokens.csv", user, groups or [])
    return httpx.AsyncClient(
        transport=api.client._transport,
        base_url=str(api.client.base_url),
        headers={"Authorization": f"Bearer {token}"},
    )


def binding(name: str, role_kind: str, role: str, kind: str = "User", who: str = "dan") -> Any:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": kind, "name": who, "apiGroup": "rbac.authorization.k8s.io"}],
    }


async def test_bindings_take_effect_and_lapse_with_each_write(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    dan = as_user(api, "dan", ["devs"])
    cms = "/api/v1/namespaces/default/configmaps"
    assert (await dan.get(cms)).status_code == 403
    await api.create(
        f"{RBAC}/namespaces/default/roles",
        {"metadata": {"name": "cm"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]},
    )  # fmt: skip
    await api.create(
        f"{RBAC}/namespaces/default/rolebindings", binding("g", "Role", "cm", "Group", "devs")
    )
    assert (await dan.get(cms)).status_code == 200
    # Only in that namespace, only that verb.
    assert (await dan.get("/api/v1/namespaces/kube-system/configmaps")).status_code == 403
    assert (await dan.post(cms, json={"metadata": {"name": "x"}})).status_code == 403
    # Changing the Role changes what the binding grants.
    r = await api.client.patch(
        f"{RBAC}/namespaces/default/roles/cm",
        json={"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert (await dan.get(cms)).status_code == 403
    assert (await dan.post(cms, json={"metadata": {"name": "x"}})).status_code == 201
    # Deleting the binding takes it all away.
    r = await api.client.delete(f"{RBAC}/namespaces/default/rolebindings/g")
    assert r.status_code == 200, r.text
    assert (await dan.post(cms, json={"metadata": {"name": "y"}})).status_code == 403


async def test_rbac_file_is_translated_into_bindings_and_removal_revokes(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    erin = as_user(api, "erin")
    pods = "/api/v1/namespaces/default/pods"
    assert (await erin.get(pods)).status_code == 403
    add_binding(api.home / "rbac.yaml", "erin", "view", ["default"])
    assert (await erin.get(pods)).status_code == 200
    r = await api.client.get(f"{RBAC}/namespaces/default/rolebindings/kubelab-file:view:erin")
    assert r.status_code == 200, r.text
    assert r.json()["roleRef"]["name"] == "view"
    # The binding is the truth: the file only feeds it. Emptying the file removes it
    # (looked at within a second while the user's requests are allowed).
    (api.home / "rbac.yaml").write_text("bindings: []\n")

    async def refused() -> bool:
        return (await erin.get(pods)).status_code == 403

    await wait_for_async(refused, "the emptied RBAC file revokes erin's view", timeout=10)  # type: ignore[arg-type]
    r = await api.client.get(f"{RBAC}/namespaces/default/rolebindings/kubelab-file:view:erin")
    assert r.status_code == 404


async def test_scheduler_and_controller_manager_identities_are_bound_roles(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    sched = as_user(api, "system:kube-scheduler")
    assert (await sched.get("/api/v1/nodes")).status_code == 200
    assert (await sched.post("/api/v1/namespaces/default/configmaps",
                             json={"metadata": {"name": "no"}})).status_code == 403  # fmt: skip
    # Taking the scheduler's binding away takes its rights away: it is an ordinary object.
    r = await api.client.delete(f"{RBAC}/clusterrolebindings/system:kube-scheduler")
    assert r.status_code == 200, r.text
    assert (await sched.get("/api/v1/nodes")).status_code == 403


async def test_escalation_is_checked_on_patches_and_aggregation_rules(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(
        f"{RBAC}/clusterroles",
        {"metadata": {"name": "role-admin"}, "rules": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
             "verbs": ["create", "patch", "get"]}]},
    )  # fmt: skip
    await api.create(
        f"{RBAC}/clusterrolebindings", binding("fay", "ClusterRole", "role-admin", who="fay")
    )
    fay = as_user(api, "fay")
    mine = {"metadata": {"name": "fays"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["get"]}]}  # fmt: skip
    assert (await fay.post(f"{RBAC}/clusterroles", json=mine)).status_code == 201
    # A merge patch that grows the rules is checked on the object it would store.
    r = await fay.patch(
        f"{RBAC}/clusterroles/fays",
        json={"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["delete"]}]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 403, r.text
    assert '{APIGroups:[""], Resources:["nodes"], Verbs:["delete"]}' in r.json()["message"]
    got = (await api.client.get(f"{RBAC}/clusterroles/fays")).json()
    assert got["rules"] == mine["rules"]
    # A label change grants nothing and is not refused.
    r = await fay.patch(
        f"{RBAC}/clusterroles/fays",
        json={"metadata": {"labels": {"team": "x"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    # An aggregationRule needs the escalate verb (its rules come from other roles).
    agg = {"metadata": {"name": "fays-agg"}, "aggregationRule": {"clusterRoleSelectors": [
        {"matchLabels": {"team": "x"}}]}}  # fmt: skip
    r = await fay.post(f"{RBAC}/clusterroles", json=agg)
    assert r.status_code == 403 and "aggregationRule" in r.json()["message"], r.text


async def test_review_apis_answer_without_storing(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    gus = as_user(api, "gus", ["lab"])
    await api.create(
        f"{RBAC}/namespaces/default/rolebindings", binding("gus", "ClusterRole", "view", who="gus")
    )
    tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
          "spec": {"token": gus.headers["Authorization"][7:]}}  # fmt: skip
    r = await api.client.post("/apis/authentication.k8s.io/v1/tokenreviews", json=tr)
    assert r.status_code == 201, r.text
    assert r.json()["status"]["authenticated"] is True
    assert r.json()["status"]["user"]["username"] == "gus"
    assert r.json()["status"]["user"]["groups"] == ["lab", "system:authenticated"]
    tr["spec"] = {"token": "nope"}
    r = await api.client.post("/apis/authentication.k8s.io/v1/tokenreviews", json=tr)
    assert r.json()["status"]["authenticated"] is False
    # Only who may create tokenreviews may ask; everyone may ask about themselves.
    r = await gus.post("/apis/authentication.k8s.io/v1/tokenreviews", json=tr)
    assert r.status_code == 403
    rules = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
             "spec": {"namespace": "default"}}  # fmt: skip
    r = await gus.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json=rules)
    assert r.status_code == 201, r.text
    got = r.json()["status"]["resourceRules"]
    assert any("pods" in x["resources"] and "list" in x["verbs"] for x in got)
    assert not any("secrets" in x["resources"] for x in got)
    # A local review is decided in the URL's namespace.
    lsar = {"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
            "spec": {"user": "gus", "resourceAttributes": {"verb": "list", "resource": "pods"}}}  # fmt: skip
    path = "/apis/authorization.k8s.io/v1/namespaces/{}/localsubjectaccessreviews"
    r = await api.client.post(path.format("default"), json=lsar)
    assert r.status_code == 201 and r.json()["status"]["allowed"] is True, r.text
    r = await api.client.post(path.format("kube-system"), json=lsar)
    assert r.json()["status"]["allowed"] is False
    # Reviews are not stored: no GET, and a misspelled field is refused, not ignored.
    r = await api.client.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert r.status_code == 405
    bad = {"spec": {"resourceAttribute": {"verb": "get", "resource": "pods"}}}
    r = await gus.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=bad)
    assert r.status_code == 400 and "spec.resourceAttribute" in r.json()["message"], r.text


async def test_rbac_file_binding_waits_for_its_namespace(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    hal = as_user(api, "hal")
    add_binding(api.home / "rbac.yaml", "hal", "edit", ["later"])
    pods = "/api/v1/namespaces/later/pods"
    assert (await hal.get(pods)).status_code == 403  # no namespace, so no RoleBinding yet
    await api.create("/api/v1/namespaces", {"metadata": {"name": "later"}})
    # The next refused request looks at the file again and writes the binding.
    assert (await hal.get(pods)).status_code == 200
    r = await api.client.get(f"{RBAC}/namespaces/later/rolebindings/kubelab-file:edit:hal")
    assert r.status_code == 200 and r.json()["roleRef"]["name"] == "edit"
