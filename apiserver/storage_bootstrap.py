"""The built-in ``local-path`` StorageClass, created at start when missing (as k3s ships
it), beside priority_bootstrap and above the object service it writes through."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.registry import by_plural
from api.storage import local_path_class
from apiserver.objects import WriteOptions
from apiserver.storage_admission import StorageClasses


async def ensure_local_path_class(objects: Any, known: StorageClasses) -> None:
    """Create ``local-path`` unless it exists; ``objects`` is the server's ObjectService.
    Another class marked default does not stop it: the newest default wins, as upstream."""
    info = by_plural("storage.k8s.io", "storageclasses")
    assert info is not None
    sc = local_path_class()
    if sc["metadata"]["name"] in known.classes:
        return
    try:
        await objects.create(info, sc, None, WriteOptions())
    except ApiError as exc:
        if exc.code != 409:
            raise
