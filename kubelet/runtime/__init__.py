"""Container runtimes the kubelet drives: ``docker`` (real) and ``fake`` (in memory)."""

from kubelet.runtime.base import (
    ContainerInfo,
    ContainerRuntime,
    ContainerSpec,
    ExecResult,
    ImagePullError,
    Mount,
    PortMapping,
    RuntimeError_,
    RuntimeEvent,
    RuntimeUnavailable,
)

__all__ = [
    "ContainerInfo",
    "ContainerRuntime",
    "ContainerSpec",
    "ExecResult",
    "ImagePullError",
    "Mount",
    "PortMapping",
    "RuntimeError_",
    "RuntimeEvent",
    "RuntimeUnavailable",
]
