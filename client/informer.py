"""Informers: list + watch one resource into an in-memory cache and call handlers.

The cache is keyed ``ns/name`` (``name`` for cluster-scoped kinds). ``run`` follows the
client's reflector loop (``AsyncClient.list_and_watch``, decisions in ``client.reflector``):
it lists the collection page by page, calls ``on_add`` for every object, marks the
informer synced, then watches from the list's resourceVersion. A stream that ends is
resumed from the last resourceVersion seen; a 410 Expired relists and turns the
difference into add, update and delete calls; other failures (unreachable server, 5xx)
are retried with jittered exponential backoff. Events whose object is older than the
cached one are ignored.

An optional ``transform`` (client-go's ``SetTransform``) rewrites every object before it
enters the cache and before any handler sees it -- listed, watched or relisted alike -- so
a component can drop the fields it never reads (``managedFields``, env, probes...) and
keep its cache small. It must return a dict with the same metadata name, namespace and
resourceVersion; it may return its argument, modified.

Handlers are plain callables (a coroutine function also works: it is awaited) and run in
the informer's task, so they should only enqueue keys, not do slow work. An exception in
a handler is logged and does not stop the informer.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from api.registry import ResourceInfo
from client.aio import AsyncClient
from client.core import object_key, resolve, resource_version, rv_newer
from client.reflector import Listing, Reflector, retry_backoff

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AddHandler = Callable[[Obj], Any]
UpdateHandler = Callable[[Obj, Obj], Any]
DeleteHandler = Callable[[Obj], Any]
Transform = Callable[[Obj], Obj]


@dataclass
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


class Informer:
    """A cache of one resource kept current by list + watch (async)."""

    def __init__(
        self,
        client: AsyncClient,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        page_size: int = 500,
        watch_timeout: int = 300,
        max_backoff: float = 30.0,
        transform: Transform | None = None,
    ) -> None:
        self.client = client
        self.resource = resolve(resource)
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.max_backoff = max_backoff
        self.transform = transform
        # namespace ("" for cluster-scoped kinds) -> name -> object. Keyed by the name
        # string the object already holds, so a cached object costs no key string of its
        # own (with 100,000 pods that is ~8 MiB); ``ns/name`` keys are made on demand.
        self._cache: dict[str, dict[str, Obj]] = {}
        self._count = 0
        self._handlers: list[_Handlers] = []
        self._synced = asyncio.Event()
        self._stopped = False
        self.reflector = Reflector(
            f"{self.resource.plural} informer",
            backoff=retry_backoff(max_backoff),
            persistent=True,
            watch_timeout=watch_timeout or None,
            spread_timeout=True,
        )

    @property
    def last_rv(self) -> str | None:
        """The resourceVersion the next watch resumes from."""
        return self.reflector.last_rv

    @property
    def relists(self) -> int:
        """How many times a 410 forced a relist (visible for tests/metrics)."""
        return self.reflector.relists

    # -- handlers and cache ----------------------------------------------------------------

    def add_handler(
        self,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> None:
        """Register callbacks. A handler added after the first sync is called with
        ``on_add`` for every cached object right away, as client-go does."""
        self._handlers.append(_Handlers(on_add, on_update, on_delete))
        if on_add is not None and self.has_synced:
            for obj in self.list():
                result = on_add(obj)
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)

    def get(self, key: str) -> Obj | None:
        """The cached object for ``ns/name`` (or ``name``), or None."""
        ns, _, name = key.rpartition("/")
        bucket = self._cache.get(ns)
        return bucket.get(name) if bucket is not None else None

    def list(self) -> builtins.list[Obj]:
        """Every cached object (a snapshot list; the dicts are the cache's own, don't
        mutate them)."""
        return [obj for bucket in self._cache.values() for obj in bucket.values()]

    def in_namespace(self, namespace: str | None) -> builtins.list[Obj]:
        """The cached objects of one namespace (``None`` or "": cluster-scoped ones)."""
        return list(self._cache.get(namespace or "", {}).values())

    def keys(self) -> builtins.list[str]:
        return [f"{ns}/{name}" if ns else name for ns, b in self._cache.items() for name in b]

    def __len__(self) -> int:
        return self._count

    def _put(self, obj: Obj) -> Obj | None:
        """Cache ``obj``; returns the object it replaces, if any."""
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "", meta.get("name", "")
        bucket = self._cache.get(ns)
        if bucket is None:
            bucket = self._cache[ns] = {}
        old = bucket.get(name)
        bucket[name] = obj
        if old is None:
            self._count += 1
        return old

    def _drop(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        bucket = self._cache.get(ns)
        if bucket is not None and bucket.pop(name, None) is not None:
            self._count -= 1
            if not bucket:
                del self._cache[ns]

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the first list has been loaded into the cache (TimeoutError after
        ``timeout`` seconds, if given)."""
        if timeout is None:
            await self._synced.wait()
        else:
            await asyncio.wait_for(self._synced.wait(), timeout)

    def stop(self) -> None:
        """Make ``run`` return at its next event or retry (cancelling its task is quicker)."""
        self._stopped = True

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """List, then watch forever (until cancelled or ``stop``)."""
        while not self._stopped:
            try:
                async with aclosing(
                    self.client.list_and_watch(
                        self.resource,
                        self.namespace,
                        label_selector=self.label_selector,
                        field_selector=self.field_selector,
                        page_size=self.page_size,
                        reflector=self.reflector,
                        stopped=lambda: self._stopped,
                    )
                ) as items:
                    async for item in items:
                        if isinstance(item, Listing):
                            await self._replace(item.body)
                        else:
                            await self._apply(item)
            except Exception as e:
                # Applying failed (a transform that raised): the reflector's rule for the
                # unexpected holds, a fresh list after a backoff.
                delay = self.reflector.failed(e, listing=False) or 0.0
                await asyncio.sleep(delay)

    async def _replace(self, listing: dict[str, Any]) -> None:
        """Take the cache to a fresh list, telling the handlers the difference."""
        items: builtins.list[Obj] = listing["items"]
        if self.transform is not None:
            items = [self.transform(o) for o in items]
        fresh: dict[str, Obj] = {object_key(o): o for o in items}
        gone = [(k, o) for k in self.keys() if k not in fresh and (o := self.get(k)) is not None]
        for obj in fresh.values():
            old = self._put(obj)
            if old is None:
                await self._dispatch_add(obj)
            elif resource_version(old) != resource_version(obj):
                await self._dispatch_update(old, obj)
        for key, old in gone:
            self._drop(key)
            await self._dispatch_delete(old)
        self._synced.set()

    async def _apply(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        obj: Obj = event.get("object") or {}
        if etype == "BOOKMARK":
            return  # only a resourceVersion to resume from, which the reflector keeps
        if self.transform is not None:
            obj = self.transform(obj)
        key = object_key(obj)
        cached = self.get(key)
        if etype in ("ADDED", "MODIFIED"):
            if cached is not None and not rv_newer(obj, cached):
                pass  # a replay of a version we already have
            else:
                self._put(obj)
                if cached is None:
                    await self._dispatch_add(obj)
                else:
                    await self._dispatch_update(cached, obj)
        elif etype == "DELETED":
            same = resource_version(obj) == resource_version(cached or {})
            if cached is not None and (rv_newer(obj, cached) or same):
                self._drop(key)
                await self._dispatch_delete(obj)
        else:
            log.warning("%s informer: unknown event type %r", self.resource.plural, etype)

    # -- dispatch --------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Obj) -> None:
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s informer: handler %r failed", self.resource.plural, fn)

    async def _dispatch_add(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_add is not None:
                await self._call(h.on_add, obj)

    async def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for h in list(self._handlers):
            if h.on_update is not None:
                await self._call(h.on_update, old, new)

    async def _dispatch_delete(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_delete is not None:
                await self._call(h.on_delete, obj)


class InformerFactory:
    """Shares one informer per (resource, namespace, selectors) among controllers.

    ``informer(...)`` returns the shared instance; ``start()`` runs every informer made so
    far (and any made later is started on creation); ``wait_synced()`` waits for all;
    ``stop()`` cancels them.
    """

    def __init__(self, client: AsyncClient, namespace: str | None = None) -> None:
        self.client = client
        self.namespace = namespace
        self._informers: dict[tuple[str, str | None, str | None, str | None], Informer] = {}
        self._tasks: dict[Informer, asyncio.Task[None]] = {}
        self._started = False

    def informer(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        transform: Transform | None = None,
    ) -> Informer:
        """The shared informer for these arguments (made on first use). ``transform`` is
        given to the informer when this call makes it; a later call asking for the same
        informer with a different transform is an error, since they would share a cache."""
        info = resolve(resource)
        ns = namespace if namespace is not None else self.namespace
        key = (f"{info.group}/{info.plural}", ns, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.client, info, ns, label_selector, field_selector, transform=transform
            )
            self._informers[key] = inf
            if self._started:
                self._start(inf)
        elif transform is not None and inf.transform is not transform:
            raise ValueError(
                f"informer for {info.plural} already made with transform {inf.transform!r}"
            )
        return inf

    def _start(self, inf: Informer) -> None:
        if inf not in self._tasks:
            self._tasks[inf] = asyncio.create_task(
                inf.run(), name=f"informer-{inf.resource.plural}"
            )

    def start(self) -> None:
        """Start every informer (call from inside the event loop)."""
        self._started = True
        for inf in self._informers.values():
            self._start(inf)

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(
            asyncio.gather(*(i.wait_synced() for i in self._informers.values())), timeout
        )

    async def stop(self) -> None:
        for inf in self._informers.values():
            inf.stop()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._started = False
