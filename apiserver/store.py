"""The revisioned object store: current objects plus an append-only change log.

One global revision orders every write; it is the resourceVersion clients see.
Mutations are computed one at a time on the event loop (so read-modify-write needs no
locks), then handed to a single writer thread that commits them in batches (group
commit): many clients' writes share one durable fsync, and the change log row of a
write lands in the same transaction as the object, so a watch never misses or
reorders an event. A write is acknowledged only after its batch committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.errors import ApiError
from apiserver.encryption import Encryption
from apiserver.keyfilter import Key, KeyFilter

log = logging.getLogger("kubelab.store")

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
# The type of the Event ``mutate`` answers a write that changes nothing with: it is never
# stored, logged or sent to a watcher, and its rv is the object's existing resourceVersion.
UNCHANGED = "UNCHANGED"

_metadata = sa.MetaData()
objects_table = sa.Table(
    "objects",
    _metadata,
    sa.Column("resource", sa.String(128), primary_key=True),
    sa.Column("namespace", sa.String(253), primary_key=True),
    sa.Column("name", sa.String(253), primary_key=True),
    sa.Column("rv", sa.BigInteger, nullable=False),
    # spec.nodeName for pods: lets a kubelet list its pods without scanning all of them.
    sa.Column("node", sa.String(253), nullable=False, server_default=""),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
sa.Index("objects_by_node", objects_table.c.resource, objects_table.c.node)
changes_table = sa.Table(
    "changes",
    _metadata,
    sa.Column("rv", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("resource", sa.String(128), nullable=False),
    sa.Column("namespace", sa.String(253), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


@dataclass
class Event:
    """One committed change, as watchers receive it."""

    rv: int
    type: str
    resource: str
    namespace: str
    name: str
    data: bytes  # the object's JSON, resourceVersion included
    _obj: dict[str, Any] | None = field(default=None, repr=False)
    line: bytes | None = field(default=None, repr=False)  # the watch line, built once
    # A MODIFIED event's object JSON before the change (the bytes the write read, kept by
    # reference): a selective watch needs it to tell an object entering or leaving its
    # selection. None for ADDED and DELETED, and where unknown (read back from the log).
    prev: bytes | None = field(default=None, repr=False)
    _prev_obj: dict[str, Any] | None = field(default=None, repr=False)
    # What selective watchers are sent instead (ADDED, DELETED), built once, shared.
    views: dict[str, Event] | None = field(default=None, repr=False)

    @property
    def obj(self) -> dict[str, Any]:
        """The object as a dict, parsed once and shared by every watcher."""
        if self._obj is None:
            self._obj = orjson.loads(self.data)
        return self._obj

    @property
    def prev_obj(self) -> dict[str, Any] | None:
        """``prev`` as a dict, parsed once and shared by every watcher (None if unknown)."""
        if self._prev_obj is None and self.prev is not None:
            self._prev_obj = orjson.loads(self.prev)
        return self._prev_obj


@dataclass
class _PendingWrite:
    event: Event
    node: str
    future: asyncio.Future[Event]


_GET_SQL = "SELECT data FROM objects WHERE resource = ? AND namespace = ? AND name = ?"
_GET_STMT = sa.select(objects_table.c.data).where(
    objects_table.c.resource == sa.bindparam("r"),
    objects_table.c.namespace == sa.bindparam("ns"),
    objects_table.c.name == sa.bindparam("n"),
)

_COMPACT_SQL = "DELETE FROM changes WHERE rv <= ?"
_KEYS_SQL = "SELECT resource, namespace, name FROM objects"
_DEL_SQL = "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?"
_INS_OBJ_SQL = (
    "INSERT INTO objects (resource, namespace, name, rv, node, data) VALUES (?, ?, ?, ?, ?, ?)"
)
_INS_CHANGE_SQL = (
    "INSERT INTO changes (rv, resource, namespace, name, type, data) VALUES (?, ?, ?, ?, ?, ?)"
)


class StorageError(ApiError):
    """The database refused a write (full disk, lost connection)."""


def _node_of(resource: str, obj: dict[str, Any] | None) -> str:
    if obj is None or resource != "/pods":
        return ""
    return str((obj.get("spec") or {}).get("nodeName") or "")


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: SQLite in WAL mode with durable commits."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if not os.path.exists(path):
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            os.chmod(path, 0o600)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: every acknowledged commit survives power loss, not just a crash.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        return engine
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


class Store:
    """Objects and their change log, with group-committed, ordered writes."""

    def __init__(
        self,
        url: str,
        keep_revisions: int = 1000,
        memory_events: int = 2000,
        max_batch: int = 512,
        encryption: Encryption | None = None,
    ) -> None:
        self.url = url
        # Resources stored encrypted (apiserver/encryption.py): every byte of theirs that
        # reaches the database, object row and change-log row, goes through it.
        self.encryption = encryption or Encryption()
        self.engine = make_engine(url)
        self.keep_revisions = keep_revisions
        self.max_batch = max_batch
        _metadata.create_all(self.engine)
        with self.engine.connect() as conn:
            top = conn.execute(sa.select(sa.func.max(changes_table.c.rv))).scalar()
            low = conn.execute(sa.select(sa.func.min(changes_table.c.rv))).scalar()
        self._next_rv = int(top or 0) + 1
        self.committed_rv = int(top or 0)
        # Revisions at or below this are gone from the log: a watch from there gets 410.
        self.compacted_rv = int(low or 1) - 1
        self.recent: deque[Event] = deque(maxlen=memory_events)
        # Each key's last write not yet committed.
        self._overlay: dict[tuple[str, str, str], _PendingWrite] = {}
        self._queue: queue.Queue[_PendingWrite | None] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._listeners: list[Callable[[list[Event]], None]] = []
        self._failed: BaseException | None = None
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # SQLite: one DBAPI connection held for reads on the event loop (WAL: readers see
        # every committed write and never block the writer).
        self._sqlite_reader: Any = None
        self._sqlite_writer: tuple[Any, Any] | None = None  # opened by the writer thread
        if self.engine.dialect.name == "sqlite":
            self._sqlite_fairy = self.engine.raw_connection()
            self._sqlite_reader = self._sqlite_fairy.driver_connection
        # Which keys may exist: lets a create skip the database read for a free name.
        self._keys = self._load_keys()
        self.reencrypted = self.reencrypt()

    # -- encryption at rest ----------------------------------------------------------------

    def _to_storage(self, resource: str, namespace: str, name: str, data: bytes) -> bytes:
        chain = self.encryption.chain(resource)
        if chain is None:
            return data
        return chain.encrypt(data, Encryption.context(resource, namespace, name))

    def _from_storage(self, resource: str, namespace: str, name: str, data: bytes) -> bytes:
        chain = self.encryption.chain(resource)
        if chain is None:
            return data
        return chain.decrypt(data, Encryption.context(resource, namespace, name))

    def reencrypt(self) -> int:
        """Rewrite every stored row of an encrypted resource that is not in the form the
        first provider writes (encryption just turned on, or a new key put first). Runs
        before the writer starts; the objects and their revisions do not change, only
        their stored bytes. Returns how many rows it rewrote."""
        done = 0
        for resource, chain in self.encryption.chains.items():
            for table, key_cols in (
                (objects_table, ("namespace", "name")),
                (changes_table, ("rv",)),
            ):
                t = table.c
                with self.engine.begin() as conn:
                    rows = conn.execute(
                        sa.select(t.namespace, t.name, t.data, *[t[c] for c in key_cols]).where(
                            t.resource == resource
                        )
                    ).all()
                    for row in rows:
                        stored = bytes(row[2])
                        if chain.current(stored):
                            continue
                        context = Encryption.context(resource, row[0], row[1])
                        fresh = chain.encrypt(chain.decrypt(stored, context), context)
                        cond = [t.resource == resource] + [
                            t[c] == row[3 + i] for i, c in enumerate(key_cols)
                        ]
                        conn.execute(table.update().where(*cond).values(data=fresh))
                        done += 1
        if done:
            log.info("stored %d rows under the current encryption key", done)
        return done

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the writer thread; results are delivered on ``loop``."""
        self._loop = loop
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()
        if self._sqlite_reader is not None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="store-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self, period: float = 1.0) -> None:
        """Copy the WAL back into the database file now and then (PASSIVE: never blocks
        the writer or readers), so the WAL stays small without slowing any commit."""
        fairy = self.engine.raw_connection()
        con = fairy.driver_connection
        assert con is not None
        try:
            while not self._stopping.wait(period):
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception as exc:  # a full disk: try again later
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            fairy.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        if self._sqlite_writer is not None:
            self._sqlite_writer[0].close()
            self._sqlite_writer = None
        if self._sqlite_reader is not None:
            self._sqlite_reader = None
            self._sqlite_fairy.close()
        self.engine.dispose()

    def add_listener(self, fn: Callable[[list[Event]], None]) -> None:
        """Call ``fn`` on the loop with each committed batch of events, in revision order."""
        self._listeners.append(fn)

    # -- reads ---------------------------------------------------------------------------

    def get_raw(self, resource: str, namespace: str, name: str) -> bytes | None:
        """The committed JSON of one object, or None."""
        if self._sqlite_reader is not None:
            # The hot path of every GET and write: one prepared statement on a held DBAPI
            # connection, skipping SQLAlchemy's per-call expression building and pool checkout.
            cur = self._sqlite_reader.execute(_GET_SQL, (resource, namespace, name))
            rows = cur.fetchall()
            raw = bytes(rows[0][0]) if rows else None
        else:
            with self.engine.connect() as conn:
                row = conn.execute(_GET_STMT, {"r": resource, "ns": namespace, "n": name}).first()
            raw = bytes(row[0]) if row else None
        if raw is None or not self.encryption.chains:
            return raw
        return self._from_storage(resource, namespace, name, raw)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        raw = self.get_raw(resource, namespace, name)
        return orjson.loads(raw) if raw is not None else None

    def _load_keys(self) -> KeyFilter:
        """A key filter holding every stored key and every pending (uncommitted) one."""
        if self._sqlite_reader is not None:
            rows: list[Any] = self._sqlite_reader.execute(_KEYS_SQL).fetchall()
        else:
            with self.engine.connect() as conn:
                rows = list(conn.exec_driver_sql(_KEYS_SQL).all())
        keys: list[Key] = [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
        keys.extend(self._overlay)
        return KeyFilter.of(keys, len(keys))

    def _current_for_write(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        raw = self._current_raw_for_write(resource, namespace, name)
        return orjson.loads(raw) if raw is not None else None

    def _current_raw_for_write(self, resource: str, namespace: str, name: str) -> bytes | None:
        """The JSON a write starts from: its pending (uncommitted) state, else the stored one."""
        pending = self._overlay.get((resource, namespace, name))
        if pending is not None:
            return None if pending.event.type == DELETED else pending.event.data
        return self.get_raw(resource, namespace, name)

    def list_raw(
        self,
        resource: str,
        namespace: str | None = None,
        node: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> tuple[int, list[bytes]]:
        """A consistent snapshot: the revision it reflects and the objects' JSON, key order."""
        t = objects_table.c
        encrypted = self.encryption.chain(resource) is not None
        cols = (t.data, t.namespace, t.name) if encrypted else (t.data,)
        q = sa.select(*cols).where(t.resource == resource)
        if namespace:
            q = q.where(t.namespace == namespace)
        if node is not None:
            q = q.where(t.node == node)
        if after is not None:
            q = q.where(sa.tuple_(t.namespace, t.name) > sa.tuple_(*after))
        q = q.order_by(t.namespace, t.name)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                rv = conn.execute(sa.select(sa.func.max(changes_table.c.rv))).scalar()
                rows = conn.execute(q).all()
        if encrypted:
            datas = [self._from_storage(resource, r[1], r[2], bytes(r[0])) for r in rows]
        else:
            datas = [bytes(r[0]) for r in rows]
        return int(rv or self.committed_rv), datas

    def count(self, resource: str | None = None) -> int:
        t = objects_table.c
        q = sa.select(sa.func.count()).select_from(objects_table)
        if resource:
            q = q.where(t.resource == resource)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def changes_since(self, rv: int, limit: int = 5000) -> list[Event]:
        """Committed events with revision > ``rv`` from the durable log, oldest first."""
        t = changes_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.rv, t.type, t.resource, t.namespace, t.name, t.data)
                .where(t.rv > rv)
                .order_by(t.rv)
                .limit(limit)
            ).all()
        return [
            Event(
                int(r[0]), r[1], r[2], r[3], r[4], self._from_storage(r[2], r[3], r[4], bytes(r[5]))
            )
            for r in rows
        ]

    # -- writes --------------------------------------------------------------------------

    async def mutate(
        self,
        resource: str,
        namespace: str,
        name: str,
        compute: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        create: bool = False,
    ) -> Event:
        """Apply one write and wait until it is durable.

        ``compute`` gets the current object (None if absent) and returns the new object,
        or None to delete it; it may raise ApiError to refuse. It runs on the loop, one
        mutation at a time, so it sees every earlier write, committed or not. ``create``
        says the caller expects no current object: a name the key filter has never seen
        is then known to be free without reading the database.
        """
        if self._failed is not None:
            raise StorageError(503, f"the store is unavailable: {self._failed}")
        key = (resource, namespace, name)
        prev: bytes | None = None
        if create and key not in self._overlay and not self._keys.may_contain(key):
            current = None
        else:
            prev = self._current_raw_for_write(resource, namespace, name)
            current = orjson.loads(prev) if prev is not None else None
        # Read before compute, which may change ``current`` in place.
        old_rv = (current.get("metadata") or {}).get("resourceVersion") if current else None
        new = compute(current)
        if new is None and current is None:
            raise ApiError(404, f'{resource.split("/")[-1]} "{name}" not found', name=name)
        if new is not None and prev is not None and old_rv and _same_object(prev, old_rv, new):
            # As Kubernetes' GuaranteedUpdate: a write that changes nothing stores nothing,
            # keeps the resourceVersion and sends no watch event.
            same = Event(int(old_rv), UNCHANGED, resource, namespace, name, prev)
            pending = self._overlay.get(key)
            if pending is not None:
                # The state this confirms is still being committed: answer once it is
                # durable (or with its error). shield: a client that goes away must not
                # cancel another write's future.
                await asyncio.shield(pending.future)
            return same
        rv = self._next_rv
        self._next_rv += 1
        if new is None:
            assert current is not None
            final = current
            final.setdefault("metadata", {})["resourceVersion"] = str(rv)
            etype = DELETED
        else:
            final = new
            final.setdefault("metadata", {})["resourceVersion"] = str(rv)
            etype = ADDED if current is None else MODIFIED
        data = orjson.dumps(final)
        ev = Event(rv, etype, resource, namespace, name, data, final)
        if etype == MODIFIED:
            ev.prev = prev  # the selective watches' transitions (apiserver/watch.py)
        assert self._loop is not None, "Store.start() was not called"
        fut: asyncio.Future[Event] = self._loop.create_future()
        pending = _PendingWrite(ev, _node_of(resource, final), fut)
        self._overlay[key] = pending
        if current is None:
            self._keys.add(key)
            if self._keys.full:
                self._keys = self._load_keys()
        self._queue.put(pending)
        return await fut

    def _write_loop(self) -> None:
        """The writer thread: commit queued writes in batches, in revision order."""
        since_compact = 0
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            error: BaseException | None = None
            # Compaction rides in the batch's own transaction: a separate one would cost
            # the writer a second fsync while clients wait behind it.
            compact_upto = self._compact_upto() if since_compact >= 200 else None
            try:
                self._commit(batch, compact_upto)
                if compact_upto is not None:
                    since_compact = 0
                    self.compacted_rv = compact_upto
            except Exception as exc:  # the disk is full, the database went away
                log.error("commit of %d writes failed: %s", len(batch), exc)
                error = exc
                # Writes queued behind a failed batch were computed on top of it: fail them too.
                while True:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self._queue.put(None)
                        break
                    batch.append(nxt)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._finish, batch, error)
            since_compact += len(batch)

    def _compact_upto(self) -> int | None:
        """The revision up to which the log may be dropped now (small steps), or None."""
        floor = self.committed_rv - self.keep_revisions
        if floor <= self.compacted_rv:
            return None
        return min(floor, self.compacted_rv + 5000)

    def _commit(self, batch: list[_PendingWrite], compact_upto: int | None = None) -> None:
        """One transaction for the batch: the objects' last states and every log row."""
        changes: list[dict[str, Any]] = []
        # The same key may be written twice in a batch: only its last state is stored.
        last: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        for w in batch:
            e = w.event
            changes.append(
                {
                    "rv": e.rv,
                    "resource": e.resource,
                    "namespace": e.namespace,
                    "name": e.name,
                    "type": e.type,
                    "data": self._to_storage(e.resource, e.namespace, e.name, e.data),
                }
            )
            last[(e.resource, e.namespace, e.name)] = (
                None
                if e.type == DELETED
                else {
                    "resource": e.resource,
                    "namespace": e.namespace,
                    "name": e.name,
                    "rv": e.rv,
                    "node": w.node,
                    "data": changes[-1]["data"],
                }
            )
        if self._sqlite_reader is not None:
            self._commit_sqlite(changes, last, compact_upto)
            return
        t = objects_table
        dels = [{"b_resource": k[0], "b_namespace": k[1], "b_name": k[2]} for k in last]
        ups = [v for v in last.values() if v is not None]
        with self.engine.begin() as conn:
            conn.execute(
                t.delete().where(
                    t.c.resource == sa.bindparam("b_resource"),
                    t.c.namespace == sa.bindparam("b_namespace"),
                    t.c.name == sa.bindparam("b_name"),
                ),
                dels,
            )
            if ups:
                conn.execute(t.insert(), ups)
            conn.execute(changes_table.insert(), changes)
            if compact_upto is not None:
                conn.execute(changes_table.delete().where(changes_table.c.rv <= compact_upto))

    def _commit_sqlite(
        self,
        changes: list[dict[str, Any]],
        last: dict[tuple[str, str, str], dict[str, Any] | None],
        compact_upto: int | None = None,
    ) -> None:
        """The same transaction as ``_commit`` through the writer's own DBAPI connection:
        SQLAlchemy's per-batch statement handling cost as much as the writes themselves."""
        if self._sqlite_writer is None:
            fairy = self.engine.raw_connection()
            con = fairy.driver_connection
            assert con is not None
            con.isolation_level = None  # BEGIN and COMMIT are ours
            # Checkpoints run on their own thread (_checkpoint_loop), not inside a commit
            # that a client is waiting for: they fsync the whole database file.
            con.execute("PRAGMA wal_autocheckpoint=0")
            self._sqlite_writer = (fairy, con)
        con = self._sqlite_writer[1]
        con.execute("BEGIN")
        try:
            con.executemany(_DEL_SQL, list(last))
            ups = [
                (v["resource"], v["namespace"], v["name"], v["rv"], v["node"], v["data"])
                for v in last.values()
                if v is not None
            ]
            if ups:
                con.executemany(_INS_OBJ_SQL, ups)
            con.executemany(
                _INS_CHANGE_SQL,
                [
                    (c["rv"], c["resource"], c["namespace"], c["name"], c["type"], c["data"])
                    for c in changes
                ],
            )
            if compact_upto is not None:
                con.execute(_COMPACT_SQL, (compact_upto,))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _finish(self, batch: list[_PendingWrite], error: BaseException | None) -> None:
        """On the loop: resolve futures, drop overlay entries, publish events."""
        events: list[Event] = []
        for w in batch:
            e = w.event
            k = (e.resource, e.namespace, e.name)
            if self._overlay.get(k) is w:
                del self._overlay[k]
            if error is not None:
                if not w.future.done():
                    w.future.set_exception(_storage_error(error))
                continue
            events.append(e)
        if error is not None:
            # Keep the overlay consistent with the database after a failed batch.
            self._overlay.clear()
            return
        if events:
            self.committed_rv = events[-1].rv
            # The ring keeps each event's JSON only: thousands of parsed objects held
            # there would sit in the cyclic GC's oldest generation and make every full
            # collection long (tens of ms, straight into the p99 of every request).
            # MODIFIED ones keep their previous JSON too (bytes, not GC-tracked): a replay
            # from the ring makes the same selection transitions as the live fan-out.
            self.recent.extend(
                Event(e.rv, e.type, e.resource, e.namespace, e.name, e.data, prev=e.prev)
                for e in events
            )
            for fn in self._listeners:
                try:
                    fn(events)
                except Exception:  # a broken listener must not lose acknowledgements
                    log.exception("store listener failed")
        for w in batch:
            if not w.future.done():
                w.future.set_result(w.event)

    def events_since(self, rv: int) -> Iterable[Event] | None:
        """Events after ``rv`` from memory when it reaches back that far, else None."""
        if self.recent and self.recent[0].rv <= rv + 1:
            return [e for e in self.recent if e.rv > rv]
        if not self.recent and rv >= self.committed_rv:
            return []
        return None


def _same_object(stored: bytes, stored_rv: str, new: dict[str, Any]) -> bool:
    """Whether ``new`` is the object ``stored`` holds (resourceVersion aside), as JSON.

    ``stored`` is the JSON the write's ``current`` was parsed from: ``compute`` may have
    changed ``current`` in place, so it cannot be compared with. The cheap test, about
    2 us for a pod, serialises ``new`` under the stored resourceVersion and compares bytes:
    a no-op patch keeps the stored key order. The same content in another key order (a
    PUT body built elsewhere) has the same length in orjson's compact output, so only a
    same-length difference pays for the exact test (both sides with sorted keys, ~15 us);
    a change of length is a change. Sets new's resourceVersion, which a real write
    overwrites anyway.
    """
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        return False
    meta["resourceVersion"] = stored_rv
    data = orjson.dumps(new)
    if data == stored:
        return True
    if len(data) != len(stored):
        return False
    sort = orjson.OPT_SORT_KEYS
    return orjson.dumps(new, option=sort) == orjson.dumps(orjson.loads(stored), option=sort)


def _storage_error(exc: BaseException) -> ApiError:
    text = str(exc)
    if "full" in text.lower() or "No space" in text:
        return StorageError(507, f"the store could not save the write: disk full ({text[:200]})")
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        # The database went away (a PostgreSQL restart, a dropped connection): the next
        # write gets a fresh connection, so the client is told to try again shortly.
        err = StorageError(
            503, f"the database is unavailable, try again shortly: {text.splitlines()[0][:200]}"
        )
        err.retry_after_seconds = 1
        return err
    return StorageError(500, f"the store could not save the write: {text[:300]}")


def now_rfc3339() -> str:
    """The current UTC time as Kubernetes writes timestamps (seconds, with ``Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
