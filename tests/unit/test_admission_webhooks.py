"""Admission webhooks without the network: configuration checks and defaults, which webhook
a request reaches, reading AdmissionReview responses, and the mutating chain's order,
patches and reinvocation (the HTTPS call replaced by recorded verdicts)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from api import defaults, validation
from api.admission_review import (
    Verdict,
    WebhookCallError,
    apply_patch,
    denial,
    read_response,
    review_request,
)
from api.errors import ApiError
from api.webhook_match import Match, Request, Webhook, match, might_match, parse_configuration
from apiserver.admission_webhooks import AdmissionWebhooks

Obj = dict[str, Any]


def _config(kind: str = "ValidatingWebhookConfiguration", **hook: Any) -> Obj:
    base: Obj = {
        "name": "check.example.com",
        "clientConfig": {"url": "https://127.0.0.1:9443/check"},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    base.update(hook)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "cfg"},
        "webhooks": [base],
    }


def _messages(obj: Obj) -> list[str]:
    defaults.apply_defaults(obj["kind"], obj)
    return [f"{c.field}: {c.message}" for c in validation.validate(obj["kind"], obj)]


def test_defaults_are_kubernetes_v1_defaults() -> None:
    obj = _config("MutatingWebhookConfiguration")
    obj["webhooks"][0]["clientConfig"] = {"service": {"namespace": "ns", "name": "svc"}}
    defaults.apply_defaults(obj["kind"], obj)
    hook = obj["webhooks"][0]
    assert hook["failurePolicy"] == "Fail"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["timeoutSeconds"] == 10
    assert hook["reinvocationPolicy"] == "Never"
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    assert hook["rules"][0]["scope"] == "*"
    assert hook["clientConfig"]["service"]["port"] == 443
    assert _messages(obj) == []


def test_null_is_defaulted_like_a_missing_field() -> None:
    # kopf writes objectSelector: null for a handler without label filters.
    obj = _config("MutatingWebhookConfiguration", objectSelector=None, timeoutSeconds=None)
    defaults.apply_defaults(obj["kind"], obj)
    assert obj["webhooks"][0]["objectSelector"] == {}
    assert obj["webhooks"][0]["timeoutSeconds"] == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"name": "check"},
            'webhooks[0].name: Invalid value: "check": should be a domain with at least three '
            "segments separated by dots",
        ),
        (
            {"sideEffects": None},
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
        ),
        (
            {"sideEffects": "Some"},
            'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", '
            '"NoneOnDryRun"',
        ),
        (
            {"timeoutSeconds": 31},
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 "
            "and 30 seconds",
        ),
        (
            {"admissionReviewVersions": []},
            "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
        ),
        (
            {"failurePolicy": "Maybe"},
            'webhooks[0].failurePolicy: Unsupported value: "Maybe": supported values: "Fail", '
            '"Ignore"',
        ),
        (
            {"clientConfig": {"url": "http://127.0.0.1/x"}},
            "webhooks[0].clientConfig.url: Invalid value: \"http://127.0.0.1/x\": 'https' is the "
            "only allowed URL scheme",
        ),
        (
            {"clientConfig": {"url": "https://h/x?a=b"}},
            'webhooks[0].clientConfig.url: Invalid value: "https://h/x?a=b": query parameters '
            "are not permitted in the URL",
        ),
        (
            {"clientConfig": {}},
            "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
        ),
        (
            {"clientConfig": {"service": {"namespace": "ns", "name": "s", "port": 0}}},
            "webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must "
            "be between 1 and 65535, inclusive",
        ),
        (
            {
                "rules": [
                    {
                        "operations": ["*", "CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ]
            },
            'webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: if \'*\' is '
            "present, must not specify other operations",
        ),
        (
            {
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "scope": "Everywhere",
                    }
                ]
            },
            'webhooks[0].rules[0].scope: Unsupported value: "Everywhere": supported values: '
            '"*", "Cluster", "Namespaced"',
        ),
    ],
)
def test_invalid_configurations_name_the_field(change: Obj, message: str) -> None:
    obj = _config(**change)
    if change.get("sideEffects", "") is None:
        del obj["webhooks"][0]["sideEffects"]
    assert message in _messages(obj)


def test_duplicate_webhook_names_are_refused() -> None:
    obj = _config()
    obj["webhooks"].append(dict(obj["webhooks"][0]))
    assert any("webhooks[1].name: Duplicate value" in m for m in _messages(obj))


def _hook(**rule: Any) -> Webhook:
    r: Obj = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"]}
    r.update({"resources": ["pods"], **rule})
    obj = _config(rules=[r])
    defaults.apply_defaults(obj["kind"], obj)
    return parse_configuration(obj)[0]


def _req(**kw: Any) -> Request:
    base: Obj = dict(
        operation="CREATE",
        group="",
        version="v1",
        resource="pods",
        subresource="",
        kind="Pod",
        namespace="ns",
        name="p",
    )
    base.update(kw)
    return Request(**base)


@pytest.mark.parametrize(
    ("rule", "req", "expected"),
    [
        ({}, {}, True),
        ({}, {"operation": "UPDATE"}, False),
        ({"operations": ["*"]}, {"operation": "DELETE"}, True),
        ({}, {"subresource": "status"}, False),
        ({"resources": ["pods/status"]}, {"subresource": "status"}, True),
        ({"resources": ["pods/*"]}, {}, True),
        ({"resources": ["*/status"]}, {"resource": "services", "subresource": "status"}, True),
        ({"resources": ["*"]}, {"resource": "services"}, True),
        ({"resources": ["*"]}, {"subresource": "status"}, False),
        ({"apiGroups": ["apps"]}, {}, False),
        ({"apiVersions": ["v2"]}, {}, False),
        ({"scope": "Cluster"}, {}, False),
        ({"scope": "Namespaced"}, {}, True),
        ({"scope": "Namespaced"}, {"namespace": ""}, False),
        # A Namespace is cluster-scoped, though its requests carry its name as namespace.
        (
            {"scope": "Cluster", "resources": ["namespaces"]},
            {"resource": "namespaces", "namespace": "ns", "is_namespace": True},
            True,
        ),
        (
            {"scope": "Namespaced", "resources": ["namespaces"]},
            {"resource": "namespaces", "namespace": "ns", "is_namespace": True},
            False,
        ),
    ],
)
def test_rules(rule: Obj, req: Obj, expected: bool) -> None:
    assert (match(_hook(**rule), _req(**req), {}, {}, None) is not None) is expected


def test_namespace_and_object_selectors() -> None:
    obj = _config(
        namespaceSelector={"matchLabels": {"env": "lab"}},
        objectSelector={"matchExpressions": [{"key": "app", "operator": "Exists"}]},
    )
    defaults.apply_defaults(obj["kind"], obj)
    hook = parse_configuration(obj)[0]
    labelled: Obj = {"metadata": {"labels": {"app": "web"}}}
    bare: Obj = {"metadata": {}}
    assert match(hook, _req(), {"env": "lab"}, labelled, None) is not None
    assert match(hook, _req(), {"env": "prod"}, labelled, None) is None
    assert match(hook, _req(), {"env": "lab"}, bare, None) is None
    # The old object's labels count too (an update removing the label is still seen).
    assert match(hook, _req(operation="CREATE"), {"env": "lab"}, bare, labelled) is not None


def test_namespace_selector_on_a_namespace_uses_its_own_labels() -> None:
    obj = _config(namespaceSelector={"matchLabels": {"env": "lab"}})
    obj["webhooks"][0]["rules"][0]["resources"] = ["namespaces"]
    defaults.apply_defaults(obj["kind"], obj)
    hook = parse_configuration(obj)[0]
    req = _req(resource="namespaces", kind="Namespace", namespace="n1", is_namespace=True)
    assert match(hook, req, {}, {"metadata": {"labels": {"env": "lab"}}}, None) is not None
    assert match(hook, req, {}, {"metadata": {}}, None) is None


def test_match_policy_equivalent_reaches_another_served_version() -> None:
    hook = _hook(apiGroups=["example.com"], apiVersions=["v1"], resources=["widgets"])
    req = _req(group="example.com", version="v2", resource="widgets", kind="Widget")
    found = match(hook, req, {}, {}, None, (("example.com", "v1"),))
    assert found is not None and found.version == "v1"
    exact = _config(
        matchPolicy="Exact",
        rules=[
            {
                "operations": ["CREATE"],
                "apiGroups": ["example.com"],
                "apiVersions": ["v1"],
                "resources": ["widgets"],
            }
        ],
    )
    defaults.apply_defaults(exact["kind"], exact)
    assert match(parse_configuration(exact)[0], req, {}, {}, None, (("example.com", "v1"),)) is None
    # The review names both: the version it is sent in, and the one the client used.
    review = review_request("u", found, req, {"apiVersion": "example.com/v2"}, None, None, False)
    assert review["request"]["kind"]["version"] == "v1"
    assert review["request"]["requestKind"]["version"] == "v2"
    assert review["request"]["object"]["apiVersion"] == "example.com/v1"


def test_might_match_is_the_cheap_first_look() -> None:
    hooks = (_hook(),)
    assert might_match(hooks, "CREATE", "", "pods")
    assert not might_match(hooks, "CREATE", "", "configmaps")
    assert not might_match(hooks, "DELETE", "", "pods")
    assert not might_match(hooks, "CREATE", "", "pods", "status")
    assert might_match((_hook(resources=["pods/*"]),), "CREATE", "", "pods", "status")


def _response(uid: str = "u1", **resp: Any) -> bytes:
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    return json.dumps({**body, "response": {"uid": uid, **resp}}).encode()


def _patch(ops: list[Obj]) -> str:
    return base64.b64encode(json.dumps(ops).encode()).decode()


def test_read_response() -> None:
    v = read_response(_response(allowed=True, warnings=["w"]), "u1", mutating=False)
    assert v.allowed and v.warnings == ["w"]
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    v = read_response(
        _response(allowed=True, patchType="JSONPatch", patch=_patch(ops)), "u1", mutating=True
    )
    assert v.patch == ops
    with pytest.raises(WebhookCallError, match="expected response.uid='u1', got 'other'"):
        read_response(_response("other", allowed=True), "u1", mutating=False)
    with pytest.raises(WebhookCallError, match="only JSONPatch"):
        read_response(
            _response(allowed=True, patchType="Merge", patch=_patch(ops)), "u1", mutating=True
        )
    with pytest.raises(WebhookCallError, match="Kind=AdmissionReview, got v1, Kind=Status"):
        read_response(b'{"apiVersion": "v1", "kind": "Status"}', "u1", mutating=False)


def test_denial_is_worded_as_kubernetes_words_it() -> None:
    err = denial("x.example.com", Verdict(False, 0, "no"))
    assert err.code == 403
    assert err.message == 'admission webhook "x.example.com" denied the request: no'
    assert denial("x.example.com", Verdict(False, 422, "bad", "Invalid")).code == 422


def test_patches_apply_in_order_and_a_broken_one_is_the_webhooks_fault() -> None:
    obj: Obj = {"metadata": {"name": "p"}}
    ops = [
        {"op": "add", "path": "/metadata/labels", "value": {}},
        {"op": "add", "path": "/metadata/labels/a", "value": "1"},
        {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
    ]
    assert apply_patch(obj, ops, "w")["metadata"]["labels"] == {"a": "2"}
    assert obj == {"metadata": {"name": "p"}}  # the input is left alone
    with pytest.raises(ApiError) as broken:
        apply_patch(obj, [{"op": "replace", "path": "/spec/x", "value": 1}], "w")
    assert broken.value.code == 500 and 'failed calling webhook "w"' in broken.value.message


class _Recorded(AdmissionWebhooks):
    """Webhooks whose answers are given: each call records its webhook and the object."""

    def __init__(self, hooks: list[Webhook], answers: dict[str, list[Verdict | None]]) -> None:
        self.calls: list[tuple[str, Obj | None]] = []
        self.answers = answers
        self.mutating = tuple(h for h in hooks if h.mutating)
        self.validating = tuple(h for h in hooks if not h.mutating)
        self.configured = True
        self.namespace_labels = lambda ns: {}

    async def _call(self, m: Match, req: Request, obj: Any, old: Any, *rest: Any) -> Any:
        self.calls.append((m.webhook.name, obj))
        return self.answers[m.webhook.name].pop(0)


def _mutating(name: str, reinvocation: str = "Never") -> Webhook:
    obj = _config("MutatingWebhookConfiguration", name=name, reinvocationPolicy=reinvocation)
    defaults.apply_defaults(obj["kind"], obj)
    return parse_configuration(obj)[0]


def _adds(label: str) -> Verdict:
    return Verdict(True, patch=[{"op": "add", "path": f"/metadata/labels/{label}", "value": "y"}])


def test_mutating_chain_in_order_with_reinvocation() -> None:
    first = _mutating("first.example.com", "IfNeeded")
    second = _mutating("second.example.com")
    hooks = _Recorded(
        [first, second],
        {"first.example.com": [_adds("a"), Verdict(True)], "second.example.com": [_adds("b")]},
    )
    obj: Obj = {"metadata": {"name": "p", "labels": {}}}
    out = asyncio.run(hooks.mutate(_req(), obj, None, dry_run=False, user=None, warnings=None))
    assert out is not None and out["metadata"]["labels"] == {"a": "y", "b": "y"}
    # second saw first's patch; first was asked again after second changed the object.
    assert [name for name, _ in hooks.calls] == [
        "first.example.com",
        "second.example.com",
        "first.example.com",
    ]
    assert hooks.calls[1][1] is not None and hooks.calls[1][1]["metadata"]["labels"] == {"a": "y"}


def test_a_denial_stops_the_chain() -> None:
    first, second = _mutating("first.example.com"), _mutating("second.example.com")
    hooks = _Recorded(
        [first, second],
        {"first.example.com": [Verdict(False, 0, "nope")], "second.example.com": [_adds("b")]},
    )
    with pytest.raises(ApiError, match='admission webhook "first.example.com" denied'):
        asyncio.run(
            hooks.mutate(
                _req(), {"metadata": {"name": "p"}}, None, dry_run=False, user=None, warnings=None
            )
        )
    assert [name for name, _ in hooks.calls] == ["first.example.com"]


class _Objects:
    """A store holding only what the service resolver reads."""

    def __init__(self, objs: dict[tuple[str, str, str], Obj]) -> None:
        self.objs = objs

    def get(self, resource: str, ns: str, name: str) -> Obj | None:
        return self.objs.get((resource, ns, name))

    def list_raw(self, key: str, ns: Any) -> tuple[int, list[bytes]]:
        return 0, []


def _service_hook(port: int = 443) -> Webhook:
    obj = _config(clientConfig={"service": {"namespace": "hooks", "name": "svc", "port": port}})
    defaults.apply_defaults(obj["kind"], obj)
    return parse_configuration(obj)[0]


def _resolver(objs: dict[tuple[str, str, str], Obj]) -> AdmissionWebhooks:
    return AdmissionWebhooks(_Objects(objs), lambda ns: {})  # type: ignore[arg-type]


def test_service_resolves_to_a_ready_endpoint_of_the_named_port() -> None:
    svc = {"spec": {"ports": [{"name": "metrics", "port": 9090}, {"name": "https", "port": 443}]}}
    eps = {
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.7"}],
                "notReadyAddresses": [{"ip": "10.42.0.8"}],
                "ports": [{"name": "metrics", "port": 9090}, {"name": "https", "port": 8443}],
            }
        ]
    }
    hooks = _resolver({("/services", "hooks", "svc"): svc, ("/endpoints", "hooks", "svc"): eps})
    assert hooks._resolve(_service_hook()) == ("10.42.0.7", 8443)
    url, extensions, headers = hooks._target(_service_hook())
    assert url == "https://10.42.0.7:8443/?timeout=10s"
    assert extensions == {"sni_hostname": "svc.hooks.svc"} and headers["Host"] == "svc.hooks.svc"


@pytest.mark.parametrize(
    ("objs", "why"),
    [
        ({}, 'service "svc" not found'),
        (
            {("/services", "hooks", "svc"): {"spec": {"ports": [{"port": 80}]}}},
            'no service port 443 found for service "svc"',
        ),
        (
            {("/services", "hooks", "svc"): {"spec": {"ports": [{"port": 443}]}}},
            'endpoints "svc" not found',
        ),
        (
            {
                ("/services", "hooks", "svc"): {"spec": {"ports": [{"port": 443}]}},
                ("/endpoints", "hooks", "svc"): {
                    "subsets": [
                        {"notReadyAddresses": [{"ip": "10.42.0.8"}], "ports": [{"port": 8443}]}
                    ]
                },
            },
            'no endpoints available for service "svc"',
        ),
    ],
)
def test_service_resolution_failures_name_what_is_missing(
    objs: dict[tuple[str, str, str], Obj], why: str
) -> None:
    with pytest.raises(WebhookCallError, match=why):
        _resolver(objs)._resolve(_service_hook())


def test_kl_prints_the_webhooks_column() -> None:
    from datetime import UTC, datetime

    from kubectl.printers.columns import columns_for

    cols = columns_for("MutatingWebhookConfiguration")
    assert cols.headers == ["NAME", "WEBHOOKS", "AGE"]
    obj = _config("MutatingWebhookConfiguration")
    obj["metadata"]["creationTimestamp"] = "2026-12-04T00:00:00Z"
    row = cols.row(obj, datetime(2026, 12, 4, 0, 5, tzinfo=UTC))
    assert row == ["cfg", "1", "5m"]
