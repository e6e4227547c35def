"""core/v1 Node, with kubelab's ``status.gpus`` inventory alongside the standard fields."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel, Quantity, Time
from api.models.meta import Condition, ObjectMeta


class Taint(K8sModel):
    key: str
    value: str | None = None
    effect: str
    time_added: Time | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = Field(default=None, alias="podCIDR")
    pod_cidrs: list[str] | None = Field(default=None, alias="podCIDRs")
    provider_id: str | None = Field(default=None, alias="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: dict[str, object] | None = None
    external_id: str | None = Field(default=None, alias="externalID")


class NodeAddress(K8sModel):
    type: str
    address: str


class DaemonEndpoint(K8sModel):
    port: int = Field(alias="Port")


class NodeDaemonEndpoints(K8sModel):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(K8sModel):
    machine_id: str = Field(alias="machineID")
    system_uuid: str = Field(alias="systemUUID")
    boot_id: str = Field(alias="bootID")
    kernel_version: str
    os_image: str
    container_runtime_version: str
    kubelet_version: str
    kube_proxy_version: str
    operating_system: str
    architecture: str
    swap: dict[str, object] | None = None


class ContainerImage(K8sModel):
    names: list[str] | None = None
    size_bytes: int | None = None


class GPUDevice(K8sModel):
    """One GPU of a node (kubelab extension): the scheduler picks devices by ``uuid``."""

    index: int
    uuid: str
    model: str | None = None
    memory_mib: int | None = Field(default=None, alias="memoryMiB")
    health: str | None = None
    # Why an Unhealthy GPU is out of service: "Xid79", "LeftoverProcess: pid 4242 (2048 MiB)".
    reason: str | None = None


class NodeStatus(K8sModel):
    capacity: dict[str, Quantity] | None = None
    allocatable: dict[str, Quantity] | None = None
    phase: str | None = None
    conditions: list[Condition] | None = None
    addresses: list[NodeAddress] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[dict[str, object]] | None = None
    config: dict[str, object] | None = None
    runtime_handlers: list[dict[str, object]] | None = None
    features: dict[str, object] | None = None
    declared_features: list[str] | None = None
    gpus: list[GPUDevice] | None = None


class Node(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Node"] = "Node"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NodeSpec | None = None
    status: NodeStatus | None = None
