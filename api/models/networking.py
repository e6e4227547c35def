"""networking.k8s.io/v1: Ingress (HTTP routes by host and path to Services), IngressClass
(which controller serves an Ingress) and NetworkPolicy (stored, not yet enforced)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import IntOrString, K8sModel
from api.models.meta import LabelSelector, ObjectMeta
from api.models.storage import TypedLocalObjectReference


class ServiceBackendPort(K8sModel):
    name: str | None = None
    number: int | None = None


class IngressServiceBackend(K8sModel):
    name: str
    port: ServiceBackendPort | None = None


class IngressBackend(K8sModel):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(K8sModel):
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend


class HTTPIngressRuleValue(K8sModel):
    paths: list[HTTPIngressPath] = Field(default_factory=list)


class IngressRule(K8sModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(K8sModel):
    hosts: list[str] | None = None
    secret_name: str | None = None


class IngressSpec(K8sModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = None


class IngressPortStatus(K8sModel):
    port: int
    protocol: str
    error: str | None = None


class IngressLoadBalancerIngress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    ports: list[IngressPortStatus] | None = None


class IngressLoadBalancerStatus(K8sModel):
    ingress: list[IngressLoadBalancerIngress] | None = None


class IngressStatus(K8sModel):
    load_balancer: IngressLoadBalancerStatus | None = None


class Ingress(K8sModel):
    api_version: Literal["networking.k8s.io/v1"] = "networking.k8s.io/v1"
    kind: Literal["Ingress"] = "Ingress"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: IngressSpec | None = None
    status: IngressStatus | None = None


class IngressClassParametersReference(K8sModel):
    api_group: str | None = None
    kind: str
    name: str
    scope: str | None = None
    namespace: str | None = None


class IngressClassSpec(K8sModel):
    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


class IngressClass(K8sModel):
    api_version: Literal["networking.k8s.io/v1"] = "networking.k8s.io/v1"
    kind: Literal["IngressClass"] = "IngressClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: IngressClassSpec | None = None


class IPBlock(K8sModel):
    cidr: str
    # "except" is a Python keyword: the JSON name is given explicitly.
    except_: list[str] | None = Field(default=None, alias="except")


class NetworkPolicyPeer(K8sModel):
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicyPort(K8sModel):
    protocol: str | None = None
    port: IntOrString | None = None
    end_port: int | None = None


class NetworkPolicyIngressRule(K8sModel):
    ports: list[NetworkPolicyPort] | None = None
    from_: list[NetworkPolicyPeer] | None = Field(default=None, alias="from")


class NetworkPolicyEgressRule(K8sModel):
    ports: list[NetworkPolicyPort] | None = None
    to: list[NetworkPolicyPeer] | None = None


class NetworkPolicySpec(K8sModel):
    pod_selector: LabelSelector = Field(default_factory=LabelSelector)
    ingress: list[NetworkPolicyIngressRule] | None = None
    egress: list[NetworkPolicyEgressRule] | None = None
    policy_types: list[str] | None = None


class NetworkPolicy(K8sModel):
    api_version: Literal["networking.k8s.io/v1"] = "networking.k8s.io/v1"
    kind: Literal["NetworkPolicy"] = "NetworkPolicy"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NetworkPolicySpec | None = None
