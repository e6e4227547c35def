"""The RBAC file (``HOME/rbac.yaml``), kept for ``kubelab token create``: translated into
binding objects, never consulted by the authorizer itself.

::

    bindings:
      - user: alice            # or group: ml-team
        role: edit             # admin | edit | view
        namespaces: [team-a]   # omit for every namespace

Each entry becomes, per namespace, a RoleBinding ``kubelab-file:<role>:<user|group>`` to
the ClusterRole ``<role>``, or without namespaces a ClusterRoleBinding of that name (to
``cluster-admin`` for ``admin``: the file's ``admin`` always meant everything). The
bindings carry the label ``kubelab.io/rbac-file: "true"``: they belong to the file, which
is re-read when it changes (looked at, one stat, at most once a second while requests
are allowed, and before any request is refused) and at start;
bindings of removed lines are deleted, and one deleted by hand comes back at the next
change or restart. Bindings made with kubectl are never touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from api.errors import ApiError
from api.rbac_rules import GROUP
from api.registry import by_plural

log = logging.getLogger("kubelab.apiserver")

ROLES = ("admin", "edit", "view")
FILE_LABEL = "kubelab.io/rbac-file"
Obj = dict[str, Any]


@dataclass(frozen=True)
class FileBinding:
    user: str
    group: str
    role: str
    namespaces: tuple[str, ...]  # empty: every namespace


def load_bindings(path: Path | None) -> list[FileBinding]:
    """The file's entries; ValueError naming the file for an unknown role."""
    if path is None or not path.exists():
        return []
    doc = yaml.safe_load(path.read_text()) or {}
    out = []
    for b in doc.get("bindings") or []:
        role = str(b.get("role") or "")
        if role not in ROLES:
            raise ValueError(f"{path}: role {role!r} is not one of {', '.join(ROLES)}")
        out.append(
            FileBinding(
                str(b.get("user") or ""),
                str(b.get("group") or ""),
                role,
                tuple(str(n) for n in b.get("namespaces") or []),
            )
        )
    return out


def add_binding(path: Path, user: str, role: str, namespaces: list[str]) -> None:
    """Bind ``user`` to ``role`` (in ``namespaces``, or everywhere) in the RBAC file."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    doc: dict[str, Any] = {}
    if path.exists():
        doc = yaml.safe_load(path.read_text()) or {}
    entry: dict[str, Any] = {"user": user, "role": role}
    if namespaces:
        entry["namespaces"] = list(namespaces)
    doc.setdefault("bindings", []).append(entry)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    os.replace(tmp, path)


def desired_bindings(entries: list[FileBinding]) -> dict[tuple[str, str], Obj]:
    """(namespace, name) -> the binding object each entry stands for ("" : cluster-wide)."""
    out: dict[tuple[str, str], Obj] = {}
    for e in entries:
        if not e.user and not e.group:
            continue
        kind, who = ("User", e.user) if e.user else ("Group", e.group)
        name = f"kubelab-file:{e.role}:{who}"
        subject = {"kind": kind, "name": who, "apiGroup": GROUP}
        for ns in e.namespaces or ("",):
            key = (ns, name)
            existing = out.get(key)
            if existing is not None:
                if subject not in existing["subjects"]:
                    existing["subjects"].append(subject)
                continue
            role = "cluster-admin" if e.role == "admin" and not ns else e.role
            meta: Obj = {"name": name, "labels": {FILE_LABEL: "true"}}
            if ns:
                meta["namespace"] = ns
            out[key] = {
                "apiVersion": f"{GROUP}/v1",
                "kind": "RoleBinding" if ns else "ClusterRoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
                "subjects": [subject],
            }
    return out


class RbacFileSync:
    """Keeps the file's bindings in the store in step with the file."""

    def __init__(self, path: Path | None, objects: Any, existing: Any) -> None:
        self.path = path
        self.objects = objects
        self.existing = existing  # () -> {(ns, name): obj} of the labelled bindings now
        self._seen: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) translated
        self._incomplete = False  # a binding could not be written (its namespace is missing)
        self._lock = asyncio.Lock()
        self._checked = 0.0  # monotonic time of the last look at the file

    def due(self, period: float = 1.0) -> bool:
        """Whether the file is to be looked at again (at most once per ``period``)."""
        now = time.monotonic()
        if now - self._checked < period:
            return False
        self._checked = now
        return True

    def _stat(self) -> tuple[int, int, int]:
        if self.path is None:
            return (0, 0, 0)
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    async def refresh(self, retry: bool = False) -> None:
        """Translate the file again if it changed (or, with ``retry``, if the last
        translation could not write every binding)."""
        mtime = self._stat()
        if mtime == self._seen and not (retry and self._incomplete):
            return
        async with self._lock:
            mtime = self._stat()
            if mtime == self._seen and not (retry and self._incomplete):
                return
            try:
                wanted = desired_bindings(load_bindings(self.path))
            except (ValueError, yaml.YAMLError) as exc:
                log.error("RBAC file not applied: %s", exc)
                self._seen = mtime
                return
            self._incomplete = not await self._apply(wanted)
            self._seen = mtime

    async def _apply(self, wanted: dict[tuple[str, str], Obj]) -> bool:
        from apiserver.objects import WriteOptions

        opts = WriteOptions(field_validation="Ignore")
        complete = True
        have: dict[tuple[str, str], Obj] = self.existing()
        for key, obj in wanted.items():
            info = by_plural(GROUP, "rolebindings" if key[0] else "clusterrolebindings")
            assert info is not None
            cur = have.get(key)
            try:
                if cur is None:
                    await self.objects.create(info, obj, key[0] or None, opts)
                elif cur.get("subjects") != obj["subjects"] or cur.get("roleRef") != obj["roleRef"]:
                    await self.objects.delete(info, key[1], key[0] or None, opts)
                    await self.objects.create(info, obj, key[0] or None, opts)
            except ApiError as exc:
                complete = False
                log.warning("RBAC file: binding %s/%s not written yet: %s", *key, exc.message)
        for key in set(have) - set(wanted):
            info = by_plural(GROUP, "rolebindings" if key[0] else "clusterrolebindings")
            assert info is not None
            try:
                await self.objects.delete(info, key[1], key[0] or None, opts)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return complete
