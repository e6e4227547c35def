"""Which admission webhooks a request reaches: a configuration's webhooks parsed once, and
Kubernetes' matching rules (apiserver/pkg/admission/plugin/webhook: rules, scope,
namespaceSelector, objectSelector, matchPolicy).

Pure: the caller supplies the namespace's labels and the resource's other served versions.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from api.selectors import LabelSelector
from api.webhook_defaults import DEFAULT_TIMEOUT, MUTATING

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    operations: frozenset[str]
    groups: frozenset[str]
    versions: frozenset[str]
    resources: tuple[tuple[str, str], ...]  # (resource, subresource), either may be "*"
    scope: str

    def matches(self, req: Request, group: str, version: str) -> bool:
        """Kubernetes' rule.Matcher: operation, group, version, resource and scope."""
        if "*" not in self.operations and req.operation not in self.operations:
            return False
        if "*" not in self.groups and group not in self.groups:
            return False
        if "*" not in self.versions and version not in self.versions:
            return False
        if not any(
            (res in ("*", req.resource)) and (sub in ("*", req.subresource))
            for res, sub in self.resources
        ):
            return False
        if self.scope == "Namespaced":
            return not req.is_namespace and bool(req.namespace)
        if self.scope == "Cluster":
            return req.is_namespace or not req.namespace
        return True


@dataclass(frozen=True)
class ClientConfig:
    url: str = ""
    service_namespace: str = ""
    service_name: str = ""
    service_port: int = 443
    service_path: str = ""
    ca_bundle: bytes = b""  # PEM, decoded from the configuration's base64

    @property
    def server_name(self) -> str:
        """The name the webhook's certificate must carry (Kubernetes: svc.ns.svc)."""
        return f"{self.service_name}.{self.service_namespace}.svc"


@dataclass(frozen=True)
class Webhook:
    configuration: str
    name: str
    mutating: bool
    rules: tuple[Rule, ...]
    client: ClientConfig
    failure_policy: str = "Fail"
    match_policy: str = "Equivalent"
    namespace_selector: LabelSelector = LabelSelector(())
    object_selector: LabelSelector = LabelSelector(())
    side_effects: str = "None"
    timeout_seconds: int = DEFAULT_TIMEOUT
    reinvocation_policy: str = "Never"

    @property
    def key(self) -> tuple[str, str, bool]:
        return (self.configuration, self.name, self.mutating)


@dataclass(frozen=True)
class Request:
    """The attributes of one write that webhooks are matched against."""

    operation: str  # CREATE | UPDATE | DELETE
    group: str
    version: str
    resource: str  # plural
    subresource: str
    kind: str
    namespace: str  # for a Namespace itself: its name, as Kubernetes sets it
    name: str
    is_namespace: bool = False
    # A subresource that is an object of its own (pods/eviction: a policy/v1 Eviction) has
    # its own group and version; "" keeps the resource's.
    kind_api_version: str = ""


@dataclass(frozen=True)
class Match:
    """A webhook a request reaches, and the version it is sent in (matchPolicy
    Equivalent may send another served version of the same resource)."""

    webhook: Webhook
    group: str
    version: str


def parse_configuration(obj: Obj) -> list[Webhook]:
    """The webhooks of a stored (defaulted, validated) configuration, in their order."""
    mutating = obj.get("kind") == MUTATING
    name = str((obj.get("metadata") or {}).get("name") or "")
    out: list[Webhook] = []
    for hook in obj.get("webhooks") or []:
        rules = tuple(_rule(r) for r in hook.get("rules") or [])
        cc = hook.get("clientConfig") or {}
        svc = cc.get("service") or {}
        bundle = b""
        if cc.get("caBundle"):
            try:
                bundle = base64.b64decode(cc["caBundle"])
            except (binascii.Error, ValueError):
                bundle = b""  # verification then fails, as it would on Kubernetes
        client = ClientConfig(
            url=str(cc.get("url") or ""),
            service_namespace=str(svc.get("namespace") or ""),
            service_name=str(svc.get("name") or ""),
            service_port=int(svc.get("port") or 443),
            service_path=str(svc.get("path") or ""),
            ca_bundle=bundle,
        )
        out.append(
            Webhook(
                configuration=name,
                name=str(hook.get("name") or ""),
                mutating=mutating,
                rules=rules,
                client=client,
                failure_policy=str(hook.get("failurePolicy") or "Fail"),
                match_policy=str(hook.get("matchPolicy") or "Equivalent"),
                namespace_selector=LabelSelector.from_dict(hook.get("namespaceSelector") or {}),
                object_selector=LabelSelector.from_dict(hook.get("objectSelector") or {}),
                side_effects=str(hook.get("sideEffects") or ""),
                timeout_seconds=int(hook.get("timeoutSeconds") or DEFAULT_TIMEOUT),
                reinvocation_policy=str(hook.get("reinvocationPolicy") or "Never"),
            )
        )
    return out


def _rule(r: Obj) -> Rule:
    resources = []
    for res in r.get("resources") or []:
        base, _, sub = str(res).partition("/")
        resources.append((base, sub))
    return Rule(
        operations=frozenset(r.get("operations") or ()),
        groups=frozenset(r.get("apiGroups") or ()),
        versions=frozenset(r.get("apiVersions") or ()),
        resources=tuple(resources),
        scope=str(r.get("scope") or "*"),
    )


def _labels(obj: Obj | None) -> dict[str, str] | None:
    if obj is None:
        return None
    return dict((obj.get("metadata") or {}).get("labels") or {})


def namespace_selected(
    hook: Webhook, req: Request, ns_labels: dict[str, str], obj: Obj | None, old: Obj | None
) -> bool:
    """namespaceSelector: a cluster-scoped object other than a Namespace is never exempt;
    a Namespace is judged by its own labels (it may not exist yet)."""
    if hook.namespace_selector.empty:
        return True
    if req.is_namespace:
        labels = _labels(obj if obj is not None else old) or {}
        return hook.namespace_selector.matches(labels)
    if not req.namespace:
        return True
    return hook.namespace_selector.matches(ns_labels)


def object_selected(hook: Webhook, obj: Obj | None, old: Obj | None) -> bool:
    """objectSelector: the new object's or the old object's labels match."""
    if hook.object_selector.empty:
        return True
    return any(
        labels is not None and hook.object_selector.matches(labels)
        for labels in (_labels(obj), _labels(old))
    )


def match(
    hook: Webhook,
    req: Request,
    ns_labels: dict[str, str],
    obj: Obj | None,
    old: Obj | None,
    equivalents: tuple[tuple[str, str], ...] = (),
) -> Match | None:
    """Whether ``hook`` is called for ``req``, and in which (group, version).
    ``equivalents``: the other (group, version) pairs the same resource is served as."""
    found: Match | None = None
    if any(r.matches(req, req.group, req.version) for r in hook.rules):
        found = Match(hook, req.group, req.version)
    elif hook.match_policy == "Equivalent":
        for group, version in equivalents:
            if any(r.matches(req, group, version) for r in hook.rules):
                found = Match(hook, group, version)
                break
    if found is None:
        return None
    if not namespace_selected(hook, req, ns_labels, obj, old):
        return None
    if not object_selected(hook, obj, old):
        return None
    return found


def might_match(
    hooks: tuple[Webhook, ...], operation: str, group: str, resource: str, subresource: str = ""
) -> bool:
    """A cheap first look (no selectors, no versions): could any of ``hooks`` match?"""
    for hook in hooks:
        for r in hook.rules:
            if "*" not in r.operations and operation not in r.operations:
                continue
            if "*" not in r.groups and group not in r.groups:
                continue
            if any(
                res in ("*", resource) and sub in ("*", subresource) for res, sub in r.resources
            ):
                return True
    return False
