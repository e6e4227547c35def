"""The authorizer's view of RBAC: every Role, ClusterRole and binding, in memory.

Built once from the store, then kept current from the store's own change stream (the
listener runs on the loop before a write is acknowledged, so a client that has just
created a RoleBinding is authorized by it on its next request). What a user may do is
resolved once per (user, groups, namespace) and cached until any RBAC object changes:
the authorizer is on every request, so a request costs a dict lookup and a few set
membership tests, never a database query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from api.rbac_rules import GROUP, Request, Rule, compile_rules, rules_allow

Obj = dict[str, Any]

ROLES = f"{GROUP}/roles"
CLUSTER_ROLES = f"{GROUP}/clusterroles"
ROLE_BINDINGS = f"{GROUP}/rolebindings"
CLUSTER_ROLE_BINDINGS = f"{GROUP}/clusterrolebindings"
RESOURCES = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Subjects:
    """Who a binding names, as sets to test a user against."""

    users: frozenset[str]
    groups: frozenset[str]

    @staticmethod
    def of(subjects: Any, binding_ns: str) -> Subjects:
        users: set[str] = set()
        groups: set[str] = set()
        for s in subjects if isinstance(subjects, list) else []:
            if not isinstance(s, dict):
                continue
            kind, name = s.get("kind"), str(s.get("name") or "")
            if kind == "User":
                users.add(name)
            elif kind == "Group":
                groups.add(name)
            elif kind == "ServiceAccount":
                ns = str(s.get("namespace") or binding_ns)
                users.add(f"{SERVICE_ACCOUNT_PREFIX}{ns}:{name}")
        return Subjects(frozenset(users), frozenset(groups))

    def match(self, user: str, groups: Iterable[str]) -> bool:
        return user in self.users or not self.groups.isdisjoint(groups)


@dataclass(frozen=True)
class BindingEntry:
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str
    role_name: str
    subjects: Subjects


class RuleSet:
    """The rules that apply to one user in one namespace, with the decisions already made
    on them remembered (a request's verb, group and resource repeat; its name matters only
    when some rule names objects)."""

    __slots__ = ("rules", "_named", "_memo")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._named = any(r.resource_names for r in rules)
        self._memo: dict[tuple[object, ...], bool] = {}

    def allows(self, req: Request) -> bool:
        key = (
            req.verb,
            req.api_group,
            req.resource,
            req.subresource,
            req.name if self._named else "",
            req.path,
        )
        hit = self._memo.get(key)
        if hit is None:
            hit = rules_allow(self.rules, req)
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[key] = hit
        return hit


class RbacIndex:
    """Roles and bindings by key, and the cache of what each user may do."""

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self.cluster_roles: dict[str, tuple[Rule, ...]] = {}
        self.bindings: dict[tuple[str, str, str], BindingEntry] = {}  # (resource, ns, name)
        self._cache: dict[tuple[str, tuple[str, ...], str], RuleSet] = {}
        self.objects: dict[tuple[str, str, str], Obj] = {}  # for reviews and escalation

    def load(self, store: Any) -> None:
        """Read every RBAC object from the store and follow its change stream."""
        for res in RESOURCES:
            _, raws = store.list_raw(res)
            for raw in raws:
                obj = orjson.loads(raw)
                meta = obj.get("metadata") or {}
                self.apply(res, str(meta.get("namespace") or ""), str(meta.get("name")), obj)
        store.add_listener(self.on_events)

    def on_events(self, events: list[Any]) -> None:
        for ev in events:
            if ev.resource in RESOURCES:
                self.apply(
                    ev.resource, ev.namespace, ev.name, None if ev.type == "DELETED" else ev.obj
                )

    def apply(self, res: str, ns: str, name: str, obj: Obj | None) -> None:
        """Record one object (None: deleted) and forget every resolved rule set."""
        self._cache.clear()
        key = (res, ns, name)
        if obj is None:
            self.objects.pop(key, None)
            self.bindings.pop(key, None)
            if res == ROLES:
                self.roles.pop((ns, name), None)
            elif res == CLUSTER_ROLES:
                self.cluster_roles.pop(name, None)
            return
        self.objects[key] = obj
        if res == ROLES:
            self.roles[(ns, name)] = compile_rules(obj.get("rules"))
        elif res == CLUSTER_ROLES:
            self.cluster_roles[name] = compile_rules(obj.get("rules"))
        else:
            ref = obj.get("roleRef") or {}
            self.bindings[key] = BindingEntry(
                ns,
                name,
                str(ref.get("kind") or ""),
                str(ref.get("name") or ""),
                Subjects.of(obj.get("subjects"), ns),
            )

    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[Rule, ...] | None:
        """The rules of the role a roleRef names; None if it does not exist."""
        if kind == "ClusterRole":
            return self.cluster_roles.get(name)
        if kind == "Role":
            return self.roles.get((namespace, name))
        return None

    def rules_for(self, user: str, groups: tuple[str, ...], namespace: str) -> tuple[Rule, ...]:
        """Every rule that applies to the user in ``namespace`` ("" : cluster-wide only):
        ClusterRoleBindings everywhere, RoleBindings of that namespace only."""
        return self.rule_set(user, groups, namespace).rules

    def rule_set(self, user: str, groups: tuple[str, ...], namespace: str) -> RuleSet:
        """``rules_for`` as a RuleSet, resolved once until any RBAC object changes."""
        key = (user, groups, namespace)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        rules: list[Rule] = []
        for b in self.bindings.values():
            if b.namespace and b.namespace != namespace:
                continue
            if not b.subjects.match(user, groups):
                continue
            found = self.role_rules(b.role_kind, b.role_name, b.namespace)
            if found:
                rules.extend(found)
        out = RuleSet(tuple(rules))
        if len(self._cache) > 10000:  # many users or namespaces: start again
            self._cache.clear()
        self._cache[key] = out
        return out

    def bindings_for(
        self, user: str, groups: tuple[str, ...], namespace: str
    ) -> list[BindingEntry]:
        """The bindings that name the user and apply in ``namespace`` (for rules reviews)."""
        return [
            b
            for b in self.bindings.values()
            if (not b.namespace or b.namespace == namespace) and b.subjects.match(user, groups)
        ]

    def has(self, plural: str, name: str, namespace: str = "") -> bool:
        return (f"{GROUP}/{plural}", namespace, name) in self.objects

    def labelled_bindings(self, label: str) -> dict[tuple[str, str], Obj]:
        """(namespace, name) -> every RoleBinding and ClusterRoleBinding carrying ``label``."""
        return {
            (ns, name): obj
            for (res, ns, name), obj in self.objects.items()
            if res in (ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
            and ((obj.get("metadata") or {}).get("labels") or {}).get(label) == "true"
        }

    def allowing_binding(self, user: str, groups: tuple[str, ...], req: Any) -> BindingEntry | None:
        """The first binding whose role allows ``req`` for the user (a review's reason)."""
        from api.rbac_rules import rules_allow

        for b in self.bindings_for(user, groups, req.namespace):
            rules = self.role_rules(b.role_kind, b.role_name, b.namespace)
            if rules and rules_allow(rules, req):
                return b
        return None
