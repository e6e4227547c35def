"""``custom.metrics.k8s.io/v1beta2``: per-pod and per-node GPU metrics, as a custom metrics
adapter (prometheus-adapter, the DCGM exporter behind it) serves them to the
HorizontalPodAutoscaler, from what each kubelet reports with its usage
(apiserver/metrics_api.py, kubelet/gpu_usage.py):

- ``gpu_utilization``: percent, the mean over the GPUs the pod (node) holds (has)
- ``gpu_memory_used``: bytes, summed over them
- ``gpu_power_usage``: watts, summed (a pod: only where it holds its GPUs alone)

Paths, as the HPA's Pods metric and ``kubectl get --raw`` ask them:
``/apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/pods/NAME|*/METRIC?labelSelector=...``
and ``.../nodes/NAME|*/METRIC``; discovery lists ``pods/METRIC`` and ``nodes/METRIC``.
The answer is a MetricValueList (``describedObject``, ``metric``, ``timestamp``,
``windowSeconds``, ``value``). The series carry no labels of their own, so a
``metricLabelSelector`` matches as it would against an empty label set.

Pure but for ``handle``: reports in, MetricValues out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError
from api.quantity import bytes_value, format_quantity
from api.registry import CUSTOM_METRIC_NAMES
from api.selectors import SelectionPredicate, SelectorError
from apiserver.bodies import json_response
from apiserver.paths import Target

GROUP = "custom.metrics.k8s.io"
VERSION = "v1beta2"
API_VERSION = f"{GROUP}/{VERSION}"
METRIC_NAMES = CUSTOM_METRIC_NAMES

Obj = dict[str, Any]


def _window_seconds(window: Any) -> int:
    try:
        return int(float(str(window or "15s").rstrip("s")))
    except ValueError:
        return 15


def metric_value(gpu: Mapping[str, Any], metric: str) -> str | None:
    """The quantity of ``metric`` in a reported GPU figure (a pod's or a GPU's); None when
    the figure was not reported (no sensor, memory NVML could not attribute)."""
    if metric == "gpu_utilization":
        v = gpu.get("utilization")
        return None if v is None else format_quantity(int(v))
    if metric == "gpu_memory_used":
        v = gpu.get("memoryUsed")
        return None if v is None else format_quantity(bytes_value(v), binary=None)
    if metric == "gpu_power_usage":
        v = gpu.get("powerWatts")
        return None if v is None else format_quantity(str(v))
    return None


def node_figures(gpus: list[Obj]) -> Obj:
    """A node's figures from its GPUs: mean utilisation, summed memory and power (each only
    when every GPU reports it)."""
    out: Obj = {}
    utils = [g.get("utilization") for g in gpus]
    if gpus and all(u is not None for u in utils):
        out["utilization"] = round(sum(int(u) for u in utils if u is not None) / len(gpus))
    used = [g.get("memoryUsed") for g in gpus]
    if gpus and all(u is not None for u in used):
        out["memoryUsed"] = sum(bytes_value(u) for u in used if u is not None)
    powers = [g.get("powerWatts") for g in gpus]
    if gpus and all(p is not None for p in powers):
        out["powerWatts"] = round(sum(float(p) for p in powers if p is not None), 1)
    return out


def _item(
    kind: str, ns: str | None, name: str, metric: str, stamp: str, window: int, value: str
) -> Obj:
    described: Obj = {"kind": kind, "name": name, "apiVersion": "v1"}
    if ns is not None:
        described["namespace"] = ns
    return {
        "describedObject": described,
        "metric": {"name": metric},
        "timestamp": stamp,
        "windowSeconds": window,
        "value": value,
    }


def pod_values(
    reports: Mapping[str, Any], namespace: str, name: str, metric: str, pred: SelectionPredicate
) -> list[Obj]:
    """``metric`` of the GPU pods in ``namespace`` named ``name`` (``*``: all) that match
    ``pred`` (on the labels the kubelet reported with the pod)."""
    out: list[Obj] = []
    for r in reports.values():
        for (ns, pod), gpu in r.pod_gpus.items():
            if ns != namespace or (name != "*" and pod != name):
                continue
            pm = r.pods.get((ns, pod)) or {}
            if not pred.empty and not pred.matches(pm):
                continue
            value = metric_value(gpu, metric)
            if value is None:
                continue
            stamp = str(pm.get("timestamp") or r.node.get("timestamp"))
            window = _window_seconds(pm.get("window") or r.node.get("window"))
            out.append(_item("Pod", ns, pod, metric, stamp, window, value))
    return sorted(out, key=lambda i: i["describedObject"]["name"])


def node_values(
    reports: Mapping[str, Any],
    name: str,
    metric: str,
    pred: SelectionPredicate,
    node_labels: Callable[[str], Mapping[str, str]],
) -> list[Obj]:
    """``metric`` of the nodes with GPUs named ``name`` (``*``: all) whose labels (the Node
    objects') match ``pred``."""
    out: list[Obj] = []
    for node, r in sorted(reports.items()):
        gpus = r.node.get("gpus") or []
        if not gpus or (name != "*" and node != name):
            continue
        if not pred.empty and not pred.matches(
            {"metadata": {"name": node, "labels": dict(node_labels(node))}}
        ):
            continue
        value = metric_value(node_figures(gpus), metric)
        if value is None:
            continue
        stamp = str(r.node.get("timestamp"))
        out.append(
            _item("Node", None, node, metric, stamp, _window_seconds(r.node.get("window")), value)
        )
    return out


class CustomMetricsApi:
    """Serves the GPU metrics of the reports ``reports()`` returns (fresh ones only)."""

    def __init__(
        self,
        reports: Callable[[], Mapping[str, Any]],
        node_labels: Callable[[str], Mapping[str, str]],
    ) -> None:
        self.reports = reports
        self.node_labels = node_labels

    def values(
        self, target: Target, label_selector: str | None, metric_selector: str | None
    ) -> Obj:
        """The MetricValueList for ``target`` (a 4xx ApiError says what is wrong)."""
        plural = target.info.plural
        metric = target.subresource
        if not metric:
            raise ApiError(
                404,
                f"custom metrics are read as {plural}/NAME/METRIC or {plural}/*/METRIC "
                f"(metrics: {', '.join(METRIC_NAMES)})",
                "NotFound",
            )
        if not target.name:
            raise ApiError(404, f"name the {plural} (or *) before the metric {metric}", "NotFound")
        try:
            pred = SelectionPredicate.from_query(label_selector, None)
            series = SelectionPredicate.from_query(metric_selector, None)
        except SelectorError as exc:
            raise ApiError(400, str(exc), "BadRequest") from None
        reports = self.reports()
        if not series.empty and not series.matches({"metadata": {"labels": {}}}):
            items: list[Obj] = []  # these series have no labels for a selector to match
        elif plural == "pods":
            items = pod_values(reports, target.namespace or "default", target.name, metric, pred)
        else:
            items = node_values(reports, target.name, metric, pred, self.node_labels)
        if target.name != "*" and not items:
            raise ApiError(
                404,
                f'the server could not find the metric {metric} for {plural} "{target.name}"'
                " (a pod has GPU metrics while it holds GPUs and its node reports them)",
                "NotFound",
                name=target.name,
                kind=f"{plural}/{metric}",
                group=GROUP,
            )
        return {
            "kind": "MetricValueList",
            "apiVersion": API_VERSION,
            "metadata": {},
            "items": items,
        }

    async def handle(self, request: Request, target: Target, verb: str) -> Response:
        """One request to custom.metrics.k8s.io (already authorized)."""
        if verb != "get":
            raise ApiError(
                405,
                f"custom.metrics.k8s.io serves get only (metrics are measured): "
                f"{verb} is not allowed",
                "MethodNotAllowed",
            )
        q = request.query_params
        return json_response(
            self.values(target, q.get("labelSelector"), q.get("metricLabelSelector"))
        )
