"""``POST serviceaccounts/NAME/token``: authentication.k8s.io/v1 TokenRequest.

As kube-apiserver: the answer is the posted request with ``status.token`` and
``status.expirationTimestamp`` (201, nothing stored). ``spec.audiences`` defaults to the
API's own audience, ``spec.expirationSeconds`` to 3600 (at least 600), and
``spec.boundObjectRef`` may bind the token to a Pod of the account: the token then stops
working once that pod is gone. Binding to a Secret or Node (which Kubernetes allows too)
is refused with a Status saying so, rather than ignored.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError, Cause, bad_request, invalid, not_found
from apiserver.objects import rfc3339
from apiserver.sa_tokens import API_AUDIENCE, Binding, TokenSigner, expiration_seconds

GROUP = "authentication.k8s.io"
_SPEC_KEYS = {"audiences", "expirationSeconds", "boundObjectRef"}

Obj = dict[str, Any]


def _bad(field: str, why: str) -> ApiError:
    return invalid("TokenRequest", "", [Cause(field, why)], GROUP)


def bound_pod_ref(body: Any) -> Obj | None:
    """``spec.boundObjectRef`` of a TokenRequest body when it names a Pod, else None."""
    spec = body.get("spec") if isinstance(body, dict) else None
    ref = spec.get("boundObjectRef") if isinstance(spec, dict) else None
    if isinstance(ref, dict) and ref.get("kind") == "Pod":
        return ref
    return None


def issue_token(
    signer: TokenSigner,
    store: Any,
    namespace: str,
    name: str,
    body: Any,
    now: float | None = None,
) -> Obj:
    """The answered TokenRequest for account ``namespace/name``; a Status if refused."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON or YAML TokenRequest object")
    if body.get("kind") not in (None, "TokenRequest") or body.get("apiVersion") not in (
        None,
        f"{GROUP}/v1",
    ):
        raise bad_request(
            f"the body is a {body.get('apiVersion')} {body.get('kind')}; "
            f"serviceaccounts/token takes a {GROUP}/v1 TokenRequest"
        )
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise _bad("spec", "must be an object")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise _bad(
            f"spec.{unknown[0]}", f"unknown field; spec has: {', '.join(sorted(_SPEC_KEYS))}"
        )
    account = store.get("/serviceaccounts", namespace, name)
    if account is None:
        raise not_found("serviceaccounts", name)
    seconds = expiration_seconds(spec.get("expirationSeconds"))
    audiences = spec.get("audiences") or [API_AUDIENCE]
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        raise _bad("spec.audiences", "must be a list of non-empty strings")
    pod_name = pod_uid = ""
    ref = spec.get("boundObjectRef")
    if ref is not None:
        if not isinstance(ref, dict):
            raise _bad("spec.boundObjectRef", "must be an object")
        if ref.get("kind") != "Pod" or ref.get("apiVersion", "v1") != "v1":
            raise _bad(
                "spec.boundObjectRef.kind",
                f'Unsupported value: "{ref.get("kind")}": kubelab binds tokens to a v1 Pod only',
            )
        pod_name = str(ref.get("name") or "")
        pod = store.get("/pods", namespace, pod_name) if pod_name else None
        if pod is None:
            raise not_found("pods", pod_name)
        pod_uid = str(pod["metadata"].get("uid") or "")
        if ref.get("uid") and ref["uid"] != pod_uid:
            raise ApiError(
                409,
                f"the UID in the bound object reference ({ref['uid']}) does not match the pod "
                f"{namespace}/{pod_name} ({pod_uid}): it was deleted and made again",
                "Conflict",
            )
        if (pod.get("spec") or {}).get("serviceAccountName") != name:
            raise bad_request(
                f'cannot bind token for serviceaccount "{name}" to pod running with different '
                "serviceaccount name."
            )
    at = now if now is not None else time.time()
    expires = int(at) + seconds
    token = signer.issue(
        Binding(
            namespace=namespace,
            service_account=name,
            service_account_uid=str(account["metadata"].get("uid") or ""),
            audiences=tuple(audiences),
            expires=expires,
            pod_name=pod_name,
            pod_uid=pod_uid,
        ),
        now=at,
    )
    out_spec: Obj = {"audiences": audiences, "expirationSeconds": seconds}
    if ref is not None:
        out_spec["boundObjectRef"] = {
            "kind": "Pod",
            "apiVersion": "v1",
            "name": pod_name,
            "uid": pod_uid,
        }
    return {
        "kind": "TokenRequest",
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": out_spec,
        "status": {
            "token": token,
            "expirationTimestamp": rfc3339(datetime.fromtimestamp(expires, UTC)),
        },
    }
