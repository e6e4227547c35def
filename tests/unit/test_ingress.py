"""Ingress route matching (api/ingress.py) and the networking kinds' validation."""

from __future__ import annotations

from typing import Any

import pytest

from api import ingress as I
from api import validation
from api.validation.networking import NETWORK_POLICY_WARNING

Obj = dict[str, Any]


def _ing(name: str, rules: list[Obj], **spec: Any) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"rules": rules, **spec},
    }


def _path(path: str, svc: str, path_type: str = "Prefix", port: int = 80) -> Obj:
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": svc, "port": {"number": port}}},
    }


@pytest.mark.parametrize(
    ("rule_path", "request_path", "matches"),
    [
        ("/", "/anything/at/all", True),
        ("/foo", "/foo", True),
        ("/foo", "/foo/", True),
        ("/foo/", "/foo", True),
        ("/foo", "/foo/bar", True),
        ("/foo", "/foobar", False),
        ("/foo/bar", "/foo/bar/baz", True),
        ("/foo/bar", "/foo/barbaz", False),
        ("/aaa/bb", "/aaa/bbb", False),
        ("/aaa/bbb/", "/aaa/bbb", True),
    ],
)
def test_prefix_matches_whole_path_elements(rule_path: str, request_path: str, matches: bool):
    # The table of examples in the Kubernetes Ingress documentation.
    assert I.path_matches("Prefix", rule_path, request_path) is matches


def test_exact_is_case_sensitive_and_whole() -> None:
    assert I.path_matches("Exact", "/foo", "/foo")
    assert not I.path_matches("Exact", "/foo", "/foo/")
    assert not I.path_matches("Exact", "/foo", "/FOO")


@pytest.mark.parametrize(
    ("rule_host", "host", "matches"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", ".example.com", False),
        ("foo.example.com", "FOO.example.com".lower(), True),
        ("foo.example.com", "bar.example.com", False),
        ("", "anything.test", True),
    ],
)
def test_host_wildcard_is_one_label(rule_host: str, host: str, matches: bool) -> None:
    assert I.host_matches(rule_host, host) is matches


def test_longest_path_wins_then_exact_over_prefix() -> None:
    routes = I.routes_of(
        _ing(
            "a",
            [
                {
                    "http": {
                        "paths": [
                            _path("/", "root"),
                            _path("/api", "api"),
                            _path("/api/v1", "v1"),
                            _path("/api/v1", "v1-exact", "Exact"),
                        ]
                    }
                }
            ],
        )
    )

    def svc(path: str) -> str | None:
        r = I.match(routes, "x.test", path)
        return r.backend.service if r else None

    assert svc("/api/v1") == "v1-exact"
    assert svc("/api/v1/models") == "v1"
    assert svc("/api/v2") == "api"
    assert svc("/apiv1") == "root"


def test_exact_host_beats_wildcard_beats_catch_all() -> None:
    routes = I.routes_of(
        _ing(
            "a",
            [
                {"http": {"paths": [_path("/", "any")]}},
                {"host": "*.lab.test", "http": {"paths": [_path("/", "wild")]}},
                {"host": "chat.lab.test", "http": {"paths": [_path("/", "chat")]}},
            ],
        )
    )
    assert I.match(routes, "chat.lab.test", "/").backend.service == "chat"  # type: ignore[union-attr]
    assert I.match(routes, "docs.lab.test", "/").backend.service == "wild"  # type: ignore[union-attr]
    assert I.match(routes, "other.test", "/").backend.service == "any"  # type: ignore[union-attr]


def test_no_match_without_catch_all() -> None:
    routes = I.routes_of(_ing("a", [{"host": "a.test", "http": {"paths": [_path("/x", "s")]}}]))
    assert I.match(routes, "b.test", "/x") is None
    assert I.match(routes, "a.test", "/y") is None


def test_class_membership_and_default() -> None:
    kubelab = I.kubelab_ingress_class()
    other = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    named = _ing("a", [], ingressClassName="kubelab")
    unnamed = _ing("b", [])
    theirs = _ing("c", [], ingressClassName="nginx")
    ctl = I.KUBELAB_INGRESS_CONTROLLER
    assert I.served_by(named, [kubelab, other], ctl)
    assert I.served_by(unnamed, [kubelab, other], ctl)  # kubelab is the default class
    assert not I.served_by(theirs, [kubelab, other], ctl)
    not_default = {**kubelab, "metadata": {"name": "kubelab"}}
    assert not I.served_by(unnamed, [not_default], ctl)


def test_tls_secret_by_host() -> None:
    ing = _ing("a", [], tls=[{"hosts": ["*.lab.test"], "secretName": "wild-tls"}])
    assert I.tls_secret_for(ing, "chat.lab.test") == "wild-tls"
    assert I.tls_secret_for(ing, "lab.test") == ""


def _causes(kind: str, obj: Obj) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate(kind, obj)]


def test_ingress_validation_names_each_field() -> None:
    bad = _ing(
        "a",
        [
            {
                "host": "10.0.0.1",
                "http": {
                    "paths": [
                        {"path": "/x", "backend": {"service": {"name": "s", "port": {}}}},
                        {"path": "rel", "pathType": "Prefix", "backend": {}},
                        {
                            "path": "/a//b",
                            "pathType": "Exact",
                            "backend": {
                                "service": {"name": "s", "port": {"number": 80}},
                                "resource": {"kind": "Bucket", "name": "b"},
                            },
                        },
                        {"path": "/", "pathType": "Regex", "backend": {"resource": {"kind": "B"}}},
                    ]
                },
            },
            {"host": "ok.test", "http": {"paths": []}},
        ],
        tls=[{"hosts": ["Bad_Host"], "secretName": "Not A Name"}],
    )
    fields = {f for f, _ in _causes("Ingress", bad)}
    p = "spec.rules[0].http.paths"
    assert fields == {
        "spec.rules[0].host",
        f"{p}[0].pathType",
        f"{p}[0].backend.service.port",
        f"{p}[1].path",
        f"{p}[1].backend",
        f"{p}[2].path",
        f"{p}[2].backend",
        f"{p}[3].pathType",
        f"{p}[3].backend.resource.name",
        "spec.rules[1].http.paths",
        "spec.tls[0].hosts[0]",
        "spec.tls[0].secretName",
    }


def test_ingress_needs_rules_or_default_backend() -> None:
    assert _causes("Ingress", _ing("a", [])) == [
        (
            "spec",
            'Invalid value: {"rules":[]}: either `defaultBackend` or `rules` must be specified',
        )
    ]
    ok = _ing("a", [], defaultBackend={"service": {"name": "web", "port": {"name": "http"}}})
    assert _causes("Ingress", ok) == []


def test_valid_ingress_with_wildcard_and_tls() -> None:
    ok = _ing(
        "a",
        [{"host": "*.lab.test", "http": {"paths": [_path("/", "web", "ImplementationSpecific")]}}],
        tls=[{"hosts": ["*.lab.test"], "secretName": "lab-tls"}],
        ingressClassName="kubelab",
    )
    assert _causes("Ingress", ok) == []


def test_ingress_class_validation_and_immutable_controller() -> None:
    assert _causes("IngressClass", I.kubelab_ingress_class()) == []
    bad = {"metadata": {"name": "x"}, "spec": {"controller": "no-domain"}}
    assert [f for f, _ in _causes("IngressClass", bad)] == ["spec.controller"]
    ns_scope = {
        "metadata": {"name": "x"},
        "spec": {
            "controller": "a.io/b",
            "parameters": {"kind": "K", "name": "n", "scope": "Namespace"},
        },
    }
    assert [f for f, _ in _causes("IngressClass", ns_scope)] == ["spec.parameters.namespace"]
    new = {"metadata": {"name": "kubelab"}, "spec": {"controller": "other.io/x"}}
    causes = validation.validate("IngressClass", new, I.kubelab_ingress_class())
    assert [c.field for c in causes] == ["spec.controller"]


def test_network_policy_validation_and_warning() -> None:
    np: Obj = {
        "metadata": {"name": "deny", "namespace": "web"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}, {}],
                    "ports": [{"protocol": "ICMP", "port": 80, "endPort": 70}],
                }
            ],
            "policyTypes": ["Ingress", "Sideways"],
        },
    }
    fields = {f for f, _ in _causes("NetworkPolicy", np)}
    assert fields == {
        "spec.ingress[0].from[0].ipBlock.except[0]",
        "spec.ingress[0].from[1]",
        "spec.ingress[0].ports[0].protocol",
        "spec.ingress[0].ports[0].endPort",
        "spec.policyTypes[1]",
    }
    assert validation.warnings("NetworkPolicy", np) == [NETWORK_POLICY_WARNING]
    assert validation.warnings("Ingress", _ing("a", [])) == []


def test_backend_port_by_number_or_name_maps_to_endpoints_port() -> None:
    from kubelet.ingress_router import service_backends

    svc = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    eps = {
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5"}],
                "notReadyAddresses": [{"ip": "10.42.0.6"}],
                "ports": [{"name": "http", "port": 8080}],
            }
        ]
    }
    by_name = I.Backend("ns", "web", port_name="http")
    by_number = I.Backend("ns", "web", port_number=80)
    assert service_backends(svc, eps, by_name) == ["10.42.0.5:8080"]
    assert service_backends(svc, eps, by_number) == ["10.42.0.5:8080"]
    assert service_backends(svc, eps, I.Backend("ns", "web", port_number=81)) == []
    assert service_backends(None, eps, by_name) == []


def test_forwarded_headers_drop_hop_by_hop_and_add_forwarded() -> None:
    from kubelet.ingress_router import forwarded_headers

    out = forwarded_headers(
        [
            (b"host", b"chat.lab.test"),
            (b"connection", b"keep-alive, x-secret"),
            (b"x-secret", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"accept", b"*/*"),
        ],
        "10.0.0.9",
        "https",
        "chat.lab.test",
    )
    assert dict(out) == {
        b"host": b"chat.lab.test",
        b"accept": b"*/*",
        b"x-forwarded-for": b"1.2.3.4, 10.0.0.9",
        b"x-forwarded-proto": b"https",
        b"x-forwarded-host": b"chat.lab.test",
        b"x-real-ip": b"10.0.0.9",
    }
