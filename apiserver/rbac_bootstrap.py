"""The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings every cluster has.

Like Kubernetes' bootstrappolicy, they are created at first start when missing and are
ordinary objects afterwards: a user may read and change them (an edited one is never
overwritten). ``admin``, ``edit`` and ``view`` are aggregated: their rules are the union
of the ClusterRoles labelled ``rbac.authorization.k8s.io/aggregate-to-<name>: "true"``
(``system:aggregate-to-view`` holds view's own rules; ``view`` itself aggregates into
``edit`` and ``edit`` into ``admin``), kept current by the ClusterRole aggregation
controller; the apiserver fills them once when it creates them so that a cluster
without a controller manager still has working roles.
"""

from __future__ import annotations

from typing import Any

from api.rbac_rules import AGGREGATE_LABEL_PREFIX, GROUP, aggregated_rules

Obj = dict[str, Any]

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

SCHEDULER_USER = "system:kube-scheduler"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
# The cluster DNS server (clusterdns/), a host process with a user of its own.
KUBE_DNS_USER = "system:kube-dns"
KUBE_DNS_NAMESPACE = "kube-system"
# The lab autoscaler (autoscaler/): powers boxes on and off, drains them by evictions.
AUTOSCALER_USER = "system:kubelab-autoscaler"
AUTOSCALER_NAMESPACE = "kube-system"
MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"


def rule(verbs: list[str], groups: list[str], resources: list[str]) -> Obj:
    return {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}


def _cluster_role(
    name: str,
    rules: list[Obj],
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> Obj:
    obj: Obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
            "annotations": dict(AUTOUPDATE),
        },
        "rules": rules,
    }
    if aggregate_from:
        obj["aggregationRule"] = {
            "clusterRoleSelectors": [
                {"matchLabels": {f"{AGGREGATE_LABEL_PREFIX}{aggregate_from}": "true"}}
            ]
        }
    return obj


def _binding(name: str, role: str, kind: str, subject: str) -> Obj:
    subj: Obj = {"kind": kind, "name": subject, "apiGroup": GROUP}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": dict(BOOTSTRAP_LABELS),
            "annotations": dict(AUTOUPDATE),
        },
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [subj],
    }


def _to(*names: str) -> dict[str, str]:
    return {f"{AGGREGATE_LABEL_PREFIX}{n}": "true" for n in names}


# What a namespace's readers see: every workload and its status, never secrets or exec.
_VIEW_RULES = [
    # system:aggregated-metrics-reader's rule: kubectl top for whoever may view.
    rule(["get", "list", "watch"], ["metrics.k8s.io"], ["pods", "nodes"]),
    # The GPU custom metrics (apiserver/custom_metrics_api.py), read like kubectl top's.
    rule(["get"], ["custom.metrics.k8s.io"], ["*"]),
    rule(
        READ,
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "pods/log",
            "pods/status",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "replicationcontrollers/status",
            "serviceaccounts",
            "services",
            "services/status",
            "bindings",
            "events",
            "limitranges",
            "resourcequotas",
            "resourcequotas/status",
            "namespaces",
            "namespaces/status",
        ],
    ),
    rule(
        READ,
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
    ),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
]

# What a namespace's developers may change: the objects a lab user deploys and debugs.
_EDIT_RULES = [
    rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets"]),
    rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(
        WRITE,
        [""],
        [
            "configmaps",
            "endpoints",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
        ],
    ),
    rule(
        WRITE,
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(WRITE + READ, ["coordination.k8s.io"], ["leases"]),
]

# A namespace's owner may also hand out roles in it.
_ADMIN_RULES = [
    rule(WRITE + READ, [GROUP], ["rolebindings", "roles"]),
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
]

_EVERYTHING = [rule(["*"], ["*"], ["*"]), {"verbs": ["*"], "nonResourceURLs": ["*"]}]

_SCHEDULER_RULES = [
    rule(READ, ["*"], ["*"]),
    rule(["*"], [""], ["pods", "pods/binding", "pods/status", "events"]),
    # VolumeBinding: the chosen node on a WaitForFirstConsumer claim (selected-node).
    rule(["patch", "update"], [""], ["persistentvolumeclaims"]),
    rule(["*"], ["events.k8s.io"], ["events"]),
    rule(["*"], ["coordination.k8s.io"], ["leases"]),
    # GPU queues: the scheduler keeps each Queue's usage and counts in its status.
    rule(["patch", "update"], ["scheduling.kubelab.io"], ["queues/status"]),
]

# What a kubelet may do at most; the Node authorizer (apiserver/authz.py) narrows it to its
# own Node, Lease and pods. Unbound, as in Kubernetes since 1.8.
_NODE_RULES = [
    rule(READ, [""], ["nodes", "pods", "services", "endpoints", "configmaps", "namespaces"]),
    rule(["create", "update", "patch"], [""], ["nodes", "nodes/status", "pods/status", "events"]),
    rule(["delete"], [""], ["pods"]),
    rule(["get"], [""], ["secrets"]),
    rule(READ + ["create", "update", "patch"], ["coordination.k8s.io"], ["leases"]),
]


# Kubernetes' system:kube-dns: what a DNS server reads to answer (services, endpoints,
# slices; pods and namespaces for CoreDNS' pod modes).
_KUBE_DNS_RULES = [
    rule(["list", "watch"], [""], ["endpoints", "services", "pods", "namespaces"]),
    rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
    # kubelab's: the server listens on its node's pod-bridge address (clusterdns/podgateway.py).
    rule(["get"], [""], ["nodes"]),
]

# kubelab's DNS runs on the host, not as a pod: it publishes its own kube-dns Service
# and Endpoints, and may touch no other object (a Role in kube-system only).
_KUBE_DNS_PUBLISH_RULES = [
    rule(["create"], [""], ["services", "endpoints"]),
    {
        **rule(["get", "update", "patch"], [""], ["services", "endpoints"]),
        "resourceNames": ["kube-dns"],
    },
]


# What the autoscaler reads (nodes and pods, to plan), marks (a box's asleep taint, cordon
# and Asleep condition), and does (evictions that honour PodDisruptionBudgets, events).
_AUTOSCALER_RULES = [
    rule(READ + ["patch", "update"], [""], ["nodes"]),
    rule(["patch", "update"], [""], ["nodes/status"]),
    rule(READ, [""], ["pods"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(["create", "patch", "update"], [""], ["events"]),
]

# Its power groups' ConfigMap and the drivers' credentials: in kube-system only.
_AUTOSCALER_NAMESPACED_RULES = [rule(["get"], [""], ["configmaps", "secrets"])]


def bootstrap_cluster_roles() -> list[Obj]:
    """Every bootstrap ClusterRole, aggregated ones with their rules filled in."""
    roles = [
        _cluster_role("cluster-admin", _EVERYTHING),
        _cluster_role("system:aggregate-to-view", _VIEW_RULES, _to("view")),
        _cluster_role("system:aggregate-to-edit", _EDIT_RULES, _to("edit")),
        _cluster_role("system:aggregate-to-admin", _ADMIN_RULES, _to("admin")),
        _cluster_role("view", [], _to("edit"), aggregate_from="view"),
        _cluster_role("edit", [], _to("admin"), aggregate_from="edit"),
        _cluster_role("admin", [], aggregate_from="admin"),
        _cluster_role(SCHEDULER_USER, _SCHEDULER_RULES),
        # kubelab runs every controller under one identity (no per-controller service
        # accounts); the garbage collector and namespace cleanup touch every kind.
        _cluster_role(CONTROLLER_MANAGER_USER, _EVERYTHING[:1]),
        _cluster_role("system:node", _NODE_RULES),
        _cluster_role(KUBE_DNS_USER, _KUBE_DNS_RULES),
        _cluster_role(AUTOSCALER_USER, _AUTOSCALER_RULES),
        _cluster_role(
            "system:basic-user",
            [
                rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews"]),
                rule(["create"], ["authorization.k8s.io"], ["selfsubjectrulesreviews"]),
                rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
    ]
    # view feeds edit feeds admin: fill them in that order.
    for name in ("view", "edit", "admin"):
        role = next(r for r in roles if r["metadata"]["name"] == name)
        role["rules"] = aggregated_rules(role, roles) or []
    return roles


def bootstrap_cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", "Group", MASTERS_GROUP),
        _binding(SCHEDULER_USER, SCHEDULER_USER, "User", SCHEDULER_USER),
        _binding(CONTROLLER_MANAGER_USER, CONTROLLER_MANAGER_USER, "User", CONTROLLER_MANAGER_USER),
        _binding(KUBE_DNS_USER, KUBE_DNS_USER, "User", KUBE_DNS_USER),
        _binding(AUTOSCALER_USER, AUTOSCALER_USER, "User", AUTOSCALER_USER),
        _binding("system:basic-user", "system:basic-user", "Group", AUTHENTICATED_GROUP),
    ]


def _namespaced_role(
    name: str, namespace: str, rules: list[Obj], user: str
) -> list[tuple[str, Obj]]:
    """A Role in ``namespace`` and its RoleBinding to ``user``."""
    role: Obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(BOOTSTRAP_LABELS),
            "annotations": dict(AUTOUPDATE),
        },
        "rules": rules,
    }
    binding = _binding(name, name, "User", user)
    binding["kind"] = "RoleBinding"
    binding["metadata"]["namespace"] = namespace
    binding["roleRef"]["kind"] = "Role"
    return [("roles", role), ("rolebindings", binding)]


def bootstrap_namespaced_policy() -> list[tuple[str, Obj]]:
    """The bootstrap Roles and RoleBindings (plural, object), each in its namespace."""
    return [
        *_namespaced_role(
            "system:kube-dns-publisher", KUBE_DNS_NAMESPACE, _KUBE_DNS_PUBLISH_RULES, KUBE_DNS_USER
        ),
        *_namespaced_role(
            AUTOSCALER_USER, AUTOSCALER_NAMESPACE, _AUTOSCALER_NAMESPACED_RULES, AUTOSCALER_USER
        ),
    ]


async def ensure_bootstrap_policy(objects: Any, existing: Any) -> None:
    """Create every bootstrap ClusterRole and ClusterRoleBinding that is missing
    (``existing(resource, name)`` says whether it is stored); changed ones stay as they are."""
    from api.errors import ApiError
    from api.registry import by_plural
    from apiserver.objects import WriteOptions

    for plural, objs in (
        ("clusterroles", bootstrap_cluster_roles()),
        ("clusterrolebindings", bootstrap_cluster_role_bindings()),
    ):
        info = by_plural(GROUP, plural)
        assert info is not None
        for obj in objs:
            if existing(plural, obj["metadata"]["name"]):
                continue
            try:
                await objects.create(info, obj, None, WriteOptions())
            except ApiError as exc:
                if exc.code != 409:
                    raise
    for plural, obj in bootstrap_namespaced_policy():
        info = by_plural(GROUP, plural)
        assert info is not None
        ns = obj["metadata"]["namespace"]
        if existing(plural, obj["metadata"]["name"], ns):
            continue
        try:
            await objects.create(info, obj, ns, WriteOptions())
        except ApiError as exc:
            if exc.code != 409:
                raise
