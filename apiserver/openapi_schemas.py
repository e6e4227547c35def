"""Kubernetes' own schemas of the built-in kinds, for the OpenAPI documents.

The source is the upstream OpenAPI definitions of Kubernetes as the ``kubernetes-validate``
package ships them (Apache-2.0): the ``definitions`` of kube-apiserver's swagger.json,
rendered as JSON Schema by openapi2jsonschema (optional fields typed ``[T, "null"]``, refs
under ``$defs``, an ``enum`` added on apiVersion and kind, IntOrString and Quantity as
``oneOf``). :func:`_from_json_schema` turns them back into the form kube-apiserver
publishes, with every ``x-kubernetes-*`` extension kept: the group-version-kind, the list
types and map keys server-side apply reads, the patch strategies and merge keys of
strategic merge patch.

Only what the served built-in kinds reach is kept, loaded on first use and cached once:
the full file (all 735 definitions) is read, filtered and dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from api.fieldmanager import Schema
from api.registry import RESOURCES, ResourceInfo

# The Kubernetes release whose definitions are served (kubelab answers /version as 1.35).
SOURCE_VERSION = "v1.35.0"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_V2_REF = "#/definitions/"
_V3_REF = "#/components/schemas/"

# openapi2jsonschema rewrote these two as oneOf; this is how the swagger document has them.
_SCALARS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used "
        "in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner "
        "type.  This allows you to have, for example, a JSON field that can accept a name "
        "or number.",
        "format": "int-or-string",
        "type": "string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides "
        "convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and "
        "AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        "
        "::= <signedNumber><suffix>\n```\n\nExamples: 128974848, 129e6, 129M, 123Mi, 500m, 1.",
        "type": "string",
    },
}

_METRICS = "io.k8s.metrics.pkg.apis.metrics.v1beta1"


def _quantities(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity"},
    }


def _metrics_kind(kind: str, description: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion of this object.", "type": "string"},
            "kind": {"description": "Kind of this object.", "type": "string"},
            "metadata": {
                "$ref": f"#/$defs/{_META}.ObjectMeta",
                "description": "Standard object's metadata.",
            },
            "timestamp": {
                "$ref": f"#/$defs/{_META}.Time",
                "description": "The following fields define time interval from which metrics "
                "were collected from the interval [Timestamp-Window, Timestamp].",
            },
            "window": {"description": "The length of the interval.", "type": "string"},
            **extra,
        },
        "required": ["timestamp", "window", *extra],
        "x-kubernetes-group-version-kind": [
            {"group": "metrics.k8s.io", "version": "v1beta1", "kind": kind}
        ],
    }


# metrics.k8s.io is metrics-server's group, not kube-apiserver's, so its types are not in
# Kubernetes' definitions: these follow metrics-server's published ones
# (k8s.io/metrics/pkg/apis/metrics/v1beta1), in the same JSON Schema form as the file.
_NOT_UPSTREAM: dict[str, dict[str, Any]] = {
    f"{_METRICS}.NodeMetrics": _metrics_kind(
        "NodeMetrics",
        "NodeMetrics sets resource usage metrics of a node.",
        {"usage": _quantities("The memory usage is the memory working set.")},
    ),
    f"{_METRICS}.PodMetrics": _metrics_kind(
        "PodMetrics",
        "PodMetrics sets resource usage metrics of a pod.",
        {
            "containers": {
                "description": "Metrics for all containers are collected within the same "
                "time window.",
                "type": "array",
                "items": {"$ref": f"#/$defs/{_METRICS}.ContainerMetrics"},
                "x-kubernetes-list-type": "atomic",
            }
        },
    ),
    f"{_METRICS}.ContainerMetrics": {
        "description": "ContainerMetrics sets resource usage metrics of a container.",
        "type": "object",
        "properties": {
            "name": {
                "description": "Container name corresponding to the one from pod.spec.containers.",
                "type": "string",
            },
            "usage": _quantities("The memory usage is the memory working set."),
        },
        "required": ["name", "usage"],
    },
}


_CUSTOM = "io.k8s.metrics.pkg.apis.custom_metrics.v1beta2"

# custom.metrics.k8s.io is an adapter's group (apiserver/custom_metrics_api.py): its types as
# k8s.io/metrics/pkg/apis/custom_metrics/v1beta2 publishes them.
_NOT_UPSTREAM.update(
    {
        f"{_CUSTOM}.MetricValueList": {
            "description": "MetricValueList is a list of values for a given metric for some "
            "set of objects.",
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion of this object.", "type": "string"},
                "kind": {"description": "Kind of this object.", "type": "string"},
                "metadata": {"$ref": f"#/$defs/{_META}.ListMeta"},
                "items": {
                    "description": "the value of the metric across the described objects",
                    "type": "array",
                    "items": {"$ref": f"#/$defs/{_CUSTOM}.MetricValue"},
                },
            },
            "required": ["items"],
            "x-kubernetes-group-version-kind": [
                {"group": "custom.metrics.k8s.io", "version": "v1beta2", "kind": "MetricValueList"}
            ],
        },
        f"{_CUSTOM}.MetricValue": {
            "description": "MetricValue is the metric value for some object.",
            "type": "object",
            "properties": {
                "describedObject": {
                    "description": "a reference to the described object",
                    "type": "object",
                },
                "metric": {
                    "description": "the metric's name and, optionally, selector",
                    "type": "object",
                },
                "timestamp": {
                    "$ref": f"#/$defs/{_META}.Time",
                    "description": "indicates the time at which the metrics were produced",
                },
                "windowSeconds": {
                    "description": "the window ([Timestamp-Window, Timestamp]) from which "
                    "these metrics were calculated",
                    "type": "integer",
                    "format": "int64",
                },
                "value": {
                    "$ref": "#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity",
                    "description": "the value of the metric for this object",
                },
            },
            "required": ["describedObject", "metric", "timestamp", "value"],
        },
    }
)

_QUEUE = "io.kubelab.scheduling.v1"

# kubelab's own kinds (api/queues.py), in the same form.
_NOT_UPSTREAM.update(
    {
        f"{_QUEUE}.Queue": {
            "description": "Queue gives a user or team a nominal share of the cluster (GPUs, "
            "and optionally CPU and memory), how much idle capacity beyond it the queue may "
            "borrow, and how long its own pods wait for borrowers to leave before their "
            "borrowed pods are preempted. Pods name their queue with the label "
            "kubelab.io/queue. Cluster-scoped.",
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion of this object.", "type": "string"},
                "kind": {"description": "Kind of this object.", "type": "string"},
                "metadata": {
                    "$ref": f"#/$defs/{_META}.ObjectMeta",
                    "description": "Standard object's metadata.",
                },
                "spec": {
                    "$ref": f"#/$defs/{_QUEUE}.QueueSpec",
                    "description": "The queue's share and borrowing.",
                },
                "status": {
                    "description": "Written by the scheduler: used, borrowed, pendingPods, "
                    "runningPods, fairShare, usage.",
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
            "x-kubernetes-group-version-kind": [
                {"group": "scheduling.kubelab.io", "version": "v1", "kind": "Queue"}
            ],
        },
        f"{_QUEUE}.QueueSpec": {
            "description": "QueueSpec is the share of one queue.",
            "type": "object",
            "properties": {
                "nominal": _quantities(
                    "The queue's nominal share: nvidia.com/gpu, and optionally cpu and memory."
                ),
                "borrowingLimit": _quantities(
                    "Most this queue may use beyond its nominal share; unset: any idle capacity."
                ),
                "reclaimGracePeriodSeconds": {
                    "description": "How long the queue's own pods wait for borrowers to "
                    "leave before the borrowed pods are preempted.",
                    "type": "integer",
                    "format": "int32",
                },
            },
        },
    }
)


def _load_upstream() -> dict[str, Any]:
    """Every definition of the release, as the package ships them (not kept: see _served)."""
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    with (root / f"{SOURCE_VERSION}-local" / "_definitions.json").open("rb") as f:
        defs: dict[str, Any] = json.load(f)["$defs"]
    return {**defs, **_NOT_UPSTREAM}


def _from_json_schema(node: Any, *, in_properties: bool = False) -> Any:
    """One definition back in swagger form, refs as ``#/$defs/NAME`` still."""
    if isinstance(node, list):
        return [_from_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    if in_properties:  # keys are field names here, not schema keywords
        return {k: _from_json_schema(v) for k, v in node.items()}
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "type" and isinstance(v, list):
            kinds = [t for t in v if t != "null"]
            out[k] = kinds[0] if len(kinds) == 1 else kinds
        elif k == "enum":
            continue  # only on apiVersion/kind, added by the converter: not in Kubernetes'
        else:
            out[k] = _from_json_schema(v, in_properties=k == "properties")
    return out


# Schema defaults of list-map key fields, which server-side apply matches items by (a port
# without protocol is the TCP one); the JSON Schema rendering dropped Kubernetes' defaults.
_KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): "TCP",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "TCP",
}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v.rsplit("/", 1)[-1]
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _gvks(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (g.get("group", ""), g.get("version", ""), g.get("kind", ""))
        for g in schema.get("x-kubernetes-group-version-kind", [])
    ]


def _roots_of(info: ResourceInfo, by_gvk: dict[tuple[str, str, str], str]) -> list[str]:
    """The definitions one kind's document names: the kind, its list, its Scale."""
    names = [by_gvk.get((info.group, info.version, k)) for k in (info.kind, info.list_kind)]
    if "scale" in info.subresources:
        names.append(by_gvk.get(("autoscaling", "v1", "Scale")))
    return [n for n in names if n is not None]


# Kept in every group-version document, as kube-apiserver does: the bodies of errors and
# deletes, and what a watch streams.
_COMMON = (f"{_META}.Status", f"{_META}.DeleteOptions", f"{_META}.WatchEvent")


@lru_cache(maxsize=1)
def _served() -> tuple[dict[str, Any], dict[tuple[str, str, str], str]]:
    """The definitions the built-in kinds reach (swagger form), and the name of each GVK."""
    upstream = _load_upstream()
    by_gvk: dict[tuple[str, str, str], str] = {}
    for name, schema in upstream.items():
        for gvk in _gvks(schema):
            by_gvk.setdefault(gvk, name)
    wanted = [n for r in RESOURCES for n in _roots_of(r, by_gvk)]
    kept: dict[str, Any] = {}
    todo = [*wanted, *_COMMON]
    while todo:
        name = todo.pop()
        if name in kept or name not in upstream:
            continue
        kept[name] = _SCALARS.get(name) or _from_json_schema(upstream[name])
        for (owner, prop), default in _KEY_DEFAULTS.items():
            if owner == name and prop in kept[name].get("properties", {}):
                kept[name]["properties"][prop]["default"] = default
        todo.extend(_refs(kept[name]))
    served = {gvk: n for gvk, n in by_gvk.items() if n in kept}
    return kept, served


def schema_name_of(info: ResourceInfo) -> str | None:
    """Kubernetes' definition name of a built-in kind (``io.k8s.api.core.v1.Pod``)."""
    return _served()[1].get((info.group, info.version, info.kind))


def _closure(roots: Iterable[str]) -> list[str]:
    defs = _served()[0]
    seen: dict[str, None] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = None
        todo.extend(_refs(defs[name]))
    return sorted(seen)


def _with_refs(node: Any, prefix: str, *, wrap: bool) -> Any:
    """A copy with refs under ``prefix``; with ``wrap`` a ref beside other keywords goes into
    ``allOf``, as OpenAPI 3.0 ignores a ``$ref``'s siblings (kube-apiserver's v3 form)."""
    if isinstance(node, list):
        return [_with_refs(v, prefix, wrap=wrap) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _with_refs(v, prefix, wrap=wrap) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = prefix + ref.rsplit("/", 1)[-1]
        if wrap and out and "properties" not in node:
            out["allOf"] = [{"$ref": target}]
        else:
            out["$ref"] = target
    return out


def v3_schemas(infos: Iterable[ResourceInfo]) -> dict[str, Any]:
    """``components.schemas`` for a group-version document serving ``infos`` (built-in
    kinds; custom ones are skipped). A new dict of shared schemas: do not mutate them."""
    return dict(_v3_schemas(tuple(r for r in infos if not r.custom)))


@lru_cache(maxsize=64)
def _v3_schemas(infos: tuple[ResourceInfo, ...]) -> dict[str, Any]:
    defs, by_gvk = _served()
    roots = [n for r in infos for n in _roots_of(r, by_gvk)]
    return {n: _with_refs(defs[n], _V3_REF, wrap=True) for n in _closure([*roots, *_COMMON])}


def v2_definitions() -> dict[str, Any]:
    """``definitions`` of the ``/openapi/v2`` document: every served built-in kind's."""
    defs = _served()[0]
    return {n: _with_refs(defs[n], _V2_REF, wrap=False) for n in sorted(defs)}


@lru_cache(maxsize=1)
def _apply_definitions() -> dict[str, Any]:
    return v2_definitions()


def apply_schema(info: ResourceInfo) -> Schema:
    """The schema server-side apply merges ``info``'s objects by (deduced if none)."""
    name = None if info.custom else schema_name_of(info)
    return Schema(_apply_definitions(), name) if name else Schema()
