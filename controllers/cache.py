"""Indexes over shared informers (by namespace, by owner uid) and a write-through overlay.

The overlay remembers what our own writes returned, so a reconcile that runs before the
informer has caught up with them reads the newer copy instead of acting twice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from client import Informer
from client.core import rv_newer

from .objutil import Obj, key_of, namespace_of, owner_refs


class Index:
    """Objects of one informer by namespace and by owner uid, kept current by its handlers."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.by_ns: dict[str, dict[str, Obj]] = defaultdict(dict)
        self.by_owner: dict[str, dict[str, Obj]] = defaultdict(dict)
        informer.add_handler(on_add=self._add, on_update=self._update, on_delete=self._delete)

    def _add(self, obj: Obj) -> None:
        key = key_of(obj)
        self.by_ns[namespace_of(obj) or ""][key] = obj
        for ref in owner_refs(obj):
            self.by_owner[ref.get("uid", "")][key] = obj

    def _delete(self, obj: Obj) -> None:
        key = key_of(obj)
        ns = namespace_of(obj) or ""
        bucket = self.by_ns.get(ns)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del self.by_ns[ns]
        for ref in owner_refs(obj):
            uid = ref.get("uid", "")
            owned = self.by_owner.get(uid)
            if owned is not None:
                owned.pop(key, None)
                if not owned:
                    del self.by_owner[uid]

    def _update(self, old: Obj, new: Obj) -> None:
        self._delete(old)
        self._add(new)

    def in_namespace(self, namespace: str | None) -> list[Obj]:
        return list(self.by_ns.get(namespace or "", {}).values())

    def owned_by(self, uid: str) -> list[Obj]:
        return list(self.by_owner.get(uid, {}).values())

    def get(self, key: str) -> Obj | None:
        return self.informer.get(key)


class Overlay:
    """The newest copy of objects we wrote, until the informer shows the same or newer."""

    def __init__(self, limit: int = 10000, clock: Callable[[], float] = time.monotonic) -> None:
        self._objs: dict[tuple[str, str], Obj] = {}
        self._written: dict[tuple[str, str], float] = {}
        self._limit = limit
        self._clock = clock

    def remember(self, resource: str, obj: Any) -> None:
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
