"""Authorization: who may do what, decided as Kubernetes does.

1. Group ``system:masters`` (the admin token) may do everything, without looking further
   (Kubernetes' privileged-group authorizer).
2. Nodes (``system:node:<name>`` in group ``system:nodes``): the Node authorizer, in code
   because it depends on which pods are bound to which node: a node writes only its own
   Node and Lease, events, and the pods bound to it, and reads only the secrets those
   pods use.
3. RBAC: the Roles, ClusterRoles and their bindings stored as ``rbac.authorization.k8s.io/v1``
   objects (bootstrap ones in apiserver/rbac_bootstrap.py), resolved from the in-memory
   index of apiserver/rbac_index.py. ``HOME/rbac.yaml`` is translated into bindings
   (apiserver/rbac_file.py); it is never consulted here.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from api.errors import ApiError
from api.rbac_rules import Request as RbacRequest
from api.volume_match import pinned_node
from apiserver.auth import ADMIN_GROUP, User
from apiserver.paths import Target
from apiserver.rbac_bootstrap import AUTHENTICATED_GROUP, CONTROLLER_MANAGER_USER, SCHEDULER_USER
from apiserver.rbac_file import ROLES, RbacFileSync, add_binding
from apiserver.rbac_index import RbacIndex
from apiserver.token_request import bound_pod_ref

__all__ = [
    "CONTROLLER_MANAGER_USER",
    "NODES_GROUP",
    "NODE_USER_PREFIX",
    "ROLES",
    "SCHEDULER_USER",
    "Authorizer",
    "add_binding",
    "forbidden",
    "request_verb",
]

_VERB_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"


def request_verb(request: Request, target: Target) -> str:
    """The Kubernetes verb of a request: get, list, watch, create, update, patch, delete."""
    method = request.method
    if method == "GET":
        if request.query_params.get("watch") in ("true", "True", "1"):
            return "watch"
        if target.subresource in ("log", "exec", "attach", "portforward"):
            return "get" if target.subresource == "log" else "create"
        return "get" if target.name else "list"
    if method == "DELETE" and not target.name:
        return "deletecollection"
    return _VERB_BY_METHOD.get(method, method.lower())


def effective_groups(user: User) -> tuple[str, ...]:
    """The user's groups as RBAC sees them: every authenticated user is also in
    ``system:authenticated``."""
    if AUTHENTICATED_GROUP in user.groups:
        return user.groups
    return (*user.groups, AUTHENTICATED_GROUP)


def rbac_request(verb: str, target: Target) -> RbacRequest:
    return RbacRequest(
        verb,
        target.info.group,
        target.info.plural,
        target.subresource,
        target.name,
        target.namespace or "",
    )


class Authorizer:
    def __init__(self, index: RbacIndex, file_sync: RbacFileSync | None, store: Any) -> None:
        self.index = index
        self.file_sync = file_sync
        self.store = store

    def allows(self, user: User, req: RbacRequest) -> bool:
        """Whether ``user`` may do ``req`` (superuser group or RBAC; not the node rule)."""
        if ADMIN_GROUP in user.groups:
            return True
        return self.index.rule_set(user.name, effective_groups(user), req.namespace).allows(req)

    async def authorize(self, user: User, request: Request, target: Target) -> None:
        """Return if ``user`` may make this request; raise a 403 Status naming it if not."""
        if ADMIN_GROUP in user.groups:
            return
        verb = request_verb(request, target)
        res = target.info.plural + (f"/{target.subresource}" if target.subresource else "")
        if NODES_GROUP in user.groups and user.name.startswith(NODE_USER_PREFIX):
            if await self._node_allows(
                user.name[len(NODE_USER_PREFIX) :], verb, res, target, request
            ):
                return
        req = rbac_request(verb, target)
        if self.file_sync is not None and self.file_sync.due():
            await self.file_sync.refresh()  # a line removed from the file: revoked within 1 s
        if self.allows(user, req):
            return
        if self.file_sync is not None:
            # Before refusing, look at the file now: a line just added grants at once (and a
            # binding that waited for its namespace is tried again).
            await self.file_sync.refresh(retry=True)
            if self.allows(user, req):
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
        if res == "nodes/usage" and target.info.group == "metrics.k8s.io":
            return verb == "create" and target.name == node  # its own usage report
        if res in ("pods", "pods/status"):
            if verb in READ_VERBS:
                return True
            if verb in ("update", "patch", "delete") and target.name:
                pod = self.store.get("/pods", target.namespace or "default", target.name)
                return pod is None or (pod.get("spec") or {}).get("nodeName") == node
            return False
        if res in ("persistentvolumeclaims", "persistentvolumes", "storageclasses"):
            if verb in READ_VERBS:
                return True
            # A kubelet removes the data of, then releases, the local volumes of its node.
            if res == "persistentvolumes" and verb in ("update", "patch") and target.name:
                pv = self.store.get("/persistentvolumes", "", target.name)
                return pv is not None and pinned_node(pv) == node
            return False
        if res == "serviceaccounts/token":
            return verb == "create" and await self._token_for_own_pod(node, target, request)
        if res == "secrets" and verb == "get":
            ns = target.namespace or "default"
            return self._node_uses_secret(node, ns, target.name) or self._ingress_tls_secret(
                ns, target.name
            )
        if res in (
            "ingresses",  # the kubelet's Ingress router (kubelet/ingress_router.py)
            "ingressclasses",
            "services",
            "endpoints",
            "endpointslices",
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

    def _ingress_tls_secret(self, ns: str, name: str) -> bool:
        """Every node's Ingress router serves the TLS Secrets its namespace's Ingresses name
        (``spec.tls[].secretName``), and no other."""
        _, ingresses = self.store.list_raw("networking.k8s.io/ingresses", ns)
        for raw in ingresses:
            if name.encode() in raw:
                tls = (orjson.loads(raw).get("spec") or {}).get("tls") or []
                if any(isinstance(t, dict) and t.get("secretName") == name for t in tls):
                    return True
        return False

    async def _token_for_own_pod(self, node: str, target: Target, request: Request) -> bool:
        """A node may request a token only bound to a pod of its own (name and uid) that
        runs as that service account, as Kubernetes' Node authorizer decides."""
        try:
            ref = bound_pod_ref(orjson.loads(await request.body()))
        except Exception:
            return False
        if ref is None or not ref.get("name") or not ref.get("uid"):
            return False
        pod = self.store.get("/pods", target.namespace or "default", str(ref["name"]))
        if pod is None or pod["metadata"].get("uid") != ref["uid"]:
            return False
        spec = pod.get("spec") or {}
        return bool(spec.get("nodeName") == node and spec.get("serviceAccountName") == target.name)

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
        "(kubectl create rolebinding NAME --clusterrole=edit --user=USER --namespace=NS, "
        "or kubelab token create --user USER --role edit|view --namespace NS)",
        "Forbidden",
        name=target.name,
        kind=target.info.plural,
        group=group,
    )
