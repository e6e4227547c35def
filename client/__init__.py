"""The kubelab API client: sync and async REST clients, watch, informers, work queue and
kubeconfig loading. Objects are plain dicts exactly as the Kubernetes REST API serves them.

    from client import Client
    c = Client.from_kubeconfig()
    c.create("pods", {...}); c.get("pods", "web-0"); c.watch("pods")

The names below are loaded on first use (PEP 562): ``import client.sync`` runs this file
first, and a one-shot command such as ``kl get pods`` must not pay for asyncio, the
informers and the work queue it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.errors import ApiError
    from client.aio import AsyncClient
    from client.core import ServerUnreachable, object_key
    from client.informer import Informer, InformerFactory
    from client.kubeconfig import (
        ClusterConfig,
        KubeconfigError,
        load_kubeconfig,
        write_kubeconfig,
    )
    from client.sync import Client
    from client.workqueue import QueueShutDown, WorkQueue

# Each exported name -> the module that defines it.
_HOMES = {
    "ApiError": "api.errors",
    "AsyncClient": "client.aio",
    "Client": "client.sync",
    "ClusterConfig": "client.kubeconfig",
    "Informer": "client.informer",
    "InformerFactory": "client.informer",
    "KubeconfigError": "client.kubeconfig",
    "QueueShutDown": "client.workqueue",
    "ServerUnreachable": "client.core",
    "WorkQueue": "client.workqueue",
    "load_kubeconfig": "client.kubeconfig",
    "object_key": "client.core",
    "write_kubeconfig": "client.kubeconfig",
}

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "ClusterConfig",
    "Informer",
    "InformerFactory",
    "KubeconfigError",
    "QueueShutDown",
    "ServerUnreachable",
    "WorkQueue",
    "load_kubeconfig",
    "object_key",
    "write_kubeconfig",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'client' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is an ordinary module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
