"""admissionregistration.k8s.io/v1 webhook configurations (api/validation/webhooks.py checks
them; apiserver/admission_webhooks.py calls the webhooks)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel
from api.models.meta import LabelSelector, ObjectMeta


class ServiceReference(K8sModel):
    namespace: str | None = None
    name: str | None = None
    path: str | None = None
    port: int | None = None


class WebhookClientConfig(K8sModel):
    url: str | None = None
    service: ServiceReference | None = None
    ca_bundle: str | None = None


class RuleWithOperations(K8sModel):
    operations: list[str] | None = None
    api_groups: list[str] | None = None
    api_versions: list[str] | None = None
    resources: list[str] | None = None
    scope: str | None = None


class MatchCondition(K8sModel):
    name: str | None = None
    expression: str | None = None


class ValidatingWebhook(K8sModel):
    name: str | None = None
    client_config: WebhookClientConfig | None = None
    rules: list[RuleWithOperations] | None = None
    failure_policy: str | None = None
    match_policy: str | None = None
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    side_effects: str | None = None
    timeout_seconds: int | None = None
    admission_review_versions: list[str] | None = None
    match_conditions: list[MatchCondition] | None = None


class MutatingWebhook(ValidatingWebhook):
    reinvocation_policy: str | None = None


class ValidatingWebhookConfiguration(K8sModel):
    api_version: Literal["admissionregistration.k8s.io/v1"] = "admissionregistration.k8s.io/v1"
    kind: Literal["ValidatingWebhookConfiguration"] = "ValidatingWebhookConfiguration"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    webhooks: list[ValidatingWebhook] | None = None


class MutatingWebhookConfiguration(K8sModel):
    api_version: Literal["admissionregistration.k8s.io/v1"] = "admissionregistration.k8s.io/v1"
    kind: Literal["MutatingWebhookConfiguration"] = "MutatingWebhookConfiguration"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    webhooks: list[MutatingWebhook] | None = None
