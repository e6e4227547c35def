"""Server-side ``Table`` rendering (meta.k8s.io/v1), as kube-apiserver does for ``kubectl get``.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints
whatever columns the server defines (priority > 0 only with ``-o wide``). With a
plain list it falls back to NAME and AGE only, so these column sets and cell rules
mirror upstream's ``pkg/printers/internalversion`` for every kind in the registry,
plus a GPUs column for pods and nodes (kubelab's extension).

Cells are JSON values: strings, or integers where upstream prints integers. Time
cells are rendered against ``now`` with ``human_duration`` (kubectl's HumanDuration).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apiserver.tables.autoscaling import HPA_COLUMNS, hpa_cells
from apiserver.tables.certificates import CSR_COLUMNS, csr_cells
from apiserver.tables.discovery import ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells
from apiserver.tables.format import (
    AGE_COL,
    NAME_COL,
    Column,
    Obj,
    age_cell,
    col,
    format_label_selector,
    format_labels,
    human_duration,
    obj_meta,
    obj_name,
    parse_time,
    since,
)
from apiserver.tables.kinds import (
    DEPLOYMENT_COLUMNS,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    REPLICASET_COLUMNS,
    ROLE_BINDING_COLUMNS,
    ROLE_COLUMNS,
    SERVICE_COLUMNS,
    deployment_cells,
    event_cells,
    format_endpoints,
    job_cells,
    job_status,
    replicaset_cells,
    role_binding_cells,
    role_cells,
    service_cells,
)
from apiserver.tables.networking import (
    INGRESS_CLASS_COLUMNS,
    INGRESS_COLUMNS,
    NETWORK_POLICY_COLUMNS,
    ingress_cells,
    ingress_class_cells,
    network_policy_cells,
)
from apiserver.tables.pods import (
    GPU_ANNOTATION,
    NODE_COLUMNS,
    POD_COLUMNS,
    node_cells,
    node_gpus,
    node_roles,
    node_status,
    pod_cells,
    pod_row_conditions,
    pod_status_reason,
)
from apiserver.tables.policy import (
    PDB_COLUMNS,
    PRIORITY_CLASS_COLUMNS,
    pdb_cells,
    priority_class_cells,
)
from apiserver.tables.queues import QUEUE_COLUMNS, queue_cells
from apiserver.tables.quota import (
    LIMIT_RANGE_COLUMNS,
    RESOURCE_QUOTA_COLUMNS,
    limit_range_cells,
    resource_quota_cells,
)
from apiserver.tables.statefulset import STATEFULSET_COLUMNS, statefulset_cells
from apiserver.tables.storage import (
    PV_COLUMNS,
    PVC_COLUMNS,
    STORAGE_CLASS_COLUMNS,
    pv_cells,
    pvc_cells,
    storage_class_cells,
)
from apiserver.tables.workloads import (
    CONTROLLER_REVISION_COLUMNS,
    CRONJOB_COLUMNS,
    DAEMONSET_COLUMNS,
    REPLICATION_CONTROLLER_COLUMNS,
    controller_revision_cells,
    cronjob_cells,
    daemonset_cells,
    replication_controller_cells,
)

__all__ = [
    "GPU_ANNOTATION",
    "column_definitions",
    "format_endpoints",
    "format_label_selector",
    "format_labels",
    "human_duration",
    "job_status",
    "node_gpus",
    "node_roles",
    "node_status",
    "parse_time",
    "pod_status_reason",
    "since",
    "table_requested",
    "to_table",
]

TABLE_API_VERSIONS = ("meta.k8s.io/v1", "meta.k8s.io/v1beta1")


def _simple(*middle: Column) -> list[Column]:
    return [NAME_COL, *middle, AGE_COL]


_Renderer = Callable[[Obj, datetime], list[Any]]

_TABLES: dict[str, tuple[list[Column], _Renderer]] = {
    "pods": (POD_COLUMNS, pod_cells),
    "nodes": (NODE_COLUMNS, node_cells),
    "deployments": (DEPLOYMENT_COLUMNS, deployment_cells),
    "replicasets": (REPLICASET_COLUMNS, replicaset_cells),
    "replicationcontrollers": (REPLICATION_CONTROLLER_COLUMNS, replication_controller_cells),
    "statefulsets": (STATEFULSET_COLUMNS, statefulset_cells),
    "daemonsets": (DAEMONSET_COLUMNS, daemonset_cells),
    "controllerrevisions": (CONTROLLER_REVISION_COLUMNS, controller_revision_cells),
    "jobs": (JOB_COLUMNS, job_cells),
    "cronjobs": (CRONJOB_COLUMNS, cronjob_cells),
    "services": (SERVICE_COLUMNS, service_cells),
    "endpointslices": (ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells),
    "ingresses": (INGRESS_COLUMNS, ingress_cells),
    "ingressclasses": (INGRESS_CLASS_COLUMNS, ingress_class_cells),
    "networkpolicies": (NETWORK_POLICY_COLUMNS, network_policy_cells),
    "certificatesigningrequests": (CSR_COLUMNS, csr_cells),
    "endpoints": (
        _simple(col("Endpoints", "The set of all endpoints is the union of all subsets.")),
        lambda o, now: [obj_name(o), format_endpoints(o), age_cell(o, now)],
    ),
    "configmaps": (
        _simple(col("Data", "Data contains the configuration data.")),
        lambda o, now: [
            obj_name(o),
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age_cell(o, now),
        ],
    ),
    "secrets": (
        _simple(
            col("Type", "Used to facilitate programmatic handling of secret data."),
            col("Data", "Data contains the secret data."),
        ),
        lambda o, now: [
            obj_name(o),
            o.get("type") or "Opaque",
            len(o.get("data") or {}) + len(o.get("stringData") or {}),
            age_cell(o, now),
        ],
    ),
    "serviceaccounts": (
        _simple(col("Secrets", "Secrets is a list of the secrets in the same namespace.")),
        lambda o, now: [obj_name(o), len(o.get("secrets") or []), age_cell(o, now)],
    ),
    "namespaces": (
        _simple(col("Status", "The status of the namespace")),
        lambda o, now: [
            obj_name(o),
            (o.get("status") or {}).get("phase") or "Active",
            age_cell(o, now),
        ],
    ),
    "events": (EVENT_COLUMNS, event_cells),
    "roles": (ROLE_COLUMNS, role_cells),
    "clusterroles": (ROLE_COLUMNS, role_cells),
    "rolebindings": (ROLE_BINDING_COLUMNS, role_binding_cells),
    "clusterrolebindings": (ROLE_BINDING_COLUMNS, role_binding_cells),
    "priorityclasses": (PRIORITY_CLASS_COLUMNS, priority_class_cells),
    "queues": (QUEUE_COLUMNS, queue_cells),
    "resourcequotas": (RESOURCE_QUOTA_COLUMNS, resource_quota_cells),
    "limitranges": (LIMIT_RANGE_COLUMNS, limit_range_cells),
    "poddisruptionbudgets": (PDB_COLUMNS, pdb_cells),
    "horizontalpodautoscalers": (HPA_COLUMNS, hpa_cells),
    "persistentvolumes": (PV_COLUMNS, pv_cells),
    "persistentvolumeclaims": (PVC_COLUMNS, pvc_cells),
    "storageclasses": (STORAGE_CLASS_COLUMNS, storage_class_cells),
    "leases": (
        _simple(
            col("Holder", "holderIdentity contains the identity of the holder of a current lease.")
        ),
        lambda o, now: [
            obj_name(o),
            (o.get("spec") or {}).get("holderIdentity") or "",
            age_cell(o, now),
        ],
    ),
}

# Upstream's printer for both webhook configuration kinds: how many webhooks each holds.
_WEBHOOKS_TABLE: tuple[list[Column], _Renderer] = (
    _simple(
        col(
            "Webhooks",
            "Webhooks indicates the number of webhooks included in this configuration.",
            ctype="integer",
        )
    ),
    lambda o, now: [obj_name(o), len(o.get("webhooks") or []), age_cell(o, now)],
)
_TABLES["validatingwebhookconfigurations"] = _WEBHOOKS_TABLE
_TABLES["mutatingwebhookconfigurations"] = _WEBHOOKS_TABLE

_DEFAULT: tuple[list[Column], _Renderer] = (
    _simple(),
    lambda o, now: [obj_name(o), age_cell(o, now)],
)


def column_definitions(resource_plural: str) -> list[Column]:
    """The Table columns served for a resource (a copy; safe to modify)."""
    cols, _ = _TABLES.get(resource_plural, _DEFAULT)
    return [dict(c) for c in cols]


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj_meta(obj),
    }


def to_table(
    resource_plural: str,
    objects: list[Obj],
    now: datetime,
    include_object: str = "Metadata",
    *,
    resource_version: str | None = None,
    continue_token: str | None = None,
    api_version: str = "meta.k8s.io/v1",
    with_columns: bool = True,
    custom: tuple[list[Column], Callable[[Obj, datetime], list[Any]]] | None = None,
) -> Obj:
    """Render objects of one resource as a ``meta.k8s.io`` Table.

    ``include_object`` is the ``includeObject`` query parameter: ``Metadata`` (the
    default, a PartialObjectMetadata per row, which ``--show-labels`` and ``-A`` read),
    ``Object`` (the full object) or ``None``. ``with_columns=False`` leaves
    ``columnDefinitions`` empty, as upstream does for watch events after the first.
    ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # ``custom``: a custom kind's columns and cells (apiserver/tables/custom.py).
    cols, render = custom or _TABLES.get(resource_plural, _DEFAULT)
    rows = []
    for obj in objects:
        row: Obj = {"cells": render(obj, now)}
        if resource_plural == "pods":
            conditions = pod_row_conditions(obj)
            if conditions:
                row["conditions"] = conditions
        ref = _row_object(obj, include_object)
        if ref is not None:
            row["object"] = ref
        rows.append(row)
    metadata: Obj = {}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in cols] if with_columns else [],
        "rows": rows,
    }


def table_requested(accept: str | None) -> str | None:
    """The Table apiVersion an Accept header asks for first, or None for a plain object/list.

    kubectl get sends ``application/json;as=Table;v=v1;g=meta.k8s.io,...,application/json``.
    """
    if not accept:
        return None
    for media in accept.split(","):
        params = {}
        for part in media.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            params[key] = value
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            version = f"meta.k8s.io/{params.get('v', 'v1')}"
            if version in TABLE_API_VERSIONS:
                return version
    return None
