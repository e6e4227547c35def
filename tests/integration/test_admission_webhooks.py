"""Admission webhooks through a real apiserver process: it POSTs AdmissionReviews over
HTTPS to a webhook server this test runs on 127.0.0.1 (its own CA in caBundle).

Each test has its own namespace, labelled, and its configurations select only that
namespace, so the module's shared apiserver is not disturbed for the others.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.harness import ApiServer
from tests.webhook_server import MUTATED_LABEL, SLOW_SECONDS, WebhookServer

pytestmark = pytest.mark.timeout(120)
SELECT = "webhook-test"


@pytest.fixture
def ns(shared_apiserver: ApiServer) -> Iterator[str]:
    name = "wh-" + uuid.uuid4().hex[:6]
    cl = shared_apiserver.client()
    cl.create("namespaces", {"metadata": {"name": name, "labels": {SELECT: name}}})
    yield name
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        for item in cl.list(plural)["items"]:
            if item["metadata"]["name"].startswith(name):
                cl.delete(plural, item["metadata"]["name"])
    cl.delete("namespaces", name)
    cl.close()


@pytest.fixture
def webhook(tmp_path: Path, ns: str) -> Iterator[WebhookServer]:
    with WebhookServer(tmp_path / "webhook-pki", [f"hook.{ns}.svc"]) as server:
        yield server


def _config(
    kind: str,
    ns: str,
    hook_name: str,
    client_config: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": hook_name,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "namespaceSelector": {"matchLabels": {SELECT: ns}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": f"{ns}-{hook_name}"},
        "webhooks": [hook],
    }


def _configmap(name: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mutating_webhook_adds_a_label_and_validating_one_refuses_a_name(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    cl = shared_apiserver.client()
    mutating = _config(
        "MutatingWebhookConfiguration",
        ns,
        "label-adder.kubelab.test",
        {"url": webhook.url("/mutate"), "caBundle": webhook.ca_bundle},
    )
    stored = cl.create("mutatingwebhookconfigurations", mutating)
    hook = stored["webhooks"][0]
    # Kubernetes' v1 defaults.
    assert hook["failurePolicy"] == "Fail" and hook["timeoutSeconds"] == 10
    assert hook["matchPolicy"] == "Equivalent" and hook["reinvocationPolicy"] == "Never"
    assert hook["rules"][0]["scope"] == "*" and hook["objectSelector"] == {}
    cl.create(
        "validatingwebhookconfigurations",
        _config(
            "ValidatingWebhookConfiguration",
            ns,
            "name-policy.kubelab.test",
            {"url": webhook.url("/validate"), "caBundle": webhook.ca_bundle},
        ),
    )

    made = cl.create("configmaps", _configmap("plain", app="web"), ns)
    assert made["metadata"]["labels"] == {"app": "web", MUTATED_LABEL: "yes"}
    # The mutating webhook ran before the validating one, which saw the patched object.
    assert webhook.paths_called() == ["/mutate", "/validate"]
    sent = dict(webhook.reviews[0][1])
    assert sent["operation"] == "CREATE" and sent["namespace"] == ns
    assert sent["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert sent["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert sent["userInfo"]["username"] == "admin"
    assert "timeout=10s" in webhook.reviews[0][0]
    assert MUTATED_LABEL in webhook.reviews[1][1]["object"]["metadata"]["labels"]
    # A configmap with no labels at all gets the label too (the patch adds the map).
    assert cl.create("configmaps", _configmap("bare"), ns)["metadata"]["labels"] == {
        MUTATED_LABEL: "yes"
    }

    with pytest.raises(ApiError) as refused:
        cl.create("configmaps", _configmap("refused-one"), ns)
    assert refused.value.code == 403
    assert refused.value.message == (
        'admission webhook "name-policy.kubelab.test" denied the request: '
        "names beginning with refused- are not allowed here"
    )
    with pytest.raises(ApiError):
        cl.get("configmaps", "refused-one", ns)

    # UPDATE goes through both too: the label dropped by a PUT is put back.
    current = cl.get("configmaps", "plain", ns)
    current["metadata"]["labels"] = {"app": "web"}
    current["data"] = {"k": "changed"}
    updated = cl.replace("configmaps", "plain", current, ns)
    assert updated["metadata"]["labels"] == {"app": "web", MUTATED_LABEL: "yes"}
    assert updated["data"] == {"k": "changed"}
    update_review = next(r for p, r in webhook.reviews if r["operation"] == "UPDATE")
    assert update_review["oldObject"]["data"] == {"k": "v"}
    # Another namespace is not selected: no label, no call.
    calls = len(webhook.reviews)
    other = cl.create("configmaps", _configmap(f"{ns}-elsewhere"), "default")
    assert MUTATED_LABEL not in (other["metadata"].get("labels") or {})
    assert len(webhook.reviews) == calls
    cl.delete("configmaps", f"{ns}-elsewhere", "default")
    cl.close()


def test_dry_run_and_delete_reach_the_webhooks(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    cl = shared_apiserver.client()
    config = _config(
        "ValidatingWebhookConfiguration",
        ns,
        "name-policy.kubelab.test",
        {"url": webhook.url("/validate"), "caBundle": webhook.ca_bundle},
    )
    config["webhooks"][0]["rules"][0]["operations"] = ["CREATE", "DELETE"]
    cl.create("validatingwebhookconfigurations", config)
    # sideEffects None: a dry run is sent too, marked as one, and refused as the real one.
    path = f"/api/v1/namespaces/{ns}/configmaps"
    resp = cl.request(
        "POST",
        path,
        params={"dryRun": "All"},
        json=_configmap("refused-dry"),
        raise_for_status=False,
    )
    assert resp.status_code == 403, resp.text
    assert webhook.reviews[-1][1]["dryRun"] is True
    cl.create("configmaps", _configmap("kept-one"), ns)
    assert webhook.reviews[-1][1]["dryRun"] is False
    with pytest.raises(ApiError) as refused:
        cl.delete("configmaps", "kept-one", ns)
    assert refused.value.message == (
        'admission webhook "name-policy.kubelab.test" denied the request: kept- objects stay'
    )
    review = webhook.reviews[-1][1]
    assert review["operation"] == "DELETE" and review["object"] is None
    assert review["oldObject"]["metadata"]["name"] == "kept-one"
    assert cl.get("configmaps", "kept-one", ns)["metadata"]["name"] == "kept-one"
    cl.close()


def test_failure_policy_with_the_webhook_down(shared_apiserver: ApiServer, ns: str) -> None:
    cl = shared_apiserver.client()
    down = f"https://127.0.0.1:{_closed_port()}/validate"
    cl.create(
        "validatingwebhookconfigurations",
        _config(
            "ValidatingWebhookConfiguration",
            ns,
            "ignored.kubelab.test",
            {"url": down},
            failurePolicy="Ignore",
        ),
    )
    assert cl.create("configmaps", _configmap("through"), ns)["metadata"]["name"] == "through"

    cl.create(
        "validatingwebhookconfigurations",
        _config(
            "ValidatingWebhookConfiguration",
            ns,
            "required.kubelab.test",
            {"url": down},
            failurePolicy="Fail",
        ),
    )
    with pytest.raises(ApiError) as failed:
        cl.create("configmaps", _configmap("blocked"), ns)
    assert failed.value.code == 500
    assert failed.value.message.startswith(
        'Internal error occurred: failed calling webhook "required.kubelab.test": '
        f'failed to call webhook: Post "{down}"'
    )
    # A changed configuration is in force for the very next write.
    name = f"{ns}-required.kubelab.test"
    current = cl.get("validatingwebhookconfigurations", name)
    current["webhooks"][0]["failurePolicy"] = "Ignore"
    cl.replace("validatingwebhookconfigurations", name, current)
    assert cl.create("configmaps", _configmap("blocked"), ns)["metadata"]["name"] == "blocked"


def test_timeout_fails_the_request_after_timeout_seconds(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    cl = shared_apiserver.client()
    cl.create(
        "validatingwebhookconfigurations",
        _config(
            "ValidatingWebhookConfiguration",
            ns,
            "slow.kubelab.test",
            {"url": webhook.url("/slow"), "caBundle": webhook.ca_bundle},
            timeoutSeconds=1,
        ),
    )
    started = time.monotonic()
    with pytest.raises(ApiError) as failed:
        cl.create("configmaps", _configmap("late"), ns)
    took = time.monotonic() - started
    assert failed.value.code == 500
    assert "context deadline exceeded" in failed.value.message
    assert "timeout=1s" in webhook.reviews[-1][0]
    assert 0.9 < took < SLOW_SECONDS, took


def test_webhook_reached_through_a_service(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    """A selector-less Service with a hand-written Endpoints object at 127.0.0.1:PORT:
    the apiserver resolves the Service to that endpoint and checks the certificate for
    hook.NS.svc, as Kubernetes' endpoint resolver does."""
    cl = shared_apiserver.client()
    cl.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": webhook.port}]},
        },
        ns,
    )
    cl.create(
        "endpoints",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "hook"},
            "subsets": [
                {
                    "addresses": [{"ip": "127.0.0.1"}],
                    "ports": [{"name": "https", "port": webhook.port}],
                }
            ],
        },
        ns,
    )
    service = {"namespace": ns, "name": "hook", "path": "/mutate", "port": 443}
    cl.create(
        "mutatingwebhookconfigurations",
        _config(
            "MutatingWebhookConfiguration",
            ns,
            "via-service.kubelab.test",
            {"service": service, "caBundle": webhook.ca_bundle},
        ),
    )
    made = cl.create("configmaps", _configmap("through-service"), ns)
    assert made["metadata"]["labels"] == {MUTATED_LABEL: "yes"}
    assert webhook.paths_called() == ["/mutate"]


def test_custom_objects_and_match_policy_equivalent(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    """A webhook for v1 of a custom kind is sent a v2 create in v1 (matchPolicy
    Equivalent, the default; conversion None), and its patch lands on the stored object."""
    cl = shared_apiserver.client()
    group = f"{ns}.example.com"
    version = {"served": True, "schema": {"openAPIV3Schema": {"type": "object"}}}
    props = {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    version["schema"]["openAPIV3Schema"]["properties"] = props
    cl.create(
        "customresourcedefinitions",
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
                "versions": [
                    {"name": "v1", "storage": True, **version},
                    {"name": "v2", "storage": False, **version},
                ],
            },
        },
    )
    config = _config(
        "MutatingWebhookConfiguration",
        ns,
        "gadget-labels.kubelab.test",
        {"url": webhook.url("/mutate"), "caBundle": webhook.ca_bundle},
    )
    config["webhooks"][0]["rules"] = [
        {
            "operations": ["CREATE"],
            "apiGroups": [group],
            "apiVersions": ["v1"],
            "resources": ["gadgets"],
        }
    ]
    cl.create("mutatingwebhookconfigurations", config)
    try:
        body = {"apiVersion": f"{group}/v2", "kind": "Gadget", "metadata": {"name": "g1"}}
        made = cl.request(
            "POST", f"/apis/{group}/v2/namespaces/{ns}/gadgets", json={**body, "spec": {}}
        ).json()
        assert made["apiVersion"] == f"{group}/v2"
        assert made["metadata"]["labels"] == {MUTATED_LABEL: "yes"}
        sent = webhook.reviews[-1][1]
        assert sent["kind"] == {"group": group, "version": "v1", "kind": "Gadget"}
        assert sent["requestKind"] == {"group": group, "version": "v2", "kind": "Gadget"}
        assert sent["object"]["apiVersion"] == f"{group}/v1"
    finally:
        cl.delete("customresourcedefinitions", f"gadgets.{group}")
        cl.close()


def test_binding_and_eviction_are_sent_as_their_own_kinds(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    """pods/binding and pods/eviction reach webhooks as CREATEs of a v1 Binding and a
    policy/v1 Eviction (Kubernetes' subresource requests), and a denial stops them."""
    cl = shared_apiserver.client()
    config = _config(
        "ValidatingWebhookConfiguration",
        ns,
        "pod-subresources.kubelab.test",
        {"url": webhook.url("/validate"), "caBundle": webhook.ca_bundle},
    )
    config["webhooks"][0]["rules"] = [
        {
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods/binding", "pods/eviction"],
        }
    ]
    cl.create("validatingwebhookconfigurations", config)
    cl.create("serviceaccounts", {"metadata": {"name": "default"}}, ns)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "refused-pod"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    cl.create("pods", pod, ns)
    assert webhook.reviews == []  # the pod itself is not a subresource the rules name
    base = f"/api/v1/namespaces/{ns}/pods/refused-pod"
    binding = {"apiVersion": "v1", "kind": "Binding", "target": {"kind": "Node", "name": "n1"}}
    bound = cl.request("POST", f"{base}/binding", json=binding, raise_for_status=False)
    assert bound.status_code == 403, bound.text
    review = webhook.reviews[-1][1]
    assert review["kind"] == {"group": "", "version": "v1", "kind": "Binding"}
    assert review["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert review["subResource"] == "binding" and review["name"] == "refused-pod"
    assert not cl.get("pods", "refused-pod", ns)["spec"].get("nodeName")

    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "refused-pod"}}
    evicted = cl.request("POST", f"{base}/eviction", json=eviction, raise_for_status=False)
    assert evicted.status_code == 403, evicted.text
    assert "denied the request: names beginning with refused- are not allowed" in evicted.text
    review = webhook.reviews[-1][1]
    assert review["kind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert review["subResource"] == "eviction"
    assert cl.get("pods", "refused-pod", ns)["metadata"].get("deletionTimestamp") is None
    cl.delete("pods", "refused-pod", ns)
    cl.close()


def test_scale_is_sent_as_a_scale(
    shared_apiserver: ApiServer, ns: str, webhook: WebhookServer
) -> None:
    """deployments/scale reaches webhooks as an UPDATE of an autoscaling/v1 Scale (old and
    new), a mutating webhook's change to the Scale's replicas lands on the Deployment, and
    a validating webhook can refuse the scale."""
    cl = shared_apiserver.client()
    rule = {
        "operations": ["UPDATE"],
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "resources": ["deployments/scale"],
    }
    for kind, hook, path in (
        ("MutatingWebhookConfiguration", "cap.kubelab.test", "/cap-replicas"),
        ("ValidatingWebhookConfiguration", "names.kubelab.test", "/validate"),
    ):
        config = _config(kind, ns, hook, {"url": webhook.url(path), "caBundle": webhook.ca_bundle})
        config["webhooks"][0]["rules"] = [rule]
        cl.create(kind.lower() + "s", config)
    for name in ("web", "refused-web"):
        labels = {"app": name}
        cl.create(
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                    },
                },
            },
            ns,
        )
    assert webhook.reviews == []  # creating the Deployments is no scale
    patch = {"spec": {"replicas": 5}}
    headers = {"Content-Type": "application/merge-patch+json"}
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    scaled = cl.request("PATCH", f"{base}/web/scale", json=patch, headers=headers)
    assert scaled.json()["spec"]["replicas"] == 2
    assert cl.get("deployments", "web", ns)["spec"]["replicas"] == 2
    path, review = webhook.reviews[0]
    assert path.startswith("/cap-replicas")
    assert review["kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert review["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert review["subResource"] == "scale"
    assert review["object"]["spec"]["replicas"] == 5
    assert review["oldObject"]["spec"]["replicas"] == 1
    # The validating webhook saw the Scale as the mutating one left it.
    assert webhook.reviews[1][1]["object"]["spec"]["replicas"] == 2

    refused = cl.request(
        "PATCH", f"{base}/refused-web/scale", json=patch, headers=headers, raise_for_status=False
    )
    assert refused.status_code == 403, refused.text
    assert cl.get("deployments", "refused-web", ns)["spec"]["replicas"] == 1
    cl.close()
