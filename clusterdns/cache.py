"""The zone kept current from the API: one informer for Services, one for Endpoints
(client/informer.py's list + watch), and each change of either re-deriving the records
of that one Service. Queries never reach the API; they read the zone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from client.aio import AsyncClient
from client.core import object_key
from client.informer import Informer
from clusterdns.records import service_name, service_records
from clusterdns.zone import Zone

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def slim_endpoints(obj: Obj) -> Obj:
    """Only what the records are made of (the informer's transform): a big cluster's
    Endpoints carry targetRefs, labels and managedFields the DNS never reads."""
    meta = obj.get("metadata") or {}
    return {
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "resourceVersion", "uid") if k in meta
        },
        "subsets": [
            {
                "addresses": [
                    {k: a[k] for k in ("ip", "hostname") if k in a}
                    for a in s.get("addresses") or []
                ],
                "ports": s.get("ports") or [],
            }
            for s in obj.get("subsets") or []
        ],
    }


class ZoneCache:
    """Services and Endpoints informers feeding ``zone``."""

    def __init__(self, client: AsyncClient, zone: Zone) -> None:
        self.zone = zone
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints", transform=slim_endpoints)
        for inf in (self.services, self.endpoints):
            inf.add_handler(self._changed, lambda _old, new: self._changed(new), self._changed)
        self._tasks: list[asyncio.Task[None]] = []

    def _changed(self, obj: Obj) -> None:
        self.refresh(object_key(obj))

    def refresh(self, key: str) -> None:
        """Re-derive the records of Service ``key`` from the cached objects."""
        svc = self.services.get(key)
        if svc is None:
            self.zone.drop(key)
            return
        rrs = service_records(svc, self.endpoints.get(key), self.zone.domain, self.zone.ttl)
        self.zone.set_records(key, rrs, exists=[service_name(svc, self.zone.domain)])

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(inf.run(), name=f"dns-informer-{inf.resource.plural}")
            for inf in (self.services, self.endpoints)
        ]

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(
            asyncio.gather(self.services.wait_synced(), self.endpoints.wait_synced()), timeout
        )

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
