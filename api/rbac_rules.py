"""RBAC policy rules as values: does a rule allow a request, do rules cover other rules,
and what an aggregated ClusterRole's rules are. Pure: the apiserver's authorizer, its
escalation check and the ClusterRole aggregation controller all decide with these.

The semantics follow Kubernetes' ``RuleAllows`` (authorizer) and ``Covers`` (escalation
prevention): ``*`` matches every verb, group, resource or URL; ``*/scale`` matches the
scale subresource of every resource; an empty ``resourceNames`` means every name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from api.selectors import LabelSelector

ALL = "*"
GROUP = "rbac.authorization.k8s.io"
AGGREGATE_LABEL_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, its lists as frozensets (membership tests on every request)."""

    verbs: frozenset[str]
    api_groups: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    resource_names: frozenset[str] = frozenset()
    non_resource_urls: frozenset[str] = frozenset()


class Request(NamedTuple):
    """What a request asks to do: Kubernetes' authorizer.Attributes. A tuple: built on
    every request, and hashable as a decision cache key."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""  # a non-resource request's URL path
    resource_request: bool = True


def _strs(v: Any) -> frozenset[str]:
    return frozenset(str(x) for x in v) if isinstance(v, list) else frozenset()


def compile_rule(d: Mapping[str, Any]) -> Rule:
    """A PolicyRule dict (as stored) as a Rule."""
    return Rule(
        _strs(d.get("verbs")),
        _strs(d.get("apiGroups")),
        _strs(d.get("resources")),
        _strs(d.get("resourceNames")),
        _strs(d.get("nonResourceURLs")),
    )


def compile_rules(rules: Any) -> tuple[Rule, ...]:
    """Every rule of a Role's or ClusterRole's ``rules`` list; malformed entries skipped."""
    if not isinstance(rules, list):
        return ()
    return tuple(compile_rule(r) for r in rules if isinstance(r, dict))


def _resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    if ALL in rule.resources:
        return True
    combined = f"{resource}/{subresource}" if subresource else resource
    if combined in rule.resources:
        return True
    return bool(subresource) and f"*/{subresource}" in rule.resources


def _url_matches(patterns: Iterable[str], path: str) -> bool:
    for p in patterns:
        if p == ALL or p == path or (p.endswith("*") and path.startswith(p[:-1])):
            return True
    return False


def rule_allows(rule: Rule, req: Request) -> bool:
    """Whether ``rule`` allows ``req`` (Kubernetes' RuleAllows)."""
    if req.verb not in rule.verbs and ALL not in rule.verbs:
        return False
    if not req.resource_request:
        return _url_matches(rule.non_resource_urls, req.path)
    if req.api_group not in rule.api_groups and ALL not in rule.api_groups:
        return False
    if not _resource_matches(rule, req.resource, req.subresource):
        return False
    return not rule.resource_names or req.name in rule.resource_names


def rules_allow(rules: Iterable[Rule], req: Request) -> bool:
    return any(rule_allows(r, req) for r in rules)


# -- escalation: do the rules a user holds cover the rules they grant ------------------


def breakdown(rule: Rule) -> list[Rule]:
    """One rule per verb, group, resource and name (Kubernetes' BreakdownRule)."""
    out: list[Rule] = []
    names: list[frozenset[str]] = [frozenset({n}) for n in sorted(rule.resource_names)] or [
        frozenset()
    ]
    for verb in sorted(rule.verbs):
        for group in sorted(rule.api_groups):
            for res in sorted(rule.resources):
                for n in names:
                    out.append(Rule(frozenset({verb}), frozenset({group}), frozenset({res}), n))
        for url in sorted(rule.non_resource_urls):
            out.append(Rule(frozenset({verb}), non_resource_urls=frozenset({url})))
    return out


def _covers_resources(owner: frozenset[str], wanted: frozenset[str]) -> bool:
    if ALL in owner:
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or f"*/{path.split('/', 1)[1]}" not in owner:
            return False
    return True


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Whether ``owner`` allows at least everything ``sub`` allows (Kubernetes' ruleCovers).

    Stricter than upstream on names: an owner limited to some names never covers a rule
    for every name.
    """
    if not (ALL in owner.verbs or sub.verbs <= owner.verbs):
        return False
    if sub.non_resource_urls:
        return all(_url_matches(owner.non_resource_urls, u) for u in sub.non_resource_urls)
    if not (ALL in owner.api_groups or sub.api_groups <= owner.api_groups):
        return False
    if not _covers_resources(owner.resources, sub.resources):
        return False
    if not owner.resource_names:
        return True
    return bool(sub.resource_names) and sub.resource_names <= owner.resource_names


def uncovered(owner_rules: Sequence[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The broken-down parts of ``wanted`` that no rule in ``owner_rules`` covers."""
    missing: list[Rule] = []
    for rule in wanted:
        for part in breakdown(rule):
            if not any(rule_covers(o, part) for o in owner_rules):
                missing.append(part)
    return missing


def go_quote(values: Iterable[str]) -> str:
    """Go's ``%q`` of a []string, as Kubernetes' messages print lists: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _q(values: frozenset[str]) -> str:
    return go_quote(sorted(values))


def compact_string(rule: Rule) -> str:
    """A rule as Kubernetes prints it in an escalation refusal (rbacv1helpers.CompactString)."""
    parts = []
    if rule.api_groups:
        parts.append(f"APIGroups:{_q(rule.api_groups)}")
    if rule.resources:
        parts.append(f"Resources:{_q(rule.resources)}")
    if rule.non_resource_urls:
        parts.append(f"NonResourceURLs:{_q(rule.non_resource_urls)}")
    if rule.resource_names:
        parts.append(f"ResourceNames:{_q(rule.resource_names)}")
    if rule.verbs:
        parts.append(f"Verbs:{_q(rule.verbs)}")
    return "{" + ", ".join(parts) + "}"


def compact(rules: Iterable[Rule]) -> list[Rule]:
    """Rules that differ only in their verb merged into one (Kubernetes' CompactRules)."""
    merged: dict[tuple[frozenset[str], ...], set[str]] = {}
    for r in rules:
        key = (r.api_groups, r.resources, r.resource_names, r.non_resource_urls)
        merged.setdefault(key, set()).update(r.verbs)
    return [Rule(frozenset(v), *k) for k, v in merged.items()]


# -- aggregation ----------------------------------------------------------------------


def aggregation_selectors(cluster_role: Mapping[str, Any]) -> list[LabelSelector] | None:
    """The parsed ``aggregationRule.clusterRoleSelectors``; None when not aggregated."""
    agg = cluster_role.get("aggregationRule")
    if not isinstance(agg, dict):
        return None
    sels = agg.get("clusterRoleSelectors")
    if not isinstance(sels, list):
        return None
    return [LabelSelector.from_dict(s) for s in sels if isinstance(s, dict)]


def aggregated_rules(
    cluster_role: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]] | None:
    """The rules an aggregated ClusterRole should hold: every rule of every other
    ClusterRole its selectors match, in name order, each once. None when not aggregated."""
    selectors = aggregation_selectors(cluster_role)
    if selectors is None:
        return None
    me = (cluster_role.get("metadata") or {}).get("name")
    picked: list[tuple[str, Mapping[str, Any]]] = []
    for other in others:
        meta = other.get("metadata") or {}
        if meta.get("name") == me:
            continue
        labels = meta.get("labels") or {}
        if any(s.matches(labels) for s in selectors):
            picked.append((str(meta.get("name")), other))
    out: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for _, other in sorted(picked, key=lambda p: p[0]):
        for rule in other.get("rules") or []:
            key = json.dumps(rule, sort_keys=True).encode()
            if key not in seen:
                seen.add(key)
                out.append(rule)
    return out
