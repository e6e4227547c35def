"""The HorizontalPodAutoscaler controller's shell: every ``sync_period`` it reads each
HPA's target through the ``scale`` subresource, the selected pods from the shared cache,
their usage from ``metrics.k8s.io`` and their Pods metrics (GPU utilisation...) from
``custom.metrics.k8s.io``, lets ``decide`` choose, and writes what it says.

The recommendations and scale events the behavior rules look back on are kept in memory
per HPA, as upstream does; a restarted controller starts with none.
"""

from __future__ import annotations

import logging

from api.registry import ResourceInfo, all_resources, by_kind
from api.selectors import LabelSelector
from client import ApiError

from ..base import Controller, apply_all
from ..objutil import Obj, key_of, labels_of, meta
from .behavior import History
from .decide import Observed, Settings, decide, pods_metric_key
from .replicas import Tunables

log = logging.getLogger(__name__)

METRICS = "/apis/metrics.k8s.io/v1beta1"
CUSTOM_METRICS = "/apis/custom.metrics.k8s.io/v1beta2"


def target_info(ref: Obj) -> ResourceInfo | None:
    """The kind a scaleTargetRef names (by apiVersion and kind; by kind alone without one)."""
    kind, api_version = str(ref.get("kind") or ""), str(ref.get("apiVersion") or "")
    if api_version:
        return by_kind(api_version, kind)
    return next((r for r in all_resources() if r.kind == kind), None)


def resource_name(info: ResourceInfo) -> str:
    """A name the client resolves to exactly ``info`` (``deployments.apps``)."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


class HorizontalPodAutoscalerController(Controller):
    """One key per HPA, looked at again every sync period."""

    name = "horizontalpodautoscaling"

    def setup(self) -> None:
        o = self.ctx.options
        self.settings = Settings(
            Tunables(
                o.hpa_tolerance, o.hpa_cpu_initialization_period, o.hpa_initial_readiness_delay
            ),
            o.hpa_downscale_stabilization,
        )
        self.history: dict[str, History] = {}
        self.hpas = self.ctx.index("horizontalpodautoscalers")
        self.pods = self.ctx.index("pods")
        self.hpas.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
            on_delete=lambda o: self.history.pop(key_of(o), None),
        )

    async def _observe(self, hpa: Obj, info: ResourceInfo | None) -> Observed:
        ns = meta(hpa).get("namespace")
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if info is None or "scale" not in info.subresources:
            return Observed(
                None,
                "unable to determine resource for scale target reference: no matches for kind "
                f'"{ref.get("kind")}" with a scale subresource in group '
                f'"{str(ref.get("apiVersion") or "").rpartition("/")[0]}"',
            )
        try:
            scale = await self.ctx.client.get(info, str(ref.get("name")), ns, subresource="scale")
        except ApiError as e:
            return Observed(None, str(e))
        selector_text = str((scale.get("status") or {}).get("selector") or "")
        selector = LabelSelector.parse(selector_text)
        pods = [p for p in self.pods.in_namespace(ns) if selector.matches(labels_of(p))]
        try:
            reply = await self.ctx.client.request(
                "GET",
                f"{METRICS}/namespaces/{ns}/pods",
                params={"labelSelector": selector_text} if selector_text else None,
            )
            items: list[Obj] | None = list(reply.json().get("items") or [])
        except (ApiError, ValueError) as e:
            log.debug("hpa %s: metrics: %s", key_of(hpa), e)
            items = None
        custom: dict[str, list[Obj] | str] = {}
        for m in (hpa.get("spec") or {}).get("metrics") or []:
            if m.get("type") != "Pods":
                continue
            key = pods_metric_key(m)
            name, _, metric_selector = key.partition("?")
            params = {"labelSelector": selector_text} if selector_text else {}
            if metric_selector:
                params["metricLabelSelector"] = metric_selector
            try:
                got = await self.ctx.client.request(
                    "GET", f"{CUSTOM_METRICS}/namespaces/{ns}/pods/*/{name}", params=params or None
                )
                custom[key] = list(got.json().get("items") or [])
            except (ApiError, ValueError) as e:
                custom[key] = str(e)
        return Observed(scale, "", pods, items, custom)

    async def sync(self, key: str) -> float | None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.history.pop(key, None)
            return None
        hpa = self.ctx.overlay.latest("horizontalpodautoscalers", hpa)
        info = target_info((hpa.get("spec") or {}).get("scaleTargetRef") or {})
        seen = await self._observe(hpa, info)
        history = self.history.setdefault(key, History())
        target = resource_name(info) if info is not None else ""
        decision = decide(hpa, target, seen, history, self.settings, self.ctx.clock())
        await apply_all(self.ctx, decision.actions)
        return self.ctx.options.hpa_sync_period
