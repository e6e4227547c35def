"""EndpointSlice columns, as kubectl shows them (upstream printEndpointSlice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.endpointslices import format_endpoints, format_ports
from apiserver.tables.format import AGE_COL, NAME_COL, Column, Obj, age_cell, col, obj_name

ENDPOINT_SLICE_COLUMNS: list[Column] = [
    NAME_COL,
    col("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
    col("Ports", "ports specifies the list of network ports exposed by each endpoint."),
    col("Endpoints", "endpoints is a list of unique endpoints in this slice."),
    AGE_COL,
]


def endpoint_slice_cells(es: Obj, now: datetime) -> list[Any]:
    return [
        obj_name(es),
        str(es.get("addressType") or ""),
        format_ports(es.get("ports") or []),
        format_endpoints(es.get("endpoints") or []),
        age_cell(es, now),
    ]
