"""Ingress routing rules, pure: which Ingress path answers a request for a host and a
path, as the Kubernetes Ingress specification defines it, and which IngressClass an
Ingress belongs to. The kubelet's router (``kubelet/ingress_router.py``), the Ingress
status controller and validation all decide through these functions.

Matching, as upstream documents it (concepts/services-networking/ingress):

- host: an exact name, or a wildcard ``*.example.com`` that matches exactly one more DNS
  label (``a.example.com``, not ``example.com`` nor ``a.b.example.com``); a rule with no
  host matches every host. An exact host wins over a wildcard.
- ``Exact``: the path equals the request path, case-sensitively.
- ``Prefix``: split on ``/``, the path's elements are a prefix of the request's elements,
  element by element (``/foo/bar`` matches ``/foo/bar/baz``, not ``/foo/barbaz``); a
  trailing slash is ignored on both sides. ``ImplementationSpecific`` is treated as
  ``Prefix`` here (the choice each controller may make).
- several matches: the longest path wins, and ``Exact`` over ``Prefix`` at equal length.
- no rule matches: ``spec.defaultBackend``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# The built-in class and its controller (the kubelet's router).
KUBELAB_INGRESS_CLASS = "kubelab"
KUBELAB_INGRESS_CONTROLLER = "kubelab.io/ingress-router"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
# The pre-IngressClass way of naming a class, still honoured by controllers.
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


@dataclass(frozen=True)
class Backend:
    """Where a matched request goes: a Service and its port (by number or name), or a
    typed resource reference that this router cannot serve."""

    namespace: str
    service: str = ""
    port_number: int | None = None
    port_name: str = ""
    resource: str = ""  # "Kind/name" of a resource backend


@dataclass(frozen=True)
class Route:
    """One ``rules[].http.paths[]`` entry of one Ingress, ready to match."""

    host: str  # "" = every host
    path: str
    path_type: str
    backend: Backend
    ingress: str  # "ns/name", for logs and ties


def host_matches(rule_host: str, host: str) -> bool:
    """Whether ``host`` (a request's Host without port, lower case) matches a rule's host."""
    rule_host = rule_host.lower()
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and rest == rule_host[2:]
    return host == rule_host


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def path_matches(path_type: str, rule_path: str, path: str) -> bool:
    """Whether a request ``path`` matches a rule path of ``path_type``."""
    if path_type == "Exact":
        return path == rule_path
    want = _elements(rule_path)
    return _elements(path)[: len(want)] == want


def backend_of(namespace: str, backend: Obj | None) -> Backend | None:
    """The Backend of an IngressBackend object (None when it names nothing)."""
    if not isinstance(backend, dict):
        return None
    svc = backend.get("service")
    if isinstance(svc, dict) and svc.get("name"):
        port = svc.get("port") or {}
        number = port.get("number")
        return Backend(
            namespace,
            str(svc["name"]),
            int(number) if isinstance(number, int) else None,
            str(port.get("name") or ""),
        )
    res = backend.get("resource")
    if isinstance(res, dict):
        return Backend(namespace, resource=f"{res.get('kind')}/{res.get('name')}")
    return None


def routes_of(ingress: Obj) -> list[Route]:
    """Every path route of one Ingress."""
    meta = ingress.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    key = f"{ns}/{meta.get('name')}"
    out: list[Route] = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for p in ((rule.get("http") or {}).get("paths")) or []:
            backend = backend_of(ns, p.get("backend"))
            if backend is None:
                continue
            out.append(
                Route(
                    str(rule.get("host") or "").lower(),
                    str(p.get("path") or "/"),
                    str(p.get("pathType") or "Prefix"),
                    backend,
                    key,
                )
            )
    return out


def _rank(route: Route) -> tuple[int, int, int]:
    # Exact host before wildcard before none; then the longer path; then Exact over Prefix.
    host = 0 if not route.host else (1 if route.host.startswith("*.") else 2)
    return (
        host,
        len(route.path.rstrip("/")) if route.path_type != "Exact" else len(route.path),
        1 if route.path_type == "Exact" else 0,
    )


def match(routes: Iterable[Route], host: str, path: str) -> Route | None:
    """The route that answers ``host`` and ``path``, or None."""
    host = host.lower()
    found = [
        r for r in routes if host_matches(r.host, host) and path_matches(r.path_type, r.path, path)
    ]
    return max(found, key=_rank, default=None)


def default_backend(ingresses: Iterable[Obj]) -> Backend | None:
    """The ``spec.defaultBackend`` of the oldest Ingress that has one (several: upstream
    leaves the choice to the controller; the oldest is stable)."""
    with_default = [
        i for i in ingresses if isinstance((i.get("spec") or {}).get("defaultBackend"), dict)
    ]
    with_default.sort(key=lambda i: str((i.get("metadata") or {}).get("creationTimestamp") or ""))
    for ing in with_default:
        ns = str((ing.get("metadata") or {}).get("namespace") or "default")
        b = backend_of(ns, ing["spec"]["defaultBackend"])
        if b is not None:
            return b
    return None


def is_default_class(ingress_class: Obj) -> bool:
    ann = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"


def class_of(ingress: Obj) -> str:
    """The class an Ingress names (``spec.ingressClassName``, else the legacy annotation);
    "" when it names none."""
    name = (ingress.get("spec") or {}).get("ingressClassName")
    if name:
        return str(name)
    ann = (ingress.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(LEGACY_CLASS_ANNOTATION) or "")


def served_by(ingress: Obj, classes: Iterable[Obj], controller: str) -> bool:
    """Whether ``controller`` serves ``ingress``: its class is one of that controller's,
    or it names no class and one of the controller's classes is the default."""
    mine = [c for c in classes if (c.get("spec") or {}).get("controller") == controller]
    name = class_of(ingress)
    if name:
        return any((c.get("metadata") or {}).get("name") == name for c in mine)
    return any(is_default_class(c) for c in mine)


def tls_secret_for(ingress: Obj, host: str) -> str:
    """The Secret named by the ``spec.tls`` entry that lists ``host`` (wildcards as rule
    hosts), "" when none does. An entry without hosts covers every host."""
    for entry in (ingress.get("spec") or {}).get("tls") or []:
        hosts = entry.get("hosts") or [""]
        if entry.get("secretName") and any(host_matches(str(h), host) for h in hosts):
            return str(entry["secretName"])
    return ""


def kubelab_ingress_class() -> Obj:
    """The built-in IngressClass, the cluster's default (created at the first start)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": KUBELAB_INGRESS_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "spec": {"controller": KUBELAB_INGRESS_CONTROLLER},
    }


def default_class_names(classes: Iterable[Obj]) -> list[str]:
    """The names of the IngressClasses marked as the cluster's default."""
    return sorted(
        str((c.get("metadata") or {}).get("name")) for c in classes if is_default_class(c)
    )
