"""The LimitRanger admission: each namespace's LimitRanges, kept in memory by the write
path, giving a new pod's containers their default requests and limits and refusing pods
and claims outside the bounds (403, worded as Kubernetes: "maximum cpu usage per
Container is 2, but limit is 4"). As upstream, pods are looked at when created (their
resources cannot change after) and claims when created or resized."""

from __future__ import annotations

from typing import Any

from api import validation
from api.errors import invalid
from api.limitrange import aggregate, apply_container_defaults, claim_violations, pod_violations
from api.registry import ResourceInfo
from apiserver.quota import forbidden

Obj = dict[str, Any]


class LimitRanges:
    """Every stored LimitRange by namespace and name."""

    def __init__(self) -> None:
        self.ranges: dict[str, dict[str, Obj]] = {}

    def load(self, objs: list[Obj]) -> None:
        for lr in objs:
            meta = lr["metadata"]
            self.ranges.setdefault(meta["namespace"], {})[meta["name"]] = lr

    def record(self, ns: str, name: str, new: Obj | None) -> None:
        if new is None:
            self.ranges.get(ns, {}).pop(name, None)
        else:
            self.ranges.setdefault(ns, {})[name] = new

    def _of(self, ns: str) -> list[Obj]:
        return [self.ranges[ns][n] for n in sorted(self.ranges.get(ns, {}))]

    def admit_pod(self, info: ResourceInfo, pod: Obj) -> None:
        """Defaults, then bounds, for a new pod; a defaulted pod is validated again (a
        default limit below the pod's own request is refused as Kubernetes refuses it)."""
        meta = pod.get("metadata") or {}
        ranges = self._of(str(meta.get("namespace") or ""))
        if not ranges:
            return
        if apply_container_defaults(pod, ranges):
            causes = validation.validate("Pod", pod, None)
            if causes:
                raise invalid("Pod", str(meta.get("name") or ""), causes)
        errs = pod_violations(pod, ranges)
        if errs:
            raise forbidden(info, str(meta.get("name") or ""), aggregate(errs))

    def check_claim(self, info: ResourceInfo, pvc: Obj) -> None:
        meta = pvc.get("metadata") or {}
        errs = claim_violations(pvc, self._of(str(meta.get("namespace") or "")))
        if errs:
            raise forbidden(info, str(meta.get("name") or ""), aggregate(errs))
