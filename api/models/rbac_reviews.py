"""The review kinds (authentication.k8s.io/v1, authorization.k8s.io/v1): asked, answered
at once, never stored."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel
from api.models.meta import ObjectMeta


class ResourceAttributes(K8sModel):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None


class NonResourceAttributes(K8sModel):
    path: str | None = None
    verb: str | None = None


class SubjectAccessReviewSpec(K8sModel):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None
    user: str | None = None
    groups: list[str] | None = None
    uid: str | None = None
    extra: dict[str, list[str]] | None = None


class SelfSubjectAccessReviewSpec(K8sModel):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None


class SubjectAccessReviewStatus(K8sModel):
    allowed: bool = False
    denied: bool | None = None
    reason: str | None = None
    evaluation_error: str | None = None


class SubjectAccessReview(K8sModel):
    api_version: Literal["authorization.k8s.io/v1"] = "authorization.k8s.io/v1"
    kind: Literal["SubjectAccessReview"] = "SubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SubjectAccessReviewSpec = Field(default_factory=SubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class LocalSubjectAccessReview(K8sModel):
    api_version: Literal["authorization.k8s.io/v1"] = "authorization.k8s.io/v1"
    kind: Literal["LocalSubjectAccessReview"] = "LocalSubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SubjectAccessReviewSpec = Field(default_factory=SubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class SelfSubjectAccessReview(K8sModel):
    api_version: Literal["authorization.k8s.io/v1"] = "authorization.k8s.io/v1"
    kind: Literal["SelfSubjectAccessReview"] = "SelfSubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SelfSubjectAccessReviewSpec = Field(default_factory=SelfSubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class SelfSubjectRulesReviewSpec(K8sModel):
    namespace: str | None = None


class ResourceRule(K8sModel):
    verbs: list[str] = Field(default_factory=list)
    api_groups: list[str] | None = None
    resources: list[str] | None = None
    resource_names: list[str] | None = None


class NonResourceRule(K8sModel):
    verbs: list[str] = Field(default_factory=list)
    non_resource_ur_ls: list[str] | None = Field(default=None, alias="nonResourceURLs")


class SubjectRulesReviewStatus(K8sModel):
    resource_rules: list[ResourceRule] = Field(default_factory=list)
    non_resource_rules: list[NonResourceRule] = Field(default_factory=list)
    incomplete: bool = False
    evaluation_error: str | None = None


class SelfSubjectRulesReview(K8sModel):
    api_version: Literal["authorization.k8s.io/v1"] = "authorization.k8s.io/v1"
    kind: Literal["SelfSubjectRulesReview"] = "SelfSubjectRulesReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SelfSubjectRulesReviewSpec = Field(default_factory=SelfSubjectRulesReviewSpec)
    status: SubjectRulesReviewStatus | None = None


class UserInfo(K8sModel):
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class SelfSubjectReviewStatus(K8sModel):
    user_info: UserInfo | None = None


class SelfSubjectReview(K8sModel):
    api_version: Literal["authentication.k8s.io/v1"] = "authentication.k8s.io/v1"
    kind: Literal["SelfSubjectReview"] = "SelfSubjectReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    status: SelfSubjectReviewStatus | None = None


class TokenReviewSpec(K8sModel):
    token: str | None = None
    audiences: list[str] | None = None


class TokenReviewStatus(K8sModel):
    authenticated: bool | None = None
    user: UserInfo | None = None
    audiences: list[str] | None = None
    error: str | None = None


class TokenReview(K8sModel):
    api_version: Literal["authentication.k8s.io/v1"] = "authentication.k8s.io/v1"
    kind: Literal["TokenReview"] = "TokenReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TokenReviewSpec = Field(default_factory=TokenReviewSpec)
    status: TokenReviewStatus | None = None
