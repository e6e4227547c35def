"""Watch fan-out: every committed event goes to the live watchers that want it.

Watchers are served from memory; a watch that starts from an older revision is first
replayed from the store (its recent-events ring, then the durable change log), and one
from below the compacted revision gets 410 Expired, as in Kubernetes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.errors import ApiError
from api.selectors import SelectionPredicate
from apiserver.store import ADDED, DELETED, MODIFIED, Event, Store

MAX_QUEUED = 20000  # a watcher this far behind is closed; its client resumes from its RV


@dataclass(eq=False)
class Watcher:
    """One open watch stream."""

    resource: str
    namespace: str | None
    selection: SelectionPredicate
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def view(self, ev: Event) -> Event | None:
        """What this watch is sent for ``ev``: the event itself, or nothing, or, for a
        change that moves an object into or out of the selection, ADDED or DELETED (the
        watch cache's ``convertToWatchEvent``): a client's cache of the selected objects
        stays exact as objects enter and leave the selection."""
        if ev.resource != self.resource:
            return None
        if self.namespace and ev.namespace != self.namespace:
            return None
        sel = self.selection
        if sel.empty:
            return ev
        now = sel.matches(ev.obj)
        prev = ev.prev_obj if ev.type == MODIFIED else None
        if prev is None:  # ADDED, DELETED (its object is the last state), or unknown
            return ev if now else None
        before = sel.matches(prev)
        if now:
            return ev if before else entered(ev)
        return left(ev) if before else None


def entered(ev: Event) -> Event:
    """``ev`` as ADDED, for a watch whose selection the object just entered."""
    views = ev.views if ev.views is not None else {}
    ev.views = views
    got = views.get(ADDED)
    if got is None:
        got = views[ADDED] = Event(
            ev.rv, ADDED, ev.resource, ev.namespace, ev.name, ev.data, ev._obj
        )
    return got


def left(ev: Event) -> Event:
    """``ev`` as DELETED, for a watch whose selection the object just left: it carries
    the object's previous state (the one the watch last matched) at the event's
    resourceVersion, as Kubernetes sends it."""
    assert ev.prev is not None
    views = ev.views if ev.views is not None else {}
    ev.views = views
    got = views.get(DELETED)
    if got is None:
        obj = orjson.loads(ev.prev)  # a copy: the shared prev_obj stays as it was
        obj.setdefault("metadata", {})["resourceVersion"] = str(ev.rv)
        got = views[DELETED] = Event(
            ev.rv, DELETED, ev.resource, ev.namespace, ev.name, orjson.dumps(obj), obj
        )
    return got


class WatchHub:
    """Fans committed events out to watchers, indexed by resource."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_resource: dict[str, set[Watcher]] = {}
        # Pod watchers with an exact spec.nodeName selector (kubelets), by node name.
        self._by_node: dict[str, dict[str, set[Watcher]]] = {}
        store.add_listener(self._publish)

    @property
    def count(self) -> int:
        return sum(len(s) for s in self._by_resource.values()) + sum(
            len(ws) for nodes in self._by_node.values() for ws in nodes.values()
        )

    def _publish(self, events: list[Event]) -> None:
        for ev in events:
            watchers = self._by_resource.get(ev.resource)
            if watchers:
                self._offer(ev, watchers)
            by_node = self._by_node.get(ev.resource)
            if by_node:
                # Only the watchers of this pod's node can match (one per kubelet), and,
                # when a change moved the pod off a node (a binding moves it off ""),
                # that node's watchers, which are sent its DELETED.
                node = _node(ev.obj)
                targets = by_node.get(node)
                if targets:
                    self._offer(ev, targets)
                prev = ev.prev_obj if ev.type == MODIFIED else None
                if prev is not None and _node(prev) != node:
                    targets = by_node.get(_node(prev))
                    if targets:
                        self._offer(ev, targets)

    @staticmethod
    def _offer(ev: Event, watchers: set[Watcher]) -> None:
        for w in watchers:
            if w.overflowed:
                continue
            sent = w.view(ev)
            if sent is None:
                continue
            if w.queue.qsize() >= MAX_QUEUED:
                w.overflowed = True
                w.queue.put_nowait(None)
                continue
            w.queue.put_nowait(sent)

    def register(self, w: Watcher) -> None:
        node = w.selection.exact_field("spec.nodeName")
        if node is not None and w.resource == "/pods":
            self._by_node.setdefault(w.resource, {}).setdefault(node, set()).add(w)
        else:
            self._by_resource.setdefault(w.resource, set()).add(w)

    def unregister(self, w: Watcher) -> None:
        s = self._by_resource.get(w.resource)
        if s is not None:
            s.discard(w)
        node = w.selection.exact_field("spec.nodeName")
        by_node = self._by_node.get(w.resource)
        if node is not None and by_node:
            ws = by_node.get(node)
            if ws is not None:
                ws.discard(w)
                if not ws:
                    del by_node[node]

    def backlog(self, w: Watcher, rv: int) -> list[Event]:
        """What ``w`` is sent for the events after ``rv`` (``Watcher.view``), from memory
        or the log; 410 if compacted."""
        if rv < self.store.compacted_rv:
            raise expired(rv, self.store.compacted_rv)
        recent = self.store.events_since(rv)  # the ring: MODIFIED events carry prev
        if recent is None:
            recent = self._from_log(rv, selective=not w.selection.empty)
        out: list[Event] = []
        for e in recent:
            sent = w.view(e)
            if sent is not None:
                out.append(sent)
            elif e.type == MODIFIED and e.prev is None and not w.selection.empty:
                # The object's state before this change is compacted away: whether the
                # client holds it (and must be sent DELETED) cannot be told. Kubernetes'
                # watch cache answers 410 for a revision its window does not cover; the
                # client lists again, which is always right.
                raise expired(rv, self.store.compacted_rv)
        return out

    def _from_log(self, rv: int, selective: bool) -> list[Event]:
        """Events after ``rv`` from the durable log. The log keeps no previous states:
        for a selective watch it is read from its start and each MODIFIED event gets the
        state of the key's change before it (None where that one is compacted too)."""
        out: list[Event] = []
        cursor = self.store.compacted_rv if selective else rv
        while True:
            chunk = self.store.changes_since(cursor)
            if not chunk:
                break
            out.extend(chunk)
            cursor = chunk[-1].rv
            if cursor >= self.store.committed_rv:
                break
        if rv < self.store.compacted_rv:  # compaction raced with the read
            raise expired(rv, self.store.compacted_rv)
        if not selective:
            return out
        state: dict[tuple[str, str, str], bytes | None] = {}
        for e in out:
            key = (e.resource, e.namespace, e.name)
            if e.type == MODIFIED:
                e.prev = state.get(key)
            state[key] = None if e.type == DELETED else e.data
        return [e for e in out if e.rv > rv]


def _node(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def expired(rv: int, compacted: int) -> ApiError:
    return ApiError(
        410,
        f"too old resource version: {rv} ({compacted + 1}); list again and watch from the "
        "list's resourceVersion",
        "Expired",
    )


def event_line(etype: str, data: bytes) -> bytes:
    """One NDJSON watch line around an object's already-serialised JSON."""
    return b'{"type":"' + etype.encode() + b'","object":' + data + b"}\n"


def _shared_line(etype: str, data: bytes, ev: Event | None) -> bytes:
    """The plain watch line, built once per event and shared by every watcher."""
    if ev is None:
        return event_line(etype, data)
    if ev.line is None:
        ev.line = event_line(etype, data)
    return ev.line


def bookmark_line(kind: str, api_version: str, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": kind, "apiVersion": api_version, "metadata": meta}
    return b'{"type":"BOOKMARK","object":' + orjson.dumps(obj) + b"}\n"


async def stream(
    hub: WatchHub,
    w: Watcher,
    initial: list[bytes],
    start_rv: int,
    timeout: float,
    bookmarks: bool,
    kind: str,
    api_version: str,
    initial_end_bookmark: bool,
    render: Callable[[str, bytes, Event | None], bytes] | None = None,
    bookmark_every: float = 30.0,
    linger: float = 0.0,
) -> AsyncGenerator[bytes, None]:
    """Yield watch lines: initial ADDED objects, the backlog after ``start_rv``, then live.

    ``w`` must already be registered, so nothing published after ``start_rv`` is missed;
    events at or below the last revision sent are skipped, so nothing is sent twice.
    ``linger`` > 0: after a live event, wait that long for more and send them together
    (one TLS write for a burst: for watches a person reads, apiserver/watch_tables.py).
    """
    line = render or _shared_line
    last = start_rv
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        for data in initial:
            yield line(ADDED, data, None)
        if initial_end_bookmark:
            yield bookmark_line(kind, api_version, start_rv, initial_end=True)
        try:
            backlog = hub.backlog(w, start_rv)
        except ApiError as e:
            # The response has started: a 410 found now goes in the stream as an ERROR
            # event carrying the Status, as Kubernetes sends it, so the client lists again
            # at once instead of seeing a dropped connection and retrying the same version.
            yield event_line("ERROR", orjson.dumps(e.to_status()))
            return
        for ev in backlog:
            if ev.rv > last:
                last = ev.rv
                yield line(ev.type, ev.data, ev)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                got: Event | None
                if w.queue.empty():
                    # asyncio.timeout, not wait_for: no extra task per event and watcher
                    async with asyncio.timeout(min(remaining, bookmark_every)):
                        got = await w.queue.get()
                else:
                    got = w.queue.get_nowait()
            except TimeoutError:
                if bookmarks and loop.time() < deadline:
                    yield bookmark_line(kind, api_version, max(last, hub.store.committed_rv))
                continue
            if got is None:  # overflowed: end the stream, the client resumes from `last`
                return
            if got.rv <= last:
                continue
            last = got.rv
            batch = [line(got.type, got.data, got)]
            if linger > 0:
                await asyncio.sleep(min(linger, max(deadline - loop.time(), 0.0)))
            # Drain what is already queued into one write: fewer syscalls under load.
            while not w.queue.empty() and len(batch) < 256:
                nxt = w.queue.get_nowait()
                if nxt is None:
                    yield b"".join(batch)
                    return
                if nxt.rv > last:
                    last = nxt.rv
                    batch.append(line(nxt.type, nxt.data, nxt))
            yield b"".join(batch)
    finally:
        hub.unregister(w)
