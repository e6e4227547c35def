"""Kubernetes defaulting on plain dicts, applied by the apiserver to every write.

``apply_defaults(kind, obj)`` fills in what Kubernetes fills in (restartPolicy,
imagePullPolicy, probe timings, Deployment strategy, Job backoffLimit, …) in place.
It runs on the hot write path, so it works on dicts with ``setdefault`` and no models.
Defaulting only adds what is missing; it never overwrites a value the user gave.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from api.hpa import default_hpa
from api.limitrange import default_limit_range
from api.quantity import format_quantity
from api.webhook_defaults import default_configuration

__all__ = [
    "DEFAULT_TOLERATION_SECONDS",
    "apply_defaults",
    "default_own_pod_spec",
    "default_pod_spec",
    "default_tolerations",
    "generate_job_selector",
    "image_pull_policy",
]

Obj = dict[str, Any]

_PROBE_DEFAULTS = (
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)

# Labels the Job controller selects its pods by (set when the server has given the Job a uid).
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

# The taints the node lifecycle controller puts on a node that is not ready / silent.
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
# kube-apiserver's --default-not-ready-toleration-seconds / --default-unreachable-...
DEFAULT_TOLERATION_SECONDS = 300


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image, ``IfNotPresent`` otherwise."""
    if "@" in image:  # pinned by digest
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _stringify_quantities(q: Any) -> None:
    """Numbers written in YAML (``cpu: 2``) become strings, as Kubernetes serves them."""
    if not isinstance(q, dict):
        return
    for k, v in q.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            q[k] = str(v)
        elif isinstance(v, float):
            try:
                q[k] = format_quantity(v)
            except ValueError:
                pass  # left for validation to report


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in _PROBE_DEFAULTS:
        probe.setdefault(key, value)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    image = c.get("image")
    if isinstance(image, str) and image and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = image_pull_policy(image)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    ports = c.get("ports")
    if isinstance(ports, list):
        for p in ports:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
    res = c.get("resources")
    if isinstance(res, dict):
        limits = res.get("limits")
        requests = res.get("requests")
        _stringify_quantities(limits)
        _stringify_quantities(requests)
        # As in Kubernetes: a limit without a request also sets the request.
        if isinstance(limits, dict) and limits:
            if not isinstance(requests, dict):
                requests = res["requests"] = {}
            for k, v in limits.items():
                requests.setdefault(k, v)
    else:
        c.setdefault("resources", {})
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe_key in c:
            _default_probe(c[probe_key])


def default_pod_spec(spec: Any, restart_policy: str | None = "Always") -> None:
    """Defaults of a PodSpec (also used for Deployment/ReplicaSet/Job templates).

    ``restart_policy`` None leaves restartPolicy unset (Job templates must name one).
    """
    if not isinstance(spec, dict):
        return
    if restart_policy is not None:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for key in ("containers", "initContainers"):
        containers = spec.get(key)
        if isinstance(containers, list):
            for c in containers:
                _default_container(c)
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for v in volumes:
            if not isinstance(v, dict):
                continue
            for src in ("configMap", "secret"):
                s = v.get(src)
                if isinstance(s, dict):
                    s.setdefault("defaultMode", 420)


def _tolerates(tolerations: list[Any], key: str) -> bool:
    """Whether some toleration already covers the ``key``:NoExecute taint (an empty key
    or effect matches any), as the DefaultTolerationSeconds plugin checks."""
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("key") in (None, "", key) and t.get("effect") in (None, "", "NoExecute"):
            return True
    return False


def default_tolerations(
    pod: Obj,
    not_ready_seconds: int = DEFAULT_TOLERATION_SECONDS,
    unreachable_seconds: int = DEFAULT_TOLERATION_SECONDS,
) -> None:
    """Kubernetes' DefaultTolerationSeconds admission on a Pod (not on templates): a pod
    that does not tolerate the not-ready / unreachable NoExecute taints gets tolerations of
    them for the given seconds, so that it is evicted from a dead node after that long."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return  # left for validation to report
    added = []
    for key, seconds in (
        (NOT_READY_TAINT, not_ready_seconds),
        (UNREACHABLE_TAINT, unreachable_seconds),
    ):
        if not _tolerates(tolerations, key):
            added.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": seconds,
                }
            )
    if added:
        spec["tolerations"] = [*tolerations, *added]


def _template_spec(obj: Obj) -> Any:
    template = (obj.get("spec") or {}).get("template")
    return template.get("spec") if isinstance(template, dict) else None


def default_own_pod_spec(spec: Any) -> None:
    """The defaults of a Pod's own spec beyond those of a template's (SetDefaults_Pod, and
    the ServiceAccount admission plugin): apply after :func:`default_pod_spec`."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("enableServiceLinks", True)
    # The namespace's default account; the deprecated serviceAccount field mirrors
    # serviceAccountName (which is taken from it if only it was given), as the v1
    # conversion does.
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]


def _default_pod(obj: Obj) -> None:
    default_pod_spec(obj.get("spec"))
    default_own_pod_spec(obj.get("spec"))
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    status.setdefault("phase", "Pending")


def _default_deployment(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_spec(_template_spec(obj))


def _default_replicaset(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    default_pod_spec(_template_spec(obj))


def _default_statefulset(obj: Obj) -> None:
    # SetDefaults_StatefulSet, with the StatefulSetAutoDeletePVC gate on (beta since 1.27).
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("partition", 0)
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_spec(_template_spec(obj))
    # Each claim template gets a claim's own defaults (volumeMode, phase Pending) and, as
    # kube-apiserver serves them, its apiVersion and kind.
    claim_defaults = _DEFAULTERS.get("PersistentVolumeClaim")
    templates = spec.get("volumeClaimTemplates")
    if isinstance(templates, list):
        for t in templates:
            if isinstance(t, dict):
                t.setdefault("apiVersion", "v1")
                t.setdefault("kind", "PersistentVolumeClaim")
                if claim_defaults is not None:
                    claim_defaults(t)


def _default_job(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    # As in Kubernetes: neither set → one pod; parallelism alone → a work queue (no completions).
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"), restart_policy=None)


def generate_job_selector(job: Obj) -> None:
    """Give a Job the selector Kubernetes generates on create (from its uid), unless the user
    set one or asked for ``manualSelector``. Call once on create, after ``metadata.uid`` is
    assigned; it is not part of :func:`apply_defaults` because the selector is immutable and
    must not appear on a later update of a Job that was created without one."""
    spec = job.get("spec")
    meta = job.get("metadata") or {}
    uid = meta.get("uid")
    name = meta.get("name")
    if not isinstance(spec, dict) or not uid or spec.get("manualSelector") or spec.get("selector"):
        return
    spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = template["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    labels.setdefault(JOB_UID_LABEL, uid)
    labels.setdefault("controller-uid", uid)
    if name:
        labels.setdefault(JOB_NAME_LABEL, name)
        labels.setdefault("job-name", name)


def _default_service(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    # clusterIPs follows clusterIP when only the singular is given (an older client), as
    # Kubernetes' PrepareForCreate does; the apiserver allocates both when neither is.
    cip = spec.get("clusterIP")
    if isinstance(cip, str) and cip and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [cip]
    ports = spec.get("ports")
    if isinstance(ports, list):
        for p in ports:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "targetPort" not in p and "port" in p:
                    p["targetPort"] = p["port"]


def _default_namespace(obj: Obj) -> None:
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    status.setdefault("phase", "Active")


def _normalise_base64(data: Any) -> None:
    """Byte values (Secret ``data``, ConfigMap ``binaryData``) in the form Kubernetes stores
    and serves them: Go's decoder skips line breaks (wrapped base64, as ``base64`` prints
    it), and the bytes are encoded again, unwrapped. A value that is not base64 is left
    for validation to report."""
    if not isinstance(data, dict):
        return
    for k, v in data.items():
        if not isinstance(v, str):
            continue
        try:
            raw = base64.b64decode(v.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            continue
        data[k] = base64.b64encode(raw).decode()


def _default_configmap(obj: Obj) -> None:
    _normalise_base64(obj.get("binaryData"))


def _default_secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")
    _normalise_base64(obj.get("data"))
    # stringData is write-only: it is merged into data (base64) and never stored.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _default_node(obj: Obj) -> None:
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    _stringify_quantities(status.get("capacity"))
    _stringify_quantities(status.get("allocatable"))
    capacity = status.get("capacity")
    if isinstance(capacity, dict) and not status.get("allocatable"):
        status["allocatable"] = dict(capacity)


def _default_daemon_set(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_spec(_template_spec(obj))


def _default_cron_job(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    # Only the pod template is defaulted here; the Job's own defaults come when it is made.
    jt = spec.get("jobTemplate")
    job_spec = jt.get("spec") if isinstance(jt, dict) else None
    if isinstance(job_spec, dict):
        default_pod_spec(_template_spec({"spec": job_spec}), restart_policy=None)


def _default_replication_controller(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    # As SetDefaults_ReplicationController: selector and labels from the template's labels.
    template = spec.get("template")
    tlabels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if isinstance(tlabels, dict) and tlabels:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        meta = obj.get("metadata")
        if isinstance(meta, dict) and not meta.get("labels"):
            meta["labels"] = dict(tlabels)
    spec.setdefault("replicas", 1)
    default_pod_spec(_template_spec(obj))


def _default_priority_class(obj: Obj) -> None:
    # value is a plain int32 upstream: left out, it is 0 (and stored so).
    obj.setdefault("value", 0)
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _default_persistent_volume(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _stringify_quantities(spec.get("capacity"))
        # A PV made by hand keeps its data; a provisioned one carries its class's policy.
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    status = obj.get("status")
    if not isinstance(status, dict) or not status.get("phase"):
        obj["status"] = {**(status if isinstance(status, dict) else {}), "phase": "Pending"}


def _default_persistent_volume_claim(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        resources = spec.get("resources")
        if isinstance(resources, dict):
            _stringify_quantities(resources.get("requests"))
            _stringify_quantities(resources.get("limits"))
        spec.setdefault("volumeMode", "Filesystem")
    status = obj.get("status")
    if not isinstance(status, dict) or not status.get("phase"):
        obj["status"] = {**(status if isinstance(status, dict) else {}), "phase": "Pending"}


def _default_storage_class(obj: Obj) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _default_pod,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replicaset,
    "StatefulSet": _default_statefulset,
    "Job": _default_job,
    "Service": _default_service,
    "Namespace": _default_namespace,
    "Secret": _default_secret,
    "ConfigMap": _default_configmap,
    "Node": _default_node,
    "PriorityClass": _default_priority_class,
    "DaemonSet": _default_daemon_set,
    "CronJob": _default_cron_job,
    "ReplicationController": _default_replication_controller,
    "PersistentVolume": _default_persistent_volume,
    "PersistentVolumeClaim": _default_persistent_volume_claim,
    "StorageClass": _default_storage_class,
    "LimitRange": default_limit_range,
    "HorizontalPodAutoscaler": default_hpa,
    "ValidatingWebhookConfiguration": default_configuration,
    "MutatingWebhookConfiguration": default_configuration,
}


def apply_defaults(kind: str, obj: Obj) -> None:
    """Fill in the Kubernetes defaults for ``kind`` in ``obj`` (in place; kinds without
    defaults are left alone). Never overwrites a value that is already there."""
    f = _DEFAULTERS.get(kind)
    if f is not None:
        f(obj)
