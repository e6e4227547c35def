"""apiextensions.k8s.io/v1 CustomResourceDefinition: a new kind the apiserver serves, its
names, scope and versions (each with its structural schema, subresources and printer
columns). The schema is open-ended JSON Schema, kept as a plain mapping; api/crd/ reads
and checks it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.models.base import K8sModel, Time
from api.models.meta import ObjectMeta


class CustomResourceDefinitionNames(K8sModel):
    plural: str = ""
    singular: str | None = None
    kind: str = ""
    list_kind: str | None = None
    short_names: list[str] | None = None
    categories: list[str] | None = None


class CustomResourceValidation(K8sModel):
    open_apiv3_schema: dict[str, Any] | None = Field(default=None, alias="openAPIV3Schema")


class CustomResourceColumnDefinition(K8sModel):
    name: str
    type: str
    json_path: str
    format: str | None = None
    description: str | None = None
    priority: int | None = None


class CustomResourceDefinitionVersion(K8sModel):
    name: str
    served: bool = True
    storage: bool = False
    deprecated: bool | None = None
    deprecation_warning: str | None = None
    schema_: CustomResourceValidation | None = Field(default=None, alias="schema")
    subresources: dict[str, Any] | None = None
    additional_printer_columns: list[CustomResourceColumnDefinition] | None = None


class CustomResourceDefinitionSpec(K8sModel):
    group: str = ""
    names: CustomResourceDefinitionNames = Field(default_factory=CustomResourceDefinitionNames)
    scope: str = "Namespaced"
    versions: list[CustomResourceDefinitionVersion] = Field(default_factory=list)
    conversion: dict[str, Any] | None = None
    preserve_unknown_fields: bool | None = None


class CustomResourceDefinitionCondition(K8sModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: Time | None = None


class CustomResourceDefinitionStatus(K8sModel):
    conditions: list[CustomResourceDefinitionCondition] | None = None
    accepted_names: CustomResourceDefinitionNames | None = None
    stored_versions: list[str] | None = None


class CustomResourceDefinition(K8sModel):
    api_version: Literal["apiextensions.k8s.io/v1"] = "apiextensions.k8s.io/v1"
    kind: Literal["CustomResourceDefinition"] = "CustomResourceDefinition"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CustomResourceDefinitionSpec = Field(default_factory=CustomResourceDefinitionSpec)
    status: CustomResourceDefinitionStatus | None = None
