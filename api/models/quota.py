"""core/v1 ResourceQuota and LimitRange: a namespace's budget and its per-object bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel, Quantity
from api.models.meta import ObjectMeta


class ScopedResourceSelectorRequirement(K8sModel):
    scope_name: str
    operator: str
    values: list[str] | None = None


class ScopeSelector(K8sModel):
    match_expressions: list[ScopedResourceSelectorRequirement] | None = None


class ResourceQuotaSpec(K8sModel):
    hard: dict[str, Quantity] | None = None
    scopes: list[str] | None = None
    scope_selector: ScopeSelector | None = None


class ResourceQuotaStatus(K8sModel):
    hard: dict[str, Quantity] | None = None
    used: dict[str, Quantity] | None = None


class ResourceQuota(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ResourceQuota"] = "ResourceQuota"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ResourceQuotaSpec | None = None
    status: ResourceQuotaStatus | None = None


class LimitRangeItem(K8sModel):
    type: str
    max: dict[str, Quantity] | None = None
    min: dict[str, Quantity] | None = None
    default: dict[str, Quantity] | None = None
    default_request: dict[str, Quantity] | None = None
    max_limit_request_ratio: dict[str, Quantity] | None = None


class LimitRangeSpec(K8sModel):
    limits: list[LimitRangeItem] = Field(default_factory=list)


class LimitRange(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["LimitRange"] = "LimitRange"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LimitRangeSpec | None = None
