"""The kubelab API client: sync and async REST clients, watch, informers, work queue and
kubeconfig loading. Objects are plain dicts exactly as the Kubernetes REST API serves them.

    from client import Client
    c = Client.from_kubeconfig()
    c.create("pods", {...}); c.get("pods", "web-0"); c.watch("pods")
"""

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
