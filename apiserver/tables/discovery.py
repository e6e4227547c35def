"""EndpointSlice columns, as kubectl shows them (upstream printEndpointSlice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.format import AGE_COL, NAME_COL, Column, Obj, age_cell, col, obj_name

ENDPOINT_SLICE_COLUMNS: list[Column] = [
    NAME_COL,
    col("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
    col("Ports", "ports specifies the list of network ports exposed by each endpoint."),
    col("Endpoints", "endpoints is a list of unique endpoints in this slice."),
    AGE_COL,
]
_SHOWN = 3


def _list_with_more(items: list[str], count: int) -> str:
    """``listWithMoreString``: three items, then `` + N more...``; ``<unset>`` for none."""
    text = ",".join(items[:_SHOWN])
    if count > _SHOWN:
        return f"{text} + {count - _SHOWN} more..."
    return text or "<unset>"


def format_discovery_ports(ports: list[Any]) -> str:
    """Each port's number, else its name, else ``*``."""
    shown = []
    for p in ports:
        p = p if isinstance(p, dict) else {}
        shown.append(str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*"))
    return _list_with_more(shown, len(shown))


def format_discovery_endpoints(endpoints: list[Any]) -> str:
    """Every address of every endpoint."""
    shown = [str(a) for ep in endpoints if isinstance(ep, dict) for a in ep.get("addresses") or []]
    return _list_with_more(shown, len(shown))


def endpoint_slice_cells(es: Obj, now: datetime) -> list[Any]:
    return [
        obj_name(es),
        str(es.get("addressType") or ""),
        format_discovery_ports(es.get("ports") or []),
        format_discovery_endpoints(es.get("endpoints") or []),
        age_cell(es, now),
    ]
