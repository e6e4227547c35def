"""Indexes over shared informers (by namespace, by owner uid) and a write-through overlay.

The overlay remembers what our own writes returned, so a reconcile that runs before the
informer has caught up with them reads the newer copy instead of acting twice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from api.registry import by_kind
from client import Informer
from client.core import rv_newer

from .objutil import Obj, key_of, name_of, namespace_of, owner_refs


class Index:
    """Objects of one informer by namespace (the informer's own buckets) and by owner uid
    (kept current by its handlers)."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        # owner uid -> dependent -> object. The dependent is keyed by its name (a string
        # it already holds) when the owner is namespaced, since Kubernetes keeps such
        # owners and their dependents in one namespace; by ``ns/name`` otherwise.
        self.by_owner: dict[str, dict[str, Obj]] = defaultdict(dict)
        informer.add_handler(on_add=self._add, on_update=self._update, on_delete=self._delete)

    def _add(self, obj: Obj) -> None:
        for ref in owner_refs(obj):
            self.by_owner[ref.get("uid", "")][_dependent_key(obj, ref)] = obj

    def _delete(self, obj: Obj) -> None:
        for ref in owner_refs(obj):
            uid = ref.get("uid", "")
            owned = self.by_owner.get(uid)
            if owned is not None:
                owned.pop(_dependent_key(obj, ref), None)
                if not owned:
                    del self.by_owner[uid]

    def _update(self, old: Obj, new: Obj) -> None:
        self._delete(old)
        self._add(new)

    def in_namespace(self, namespace: str | None) -> list[Obj]:
        return self.informer.in_namespace(namespace)

    def owned_by(self, uid: str) -> list[Obj]:
        return list(self.by_owner.get(uid, {}).values())

    def get(self, key: str) -> Obj | None:
        return self.informer.get(key)


@lru_cache(maxsize=256)
def _namespaced_kind(api_version: str, kind: str) -> bool:
    info = by_kind(api_version, kind)
    return info is not None and info.namespaced


def _dependent_key(obj: Obj, ref: Obj) -> str:
    if _namespaced_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", ""))):
        return name_of(obj)
    return key_of(obj)


# The resources controllers read through the overlay (``latest``/``merged``). Pods are
# not among them: a ReplicaSet scaling up would otherwise hold up to ``limit`` full pods
# (~10 KB each) that nothing reads. Add a resource here before reading it that way.
OVERLAID = frozenset({"deployments", "replicasets", "endpoints", "controllerrevisions"})


class Overlay:
    """The newest copy of objects we wrote, until the informer shows the same or newer."""

    def __init__(
        self,
        limit: int = 10000,
        clock: Callable[[], float] = time.monotonic,
        resources: frozenset[str] = OVERLAID,
    ) -> None:
        self._objs: dict[tuple[str, str], Obj] = {}
        self._written: dict[tuple[str, str], float] = {}
        self._limit = limit
        self._clock = clock
        self.resources = resources

    def remember(self, resource: str, obj: Any) -> None:
        if resource not in self.resources:
            return  # nobody reads it through the overlay: keeping it only costs memory
        if not isinstance(obj, dict) or not (obj.get("metadata") or {}).get("resourceVersion"):
            return
        if len(self._objs) >= self._limit:
            self._objs.clear()  # rare; the informer is the source of truth anyway
            self._written.clear()
        k = (resource, key_of(obj))
        self._objs[k] = obj
        self._written[k] = self._clock()

    def merged(
        self, resource: str, cached: list[Obj], namespace: str | None, young: float = 30.0
    ) -> list[Obj]:
        """``cached`` with our newer copies, plus objects we created that it lacks yet."""
        out = [self.latest(resource, o) for o in cached]
        have = {key_of(o) for o in cached}
        now = self._clock()
        for (res, key), obj in list(self._objs.items()):
            if res != resource or key in have or namespace_of(obj) != namespace:
                continue
            if now - self._written.get((res, key), 0.0) <= young:
                out.append(obj)
        return out

    def forget(self, resource: str, key: str) -> None:
        self._objs.pop((resource, key), None)

    def latest(self, resource: str, obj: Obj) -> Obj:
        """``obj`` from the informer, or our newer write of it."""
        k = (resource, key_of(obj))
        mine = self._objs.get(k)
        if mine is None:
            return obj
        if (mine.get("metadata") or {}).get("uid") != (obj.get("metadata") or {}).get("uid"):
            del self._objs[k]
            return obj
        if rv_newer(mine, obj):
            return mine
        del self._objs[k]
        return obj
