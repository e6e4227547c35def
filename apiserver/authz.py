"""Authorization: who may do what.

- Group ``system:masters`` (the admin token) may do everything.
- Built-in identities: ``system:kube-scheduler``, ``system:kube-controller-manager``, and
  each node ``system:node:<name>`` (group ``system:nodes``), which may write only its own
  Node and Lease, events, and the pods bound to it (the Kubernetes node authorizer's rule).
- Everyone else gets what the RBAC file binds them to: roles ``admin`` (everything),
  ``edit`` (workloads, in the binding's namespaces or everywhere), ``view`` (read-only,
  never secrets).

The RBAC file (``HOME/rbac.yaml``) is re-read when it changes::

    bindings:
      - user: alice            # or group: ml-team
        role: edit
        namespaces: [team-a]   # omit for every namespace
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from starlette.requests import Request

from api.errors import ApiError
from apiserver.auth import ADMIN_GROUP, User
from apiserver.paths import Target

_VERB_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ROLES = ("admin", "edit", "view")

SCHEDULER_USER = "system:kube-scheduler"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"

# What the `edit` role may write: the objects a lab user deploys and debugs.
EDIT_RESOURCES = frozenset(
    {
        "pods",
        "pods/log",
        "pods/exec",
        "pods/eviction",
        "deployments",
        "deployments/scale",
        "replicasets",
        "replicasets/scale",
        "jobs",
        "services",
        "endpoints",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "events",
    }
)
SCHEDULER_WRITES = frozenset({"pods", "pods/binding", "pods/status", "events", "leases"})


def request_verb(request: Request, target: Target) -> str:
    """The Kubernetes verb of a request: get, list, watch, create, update, patch, delete."""
    if request.method == "GET":
        if request.query_params.get("watch") in ("true", "True", "1"):
            return "watch"
        if target.subresource in ("log", "exec"):
            return "get" if target.subresource == "log" else "create"
        return "get" if target.name else "list"
    if request.method == "DELETE" and not target.name:
        return "deletecollection"
    return _VERB_BY_METHOD.get(request.method, request.method.lower())


@dataclass(frozen=True)
class Binding:
    user: str
    group: str
    role: str
    namespaces: tuple[str, ...]  # empty: every namespace


def load_bindings(path: Path | None) -> list[Binding]:
    if path is None or not path.exists():
        return []
    doc = yaml.safe_load(path.read_text()) or {}
    out = []
    for b in doc.get("bindings") or []:
        role = str(b.get("role") or "")
        if role not in ROLES:
            raise ValueError(f"{path}: role {role!r} is not one of {', '.join(ROLES)}")
        out.append(
            Binding(
                str(b.get("user") or ""),
                str(b.get("group") or ""),
                role,
                tuple(str(n) for n in b.get("namespaces") or []),
            )
        )
    return out


def add_binding(path: Path, user: str, role: str, namespaces: list[str]) -> None:
    """Bind ``user`` to ``role`` (in ``namespaces``, or everywhere) in the RBAC file."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    doc: dict[str, Any] = {}
    if path.exists():
        doc = yaml.safe_load(path.read_text()) or {}
    entry: dict[str, Any] = {"user": user, "role": role}
    if namespaces:
        entry["namespaces"] = list(namespaces)
    doc.setdefault("bindings", []).append(entry)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    os.replace(tmp, path)


def _role_allows(role: str, verb: str, resource: str) -> bool:
    if role == "admin":
        return True
    if resource == "secrets" and role == "view":
        return False
    if verb in READ_VERBS:
        return role in ("edit", "view") and resource not in ("pods/exec",)
    return role == "edit" and resource in EDIT_RESOURCES


class Authorizer:
    def __init__(self, rbac_file: Path | None, store: Any) -> None:
        self.rbac_file = rbac_file
        self.store = store
        self._mtime = -1.0
        self._bindings: list[Binding] = []

    def _current_bindings(self) -> list[Binding]:
        if self.rbac_file is None:
            return []
        try:
            mtime = self.rbac_file.stat().st_mtime
        except FileNotFoundError:
            return []
        if mtime != self._mtime:
            self._bindings = load_bindings(self.rbac_file)
            self._mtime = mtime
        return self._bindings

    async def authorize(self, user: User, request: Request, target: Target) -> None:
        """Return if ``user`` may make this request; raise a 403 Status naming it if not."""
        if ADMIN_GROUP in user.groups or user.name == CONTROLLER_MANAGER_USER:
            return
        verb = request_verb(request, target)
        res = target.info.plural + (f"/{target.subresource}" if target.subresource else "")
        ns = target.namespace or ""
        if user.name == SCHEDULER_USER:
            if verb in READ_VERBS or res in SCHEDULER_WRITES:
                return
        elif NODES_GROUP in user.groups and user.name.startswith(NODE_USER_PREFIX):
            if await self._node_allows(
                user.name[len(NODE_USER_PREFIX) :], verb, res, target, request
            ):
                return
        else:
            for b in self._current_bindings():
                if b.user and b.user != user.name:
                    continue
                if b.group and b.group not in user.groups:
                    continue
                if not b.user and not b.group:
                    continue
                if b.namespaces and (not target.info.namespaced or ns not in b.namespaces):
                    # A namespaced role may still list across namespaces? No: like a RoleBinding.
                    continue
                if _role_allows(b.role, verb, res):
                    return
        raise forbidden(user.name, verb, res, target)

    async def _node_allows(
        self, node: str, verb: str, res: str, target: Target, request: Request
    ) -> bool:
        """The node authorizer: a node writes only its own Node, Lease and pods."""
        if res in ("nodes", "nodes/status"):
            if verb in READ_VERBS:
                return True
            if verb == "create":
                return await self._body_name(request) == node
            return verb in ("update", "patch") and target.name == node
        if res == "leases":
            if verb in READ_VERBS:
                return True
            if target.namespace != "kube-node-lease":
                return False
            if verb == "create":
                return await self._body_name(request) == node
            return verb in ("update", "patch") and target.name == node
        if res == "events":
            return verb in READ_VERBS or verb in ("create", "update", "patch")
        if res in ("pods", "pods/status"):
            if verb in READ_VERBS:
                return True
            if verb in ("update", "patch", "delete") and target.name:
                pod = self.store.get("/pods", target.namespace or "default", target.name)
                return pod is None or (pod.get("spec") or {}).get("nodeName") == node
            return False
        if res == "secrets" and verb == "get":
            return self._node_uses_secret(node, target.namespace or "default", target.name)
        if res in (
            "services",
            "endpoints",
            "configmaps",
            "namespaces",
            "secrets",
            "serviceaccounts",
        ):
            return verb in READ_VERBS and res != "secrets"
        return False

    def _node_uses_secret(self, node: str, ns: str, name: str) -> bool:
        """A node may read a secret only if a pod bound to it refers to that secret."""
        _, pods = self.store.list_raw("/pods", ns, node=node)
        for raw in pods:
            if name.encode() in raw and name in _secret_refs(orjson.loads(raw)):
                return True
        return False

    async def _body_name(self, request: Request) -> str:
        try:
            body = orjson.loads(await request.body())
            return str((body.get("metadata") or {}).get("name") or "")
        except Exception:
            return ""


def _secret_refs(pod: dict[str, Any]) -> set[str]:
    spec = pod.get("spec") or {}
    refs: set[str] = set()
    for v in spec.get("volumes") or []:
        name = ((v or {}).get("secret") or {}).get("secretName")
        if name:
            refs.add(name)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for e in c.get("env") or []:
            name = (((e or {}).get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if name:
                refs.add(name)
        for ef in c.get("envFrom") or []:
            name = ((ef or {}).get("secretRef") or {}).get("name")
            if name:
                refs.add(name)
    for s in spec.get("imagePullSecrets") or []:
        if (s or {}).get("name"):
            refs.add(s["name"])
    return refs


def forbidden(user: str, verb: str, res: str, target: Target) -> ApiError:
    group = target.info.group
    what = f'{res} "{target.name}"' if target.name else res
    where = f' in the namespace "{target.namespace}"' if target.namespace else ""
    return ApiError(
        403,
        f'{what} is forbidden: User "{user}" cannot {verb} resource "{res}" in API group '
        f'"{group}"{where}: ask an admin for a role that allows it '
        "(kubelab token create --user USER --role edit|view --namespace NS)",
        "Forbidden",
        name=target.name,
        kind=target.info.plural,
        group=group,
    )
