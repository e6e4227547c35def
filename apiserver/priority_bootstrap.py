"""The built-in PriorityClasses, created at first start (as Kubernetes' bootstrap does):
beside rbac_bootstrap, above the object service it writes through, so that the admission
rules in priority.py stay below it. Besides Kubernetes' two system classes, kubelab's
``kubelab-best-effort`` (docs/queues.md): idle GPUs, preempted first; being an ordinary
class, an admin may change it; it is made again at start when missing."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.queues import best_effort_priority_class
from api.registry import by_plural
from apiserver.objects import WriteOptions
from apiserver.priority import PriorityClasses, system_priority_classes


async def ensure_system_priority_classes(objects: Any, known: PriorityClasses) -> None:
    """Create the built-in classes that are missing (a fresh store, or one from before they
    existed); ``objects`` is the server's ObjectService."""
    info = by_plural("scheduling.k8s.io", "priorityclasses")
    assert info is not None
    for pc in [*system_priority_classes(), best_effort_priority_class()]:
        if pc["metadata"]["name"] in known.classes:
            continue
        try:
            await objects.create(info, pc, None, WriteOptions())
        except ApiError as exc:
            if exc.code != 409:
                raise
