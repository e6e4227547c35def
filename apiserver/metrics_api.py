"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, as metrics-server serves them, from
what each kubelet reports (kubelet/usage_reporter.py) every ``--metrics-report-period``.

Usage is kept in memory, never stored: it is a few seconds old by nature and is measured
again at the next report (metrics-server keeps it in memory too). A kubelet posts one
report per period for its whole node to ``.../nodes/NAME/usage`` (a kubelab subresource,
only node NAME may write it): the node's usage and every pod's, which replaces what that
node said before, so pods that left it drop out. A node that stops reporting drops out
after ``max_age`` seconds, so ``kubectl top`` never shows old figures as current.

``kubectl top nodes|pods``, ``kl top`` and the HorizontalPodAutoscaler read it as they
would read metrics-server's: list and get, label selectors for pods.

A node with GPUs also reports each GPU (utilisation, memory, power, the pod holding it) and
each GPU pod's use of its GPUs. The GPUs are a kubelab extension of NodeMetrics (``gpus``,
read by ``kl top gpus|nodes``; kubectl ignores fields it does not know); the pods' figures
are served as custom metrics (apiserver/custom_metrics_api.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError
from api.selectors import SelectionPredicate, SelectorError
from apiserver.bodies import json_response
from apiserver.paths import Target

GROUP = "metrics.k8s.io"
API_VERSION = "metrics.k8s.io/v1beta1"
MAX_REPORT = 4 * 1024 * 1024


@dataclass
class _NodeReport:
    received: float
    node: dict[str, Any]
    pods: dict[tuple[str, str], dict[str, Any]]
    # (namespace, pod) -> its use of its GPUs: {"uuids", "utilization", "memoryUsed", ...}
    pod_gpus: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class MetricsApi:
    """The in-memory usage of every node and pod, by the node that reported it."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self.clock = clock
        self.reports: dict[str, _NodeReport] = {}

    # -- writing ---------------------------------------------------------------------------

    def accept(self, node: str, report: dict[str, Any]) -> None:
        """Take node ``node``'s report (validated: a 422 names what is wrong)."""
        now = self.clock()
        usage = report.get("usage")
        if not isinstance(usage, dict):
            raise ApiError(422, "usage report: usage is required (cpu and memory of the node)")
        window = str(report.get("window") or "15s")
        node_obj = {
            "kind": "NodeMetrics",
            "apiVersion": API_VERSION,
            "metadata": {
                "name": node,
                "creationTimestamp": _stamp(now),
                "labels": dict(report.get("labels") or {}),
            },
            "timestamp": str(report.get("timestamp") or _stamp(now)),
            "window": window,
            "usage": {"cpu": str(usage.get("cpu", "0")), "memory": str(usage.get("memory", "0"))},
        }
        gpus = report.get("gpus")
        if gpus is not None:
            if not isinstance(gpus, list) or not all(
                isinstance(g, dict) and g.get("uuid") for g in gpus
            ):
                raise ApiError(422, "usage report: gpus must be a list of GPUs, each with a uuid")
            node_obj["gpus"] = gpus
        pods: dict[tuple[str, str], dict[str, Any]] = {}
        pod_gpus: dict[tuple[str, str], dict[str, Any]] = {}
        for i, p in enumerate(report.get("pods") or []):
            if not isinstance(p, dict) or not p.get("name") or not p.get("namespace"):
                raise ApiError(422, f"usage report: pods[{i}] needs a name and a namespace")
            containers = [
                {"name": str(c.get("name")), "usage": dict(c.get("usage") or {})}
                for c in p.get("containers") or []
                if isinstance(c, dict)
            ]
            gpu = p.get("gpu")
            if gpu is not None:
                if not isinstance(gpu, dict):
                    raise ApiError(422, f"usage report: pods[{i}].gpu must be an object")
                pod_gpus[(str(p["namespace"]), str(p["name"]))] = gpu
            pods[(str(p["namespace"]), str(p["name"]))] = {
                "kind": "PodMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": str(p["name"]),
                    "namespace": str(p["namespace"]),
                    "creationTimestamp": _stamp(now),
                    "labels": dict(p.get("labels") or {}),
                },
                "timestamp": str(p.get("timestamp") or node_obj["timestamp"]),
                "window": str(p.get("window") or window),
                "containers": containers,
            }
        self.reports[node] = _NodeReport(now, node_obj, pods, pod_gpus)

    # -- reading ---------------------------------------------------------------------------

    def _fresh(self) -> list[_NodeReport]:
        floor = self.clock() - self.max_age
        for name in [n for n, r in self.reports.items() if r.received < floor]:
            del self.reports[name]
        return list(self.reports.values())

    def fresh_reports(self) -> dict[str, _NodeReport]:
        """Each node's latest report still within ``max_age``, by node name."""
        self._fresh()
        return dict(self.reports)

    def node_metrics(self) -> list[dict[str, Any]]:
        return sorted((r.node for r in self._fresh()), key=lambda o: o["metadata"]["name"])

    def pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]:
        out = [
            p
            for r in self._fresh()
            for (ns, _), p in r.pods.items()
            if namespace is None or ns == namespace
        ]
        return sorted(out, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))

    # -- HTTP --------------------------------------------------------------------------------

    async def handle(self, request: Request, target: Target, verb: str, node_user: str) -> Response:
        """One request to metrics.k8s.io (already authorized)."""
        plural = target.info.plural
        if target.subresource == "usage":
            if request.method != "POST" or plural != "nodes":
                raise ApiError(405, "a usage report is POSTed to nodes/NAME/usage")
            if node_user and node_user != target.name:
                raise ApiError(403, f"node {node_user} may report only its own usage")
            raw = await request.body()
            if len(raw) > MAX_REPORT:
                raise ApiError(413, "usage report too large")
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ApiError(400, f"usage report: not JSON: {exc}") from None
            self.accept(target.name, body if isinstance(body, dict) else {})
            return json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}, 201
            )
        if verb not in ("get", "list"):
            raise ApiError(
                405,
                f"metrics.k8s.io serves get and list only (usage is measured, not written): "
                f"{verb} is not allowed",
                "MethodNotAllowed",
            )
        items = self.node_metrics() if plural == "nodes" else self.pod_metrics(target.namespace)
        kind = "NodeMetrics" if plural == "nodes" else "PodMetrics"
        if target.name:
            for obj in items:
                if obj["metadata"]["name"] == target.name:
                    return json_response(obj)
            raise ApiError(
                404,
                f'{plural}.{GROUP} "{target.name}" not found',
                "NotFound",
                name=target.name,
                kind=plural,
                group=GROUP,
            )
        q = request.query_params
        try:
            pred = SelectionPredicate.from_query(q.get("labelSelector"), q.get("fieldSelector"))
        except SelectorError as exc:
            raise ApiError(400, str(exc), "BadRequest") from None
        if not pred.empty:
            items = [o for o in items if pred.matches(o)]
        return json_response(
            {
                "kind": f"{kind}List",
                "apiVersion": API_VERSION,
                "metadata": {},
                "items": items,
            }
        )
