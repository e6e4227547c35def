"""The table of every kind kubelab serves: its group, version, plural name and scope.

Every other layer (REST paths, discovery, the client, kl) looks kinds up here, so
adding a kind is one entry in ``RESOURCES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceInfo:
    """How one kind is named and addressed in the Kubernetes REST API."""

    group: str  # "" for core
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    # Kinds that have a ``spec`` whose changes bump metadata.generation.
    has_spec: bool = True
    # A DELETE that removes the object at once answers with its last state, not a Status
    # (the generic registry's ReturnDeletedObject; the official clients type the reply so).
    returns_deleted_object: bool = False
    # Served from a CustomResourceDefinition (api/crd): added and removed at run time.
    custom: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        """The apiVersion string, e.g. ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version(self) -> str:
        return self.api_version

    def collection_path(self, namespace: str | None = None) -> str:
        """The URL path of the collection (all namespaces when ``namespace`` is None)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None, subresource: str = "") -> str:
        """The URL path of one object, optionally of one of its subresources."""
        path = f"{self.collection_path(namespace)}/{name}"
        return f"{path}/{subresource}" if subresource else path


_ALL = ("all",)
_RBAC = "rbac.authorization.k8s.io"
_CREATE = ("create",)

# One row per kind: kept as a table on purpose.
# fmt: off
# The GPU metrics custom.metrics.k8s.io serves (apiserver/custom_metrics_api.py).
CUSTOM_METRIC_NAMES = ("gpu_utilization", "gpu_memory_used", "gpu_power_usage")

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
                 subresources=("status", "finalize"), returns_deleted_object=True),
    ResourceInfo("", "v1", "Node", "nodes", "node", False, ("no",),
                 subresources=("status", "proxy")),
    ResourceInfo("", "v1", "Pod", "pods", "pod", True, ("po",), _ALL,
                 subresources=("status", "binding", "log", "eviction", "exec", "attach",
                               "portforward", "ephemeralcontainers"),
                 returns_deleted_object=True),
    ResourceInfo("", "v1", "Service", "services", "service", True, ("svc",), _ALL,
                 subresources=("status",), returns_deleted_object=True),
    ResourceInfo("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), has_spec=False),
    ResourceInfo("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), has_spec=False),
    ResourceInfo("", "v1", "Secret", "secrets", "secret", True, (), has_spec=False),
    ResourceInfo("", "v1", "Event", "events", "event", True, ("ev",), has_spec=False),
    ResourceInfo("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",),
                 subresources=("token",), has_spec=False, returns_deleted_object=True),
    ResourceInfo("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False,
                 ("pv",), subresources=("status",)),
    ResourceInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
                 "persistentvolumeclaim", True, ("pvc",), subresources=("status",)),
    ResourceInfo("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True, ("quota",),
                 subresources=("status",)),
    ResourceInfo("", "v1", "LimitRange", "limitranges", "limitrange", True, ("limits",)),
    ResourceInfo("", "v1", "ReplicationController", "replicationcontrollers",
                 "replicationcontroller", True, ("rc",), _ALL, subresources=("status", "scale")),
    ResourceInfo("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), _ALL,
                 subresources=("status", "scale")),
    ResourceInfo("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), _ALL,
                 subresources=("status", "scale")),
    ResourceInfo("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",),
                 _ALL, subresources=("status", "scale")),
    ResourceInfo("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), _ALL,
                 subresources=("status",)),
    ResourceInfo("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision",
                 True, has_spec=False),
    ResourceInfo("batch", "v1", "Job", "jobs", "job", True, (), _ALL, subresources=("status",)),
    ResourceInfo("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), _ALL,
                 subresources=("status",)),
    ResourceInfo("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                 "horizontalpodautoscaler", True, ("hpa",), _ALL, subresources=("status",)),
    ResourceInfo("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, ()),
    ResourceInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice",
                 True, (), has_spec=False),
    ResourceInfo(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding",
                 False, has_spec=False),
    ResourceInfo(_RBAC, "v1", "ClusterRole", "clusterroles", "clusterrole", False, has_spec=False),
    ResourceInfo(_RBAC, "v1", "RoleBinding", "rolebindings", "rolebinding", True, has_spec=False),
    ResourceInfo(_RBAC, "v1", "Role", "roles", "role", True, has_spec=False),
    # The review kinds: answered at once, never stored (apiserver/rbac_reviews.py).
    ResourceInfo("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
                 "selfsubjectreview", False, verbs=_CREATE),
    ResourceInfo("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview",
                 False, verbs=_CREATE),
    ResourceInfo("authorization.k8s.io", "v1", "LocalSubjectAccessReview",
                 "localsubjectaccessreviews", "localsubjectaccessreview", True, verbs=_CREATE),
    ResourceInfo("authorization.k8s.io", "v1", "SelfSubjectAccessReview",
                 "selfsubjectaccessreviews", "selfsubjectaccessreview", False, verbs=_CREATE),
    ResourceInfo("authorization.k8s.io", "v1", "SelfSubjectRulesReview",
                 "selfsubjectrulesreviews", "selfsubjectrulesreview", False, verbs=_CREATE),
    ResourceInfo("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
                 "subjectaccessreview", False, verbs=_CREATE),
    # Measured usage, reported by the kubelets and kept in memory (apiserver/metrics_api.py).
    ResourceInfo("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", "", False,
                 subresources=("usage",), verbs=("get", "list"), has_spec=False),
    ResourceInfo("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", "", True,
                 verbs=("get", "list"), has_spec=False),
    # GPU metrics per pod and node for the HPA's Pods metrics (apiserver/custom_metrics_api.py):
    # read as pods/NAME|*/METRIC, the metric names being the subresources.
    ResourceInfo("custom.metrics.k8s.io", "v1beta2", "MetricValueList", "pods", "", True,
                 subresources=CUSTOM_METRIC_NAMES, verbs=("get",), has_spec=False),
    ResourceInfo("custom.metrics.k8s.io", "v1beta2", "MetricValueList", "nodes", "", False,
                 subresources=CUSTOM_METRIC_NAMES, verbs=("get",), has_spec=False),
    ResourceInfo("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets",
                 "poddisruptionbudget", True, ("pdb",), subresources=("status",)),
    ResourceInfo("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass",
                 False, ("pc",), has_spec=False),
    # GPU queues: nominal shares, borrowing, reclaim (docs/queues.md; scheduler/quota_book.py).
    ResourceInfo("scheduling.kubelab.io", "v1", "Queue", "queues", "queue", False,
                 subresources=("status",)),
    ResourceInfo("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False,
                 ("sc",), has_spec=False),
    ResourceInfo("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",),
                 subresources=("status",)),
    ResourceInfo("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass",
                 False),
    ResourceInfo("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy",
                 True, ("netpol",)),
    ResourceInfo("certificates.k8s.io", "v1", "CertificateSigningRequest",
                 "certificatesigningrequests", "certificatesigningrequest", False, ("csr",),
                 subresources=("status", "approval")),
    ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                 "customresourcedefinitions", "customresourcedefinition", False, ("crd", "crds"),
                 subresources=("status",), returns_deleted_object=True),
    # Admission webhooks the apiserver calls in its write path (apiserver/admission_webhooks.py).
    ResourceInfo("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
                 "validatingwebhookconfigurations", "validatingwebhookconfiguration", False,
                 has_spec=False, categories=("api-extensions",)),
    ResourceInfo("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
                 "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", False,
                 has_spec=False, categories=("api-extensions",)),
)
# fmt: on

_BY_PLURAL: dict[tuple[str, str], ResourceInfo] = {(r.group, r.plural): r for r in RESOURCES}
_BY_KIND: dict[tuple[str, str], ResourceInfo] = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_ANY_NAME: dict[str, ResourceInfo] = {}
for _r in RESOURCES:
    for _n in (_r.plural, _r.singular, _r.kind.lower(), *_r.short_names):
        _BY_ANY_NAME.setdefault(_n, _r)
    _BY_ANY_NAME.setdefault(f"{_r.plural}.{_r.group}" if _r.group else _r.plural, _r)


# The dynamic overlay: kinds served from CustomResourceDefinitions. The apiserver fills it
# from its stored CRDs, a client from discovery; the built-in table above never changes and
# wins on any clash. Replaced whole (``set_custom``), so a reader never sees half of it.
@dataclass(frozen=True)
class _Overlay:
    infos: tuple[ResourceInfo, ...] = ()
    by_gvp: dict[tuple[str, str, str], ResourceInfo] = field(default_factory=dict)
    by_plural: dict[tuple[str, str], ResourceInfo] = field(default_factory=dict)
    by_kind: dict[tuple[str, str], ResourceInfo] = field(default_factory=dict)
    by_name: dict[str, ResourceInfo] = field(default_factory=dict)
    generation: int = 0


_overlay = _Overlay()


def set_custom(infos: list[ResourceInfo] | tuple[ResourceInfo, ...]) -> None:
    """Serve exactly ``infos`` (custom kinds, each group's preferred version first) besides
    the built-in table."""
    global _overlay
    by_gvp: dict[tuple[str, str, str], ResourceInfo] = {}
    by_pl: dict[tuple[str, str], ResourceInfo] = {}
    by_k: dict[tuple[str, str], ResourceInfo] = {}
    by_n: dict[str, ResourceInfo] = {}
    kept: list[ResourceInfo] = []
    for r in infos:
        if (r.group, r.plural) in _BY_PLURAL:
            continue
        kept.append(r)
        by_gvp.setdefault((r.group, r.version, r.plural), r)
        by_pl.setdefault((r.group, r.plural), r)
        by_k.setdefault((r.api_version, r.kind), r)
        for n in (r.plural, r.singular, r.kind.lower(), *r.short_names, f"{r.plural}.{r.group}"):
            by_n.setdefault(n, r)
    _overlay = _Overlay(tuple(kept), by_gvp, by_pl, by_k, by_n, _overlay.generation + 1)


def add_custom(infos: list[ResourceInfo]) -> None:
    """Serve ``infos`` too (a client that found them through discovery)."""
    known = {(r.group, r.version, r.plural) for r in _overlay.infos}
    set_custom(
        [*_overlay.infos, *(r for r in infos if (r.group, r.version, r.plural) not in known)]
    )


def custom_generation() -> int:
    """Changes whenever the overlay does: for caches of documents derived from it."""
    return _overlay.generation


def all_resources() -> tuple[ResourceInfo, ...]:
    """Every kind served: the built-in table, then the custom kinds."""
    return RESOURCES + _overlay.infos if _overlay.infos else RESOURCES


def by_plural(group: str, plural: str) -> ResourceInfo | None:
    """Find a resource by API group and plural name (``("apps", "deployments")``); for a
    custom kind with several versions, its preferred one."""
    return _BY_PLURAL.get((group, plural)) or _overlay.by_plural.get((group, plural))


def by_version_plural(group: str, version: str, plural: str) -> ResourceInfo | None:
    """Find a resource by group, version and plural (a custom kind serves several)."""
    info = _BY_PLURAL.get((group, plural))
    if info is not None:
        return info if info.version == version else None
    return _overlay.by_gvp.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceInfo | None:
    """Find a resource by ``apiVersion`` and ``kind`` as written in a manifest."""
    return _BY_KIND.get((api_version, kind)) or _overlay.by_kind.get((api_version, kind))


def lookup(name: str) -> ResourceInfo | None:
    """Find a resource by any name a user may type: plural, singular, kind or short name."""
    low = name.lower()
    return _BY_ANY_NAME.get(low) or _overlay.by_name.get(low)


def groups() -> dict[str, list[ResourceInfo]]:
    """Resources grouped by their group/version string, in registry order."""
    out: dict[str, list[ResourceInfo]] = {}
    for r in all_resources():
        out.setdefault(r.api_version, []).append(r)
    return out
