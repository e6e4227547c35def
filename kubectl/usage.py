"""Resource arithmetic for ``top`` and ``describe node``: what pods request and limit."""

from __future__ import annotations

from typing import Any

from api.quantity import bytes_value, cpu_millis


def _add(total: dict[str, int], values: dict[str, Any] | None) -> None:
    for k, v in (values or {}).items():
        try:
            n = cpu_millis(v) if k == "cpu" else bytes_value(v)
        except ValueError:
            continue
        total[k] = total.get(k, 0) + n


def pod_requests_limits(pod: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Requests and limits summed over a pod's containers (cpu in millicores, memory in
    bytes, others as counts). A limit with no request counts as the request, as in
    Kubernetes; init containers count when larger than the sum (their max)."""
    req: dict[str, int] = {}
    lim: dict[str, int] = {}
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        limits = res.get("limits") or {}
        requests = {**limits, **(res.get("requests") or {})}
        _add(req, requests)
        _add(lim, limits)
    for c in spec.get("initContainers") or []:
        res = c.get("resources") or {}
        one: dict[str, int] = {}
        _add(one, {**(res.get("limits") or {}), **(res.get("requests") or {})})
        for k, v in one.items():
            req[k] = max(req.get(k, 0), v)
    return req, lim
