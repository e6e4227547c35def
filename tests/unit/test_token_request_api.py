"""TokenRequest (serviceaccounts/NAME/token), TokenReview of its tokens, the ServiceAccount
admission of pods, and the Node authorizer's rule for tokens: the in-process apiserver."""

from __future__ import annotations

import pytest

from apiserver.identities import ensure_identity_token
from apiserver.sa_tokens import API_AUDIENCE
from apiserver.serviceaccount_admission import MOUNT_PATH
from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

NS = "/api/v1/namespaces/default"
SA_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]


async def _account(api: InProcessApi, name: str, **extra: object) -> dict[str, object]:
    return await api.create(f"{NS}/serviceaccounts", {"metadata": {"name": name}, **extra})


async def _pod(api: InProcessApi, name: str, **spec: object) -> dict[str, object]:
    body = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    return await api.create(f"{NS}/pods", body)


async def _token(
    api: InProcessApi, account: str, spec: dict[str, object], auth: str = ""
) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    code, out = await api.status_of(
        "POST", f"{NS}/serviceaccounts/{account}/token", json=body, headers=headers
    )
    return code, out


async def _review(api: InProcessApi, token: str, audiences: list[str] | None = None) -> dict:
    spec: dict[str, object] = {"token": token}
    if audiences:
        spec["audiences"] = audiences
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    code, out = await api.status_of(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", json=body
    )
    assert code == 201, out
    return dict(out["status"])


async def test_a_requested_token_authenticates_as_the_account(inprocess_api: InProcessApi) -> None:
    await _account(inprocess_api, "runner")
    code, out = await _token(inprocess_api, "runner", {})
    assert code == 201, out
    assert out["kind"] == "TokenRequest"
    assert out["spec"] == {"audiences": [API_AUDIENCE], "expirationSeconds": 3600}
    token = out["status"]["token"]
    assert out["status"]["expirationTimestamp"].endswith("Z")
    status = await _review(inprocess_api, token)
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:runner"
    assert status["user"]["groups"] == SA_GROUPS
    assert status["audiences"] == [API_AUDIENCE]
    # The API takes it; RBAC decides as for any user (no role yet: 403, not 401).
    r = await inprocess_api.client.get(f"{NS}/pods", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403, r.text
    assert "system:serviceaccount:default:runner" in r.json()["message"]


async def test_audiences_and_expiry_are_honoured(inprocess_api: InProcessApi) -> None:
    await _account(inprocess_api, "runner")
    code, out = await _token(
        inprocess_api, "runner", {"audiences": ["vault"], "expirationSeconds": 600}
    )
    assert code == 201, out
    assert out["spec"]["expirationSeconds"] == 600
    token = out["status"]["token"]
    assert (await _review(inprocess_api, token, ["vault"]))["audiences"] == ["vault"]
    # Not for this API: requests with it are refused, as a TokenReview for the API says.
    assert (await _review(inprocess_api, token))["authenticated"] is False
    r = await inprocess_api.client.get(
        "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401
    code, out = await _token(inprocess_api, "runner", {"expirationSeconds": 599})
    assert code == 422 and "spec.expirationSeconds" in out["message"]
    code, out = await _token(inprocess_api, "nobody", {})
    assert code == 404


async def test_a_pod_bound_token_stops_working_with_its_pod(inprocess_api: InProcessApi) -> None:
    await _account(inprocess_api, "runner")
    pod = await _pod(inprocess_api, "worker", serviceAccountName="runner")
    uid = pod["metadata"]["uid"]  # type: ignore[index]
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "worker", "uid": uid}
    code, out = await _token(inprocess_api, "runner", {"boundObjectRef": ref})
    assert code == 201, out
    token = out["status"]["token"]
    assert (await _review(inprocess_api, token))["authenticated"] is True
    code, other = await _token(inprocess_api, "default", {"boundObjectRef": ref})
    assert code in (400, 404), other  # the pod runs as another account
    r = await inprocess_api.client.delete(f"{NS}/pods/worker", params={"gracePeriodSeconds": "0"})
    assert r.status_code == 200, r.text
    status = await _review(inprocess_api, token)
    assert status["authenticated"] is False
    assert "no longer exists" in status["error"]
    r = await inprocess_api.client.get(
        "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401


async def test_a_pod_of_a_missing_account_is_refused(inprocess_api: InProcessApi) -> None:
    code, out = await inprocess_api.status_of(
        "POST",
        f"{NS}/pods",
        json={
            "metadata": {"name": "p"},
            "spec": {"serviceAccountName": "builder", "containers": [{"name": "c", "image": "x"}]},
        },
    )
    assert code == 403, out
    assert "error looking up service account default/builder" in out["message"]


async def test_admission_mounts_the_api_access_volume(inprocess_api: InProcessApi) -> None:
    await _account(inprocess_api, "default")
    pod = await _pod(inprocess_api, "p")
    spec = pod["spec"]
    assert isinstance(spec, dict)
    assert spec["serviceAccountName"] == "default"
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    assert [s for src in vol["projected"]["sources"] for s in src] == [
        "serviceAccountToken",
        "configMap",
        "downwardAPI",
    ]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": vol["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    ]
    off = await _pod(inprocess_api, "q", automountServiceAccountToken=False)
    assert not off["spec"].get("volumes")  # type: ignore[attr-defined]
    await _account(inprocess_api, "quiet", automountServiceAccountToken=False)
    quiet = await _pod(inprocess_api, "r", serviceAccountName="quiet")
    assert not quiet["spec"].get("volumes")  # type: ignore[attr-defined]


async def test_a_node_gets_tokens_only_for_its_own_pods(inprocess_api: InProcessApi) -> None:
    await _account(inprocess_api, "default")
    mine = await _pod(inprocess_api, "mine", nodeName="n1")
    theirs = await _pod(inprocess_api, "theirs", nodeName="n2")
    node = ensure_identity_token(inprocess_api.home, "system:node:n1", ["system:nodes"])

    def ref(pod: dict[str, object]) -> dict[str, object]:
        meta = pod["metadata"]
        assert isinstance(meta, dict)
        return {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"]}

    code, out = await _token(inprocess_api, "default", {"boundObjectRef": ref(mine)}, auth=node)
    assert code == 201, out
    code, out = await _token(inprocess_api, "default", {"boundObjectRef": ref(theirs)}, auth=node)
    assert code == 403, out
    code, out = await _token(inprocess_api, "default", {}, auth=node)
    assert code == 403, out
