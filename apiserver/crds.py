"""Serving CustomResourceDefinitions: the registry overlay kept from the stored CRDs, their
status (NamesAccepted, Established, Terminating) and the clean-up of a deleted CRD's objects.

A CRD's kinds are served from the moment its commit is published (a store listener
rebuilds the overlay there, before the create is answered), so a custom object can be
created at once; the status conditions follow in a task, within milliseconds, as
Kubernetes' establishing controller writes them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from api import registry
from api.crd import definition
from api.errors import ApiError
from api.registry import RESOURCES, ResourceInfo
from apiserver import openapi
from apiserver.ids import now_rfc3339
from apiserver.objects import ObjectService, WriteOptions, store_key
from apiserver.store import Event, Store

log = logging.getLogger("kubelab.apiserver.crds")

_CRDS = registry.by_plural(definition.GROUP, "customresourcedefinitions")
assert _CRDS is not None
CRDS: ResourceInfo = _CRDS
CRD_KEY = store_key(CRDS)
Obj = dict[str, Any]


def _condition(ctype: str, status: str, reason: str, message: str, old: list[Obj]) -> Obj:
    prev = next((c for c in old if c.get("type") == ctype), None)
    since = (
        prev.get("lastTransitionTime")
        if prev and prev.get("status") == status and prev.get("lastTransitionTime")
        else now_rfc3339()
    )
    return {
        "type": ctype,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def wanted_status(crd: Obj, conflict: str) -> Obj:
    """The CRD's status as Kubernetes' naming and establishing controllers write it."""
    old = (crd.get("status") or {}).get("conditions") or []
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    conds: list[Obj] = []
    if conflict:
        conds.append(_condition("NamesAccepted", "False", "NameConflict", conflict, old))
        conds.append(
            _condition("Established", "False", "NotAccepted", "not all names are accepted", old)
        )
        accepted: Obj = {}
    else:
        conds.append(_condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old))
        conds.append(
            _condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                old,
            )
        )
        accepted = names
    if (crd.get("metadata") or {}).get("deletionTimestamp"):
        conds.append(
            _condition(
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                old,
            )
        )
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    for v in spec.get("versions") or []:
        if isinstance(v, dict) and v.get("storage") and v.get("name") not in stored:
            stored.append(v["name"])
    return {"conditions": conds, "acceptedNames": accepted, "storedVersions": stored}


class CustomResources:
    """Keeps ``api.registry``'s overlay and ``ObjectService.custom_kinds`` equal to the
    stored, accepted CRDs, and their status and clean-up going."""

    def __init__(self, store: Store, objects: ObjectService) -> None:
        self.store = store
        self.objects = objects
        self.conflicts: dict[str, str] = {}  # CRD name -> why its names are not accepted
        self.accepted: set[str] = set()  # CRD names served
        self._tasks: set[asyncio.Task[None]] = set()
        self._terminating: dict[tuple[str, str], str] = {}  # store key of objects -> CRD name

    def start(self) -> None:
        self.refresh()
        self.store.add_listener(self._on_events)
        for name in self._names():
            self._schedule(name)

    def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()

    def _crds(self) -> list[Obj]:
        _, rows = self.store.list_raw(CRD_KEY, None)
        crds = [orjson.loads(r) for r in rows]

        # First come, first served: a CRD whose names were accepted keeps them (known here,
        # or in its status after a restart), then the older ones.
        def order(c: Obj) -> tuple[bool, str, str]:
            name = c["metadata"]["name"]
            kept = name in self.accepted or bool((c.get("status") or {}).get("acceptedNames"))
            return (not kept, c["metadata"].get("creationTimestamp") or "", name)

        crds.sort(key=order)
        return crds

    def _names(self) -> list[str]:
        return [c["metadata"]["name"] for c in self._crds()]

    def refresh(self) -> None:
        """Rebuild what is served from the stored CRDs."""
        accepted: list[Obj] = []
        conflicts: dict[str, str] = {}
        kinds: dict[tuple[str, str], definition.CustomKind] = {}
        infos: list[ResourceInfo] = []
        terminating: dict[tuple[str, str], str] = {}
        for crd in self._crds():
            name = crd["metadata"]["name"]
            why = definition.names_conflict(crd, accepted, list(RESOURCES))
            if why:
                conflicts[name] = why
                continue
            accepted.append(crd)
            try:
                ck = definition.parse(crd)
            except Exception:  # stored before a check existed: not served, logged
                log.exception("CRD %s cannot be served", name)
                continue
            kinds[(ck.group, ck.plural)] = ck
            infos.extend(ck.infos())
            if crd["metadata"].get("deletionTimestamp"):
                terminating[(ck.group, ck.plural)] = name
        self.conflicts = conflicts
        self.accepted = {c["metadata"]["name"] for c in accepted}
        self._terminating = terminating
        self.objects.custom_kinds = kinds
        openapi.custom_schemas = {
            (ck.group, v.name, ck.kind): v.schema.schema
            for ck in kinds.values()
            for v in ck.versions.values()
            if v.schema is not None
        }
        registry.set_custom(infos)

    def _on_events(self, events: list[Event]) -> None:
        touched = {e.name for e in events if e.resource == CRD_KEY}
        if touched:
            self.refresh()
            for name in touched:
                self._schedule(name)
        for e in events:
            group, _, plural = e.resource.partition("/")
            crd = self._terminating.get((group, plural))
            if crd is not None and e.type == "DELETED":
                self._schedule(crd)

    def _schedule(self, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._reconcile(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile(self, name: str) -> None:
        try:
            await self._reconcile_once(name)
        except ApiError as exc:
            if exc.code not in (404, 409):
                log.warning("CRD %s: %s", name, exc)
        except Exception:
            log.exception("CRD %s: reconcile failed", name)

    async def _reconcile_once(self, name: str) -> None:
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            return
        status = wanted_status(crd, self.conflicts.get(name, ""))
        opts = WriteOptions(field_validation="Ignore")
        if status != crd.get("status"):

            def set_status(cur: Obj) -> Obj:
                cur["status"] = wanted_status(cur, self.conflicts.get(name, ""))
                return cur

            await self.objects.patch(CRDS, name, None, set_status, opts, subresource="status")
        if crd["metadata"].get("deletionTimestamp"):
            await self._clean_up(crd, opts)

    async def _clean_up(self, crd: Obj, opts: WriteOptions) -> None:
        """Delete every object of a deleted CRD; once none is left, let the CRD go."""
        spec = crd.get("spec") or {}
        group = str(spec.get("group") or "")
        plural = str((spec.get("names") or {}).get("plural") or "")
        info = registry.by_plural(group, plural)
        left = 0
        if info is not None and info.custom:
            _, rows = self.store.list_raw(store_key(info), None)
            for raw in rows:
                meta = orjson.loads(raw)["metadata"]
                left += 1
                if meta.get("deletionTimestamp"):
                    continue  # its own finalizers hold it; its DELETED event brings us back
                try:
                    await self.objects.delete(info, meta["name"], meta.get("namespace"), opts)
                except ApiError as exc:
                    if exc.code != 404:
                        raise
            _, rows = self.store.list_raw(store_key(info), None)
            left = len(rows)
        if left:
            return
        name = crd["metadata"]["name"]

        def drop_finalizer(cur: Obj) -> Obj:
            fins = [
                f
                for f in cur["metadata"].get("finalizers") or []
                if f != definition.CLEANUP_FINALIZER
            ]
            cur["metadata"]["finalizers"] = fins
            return cur

        await self.objects.patch(CRDS, name, None, drop_finalizer, opts)
