"""The describe page of an EndpointSlice, as kubectl's describeEndpointSliceV1 lays it out."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import header
from kubectl.describing.writer import Page

UNSET = "<unset>"


def _text(value: Any) -> str:
    if value is None or value == "":
        return UNSET
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe_endpoint_slice(page: Page, es: dict[str, Any], info: ResourceInfo) -> None:
    header(page, es, info, with_created=False)
    page.kv(0, "AddressType", es.get("addressType"))
    ports = [p for p in es.get("ports") or [] if isinstance(p, dict)]
    if not ports:
        page.line(0, f"Ports: {UNSET}")
    else:
        page.line(0, "Ports:")
        page.table(
            1,
            ["Name", "Port", "Protocol"],
            [[_text(p.get("name")), _text(p.get("port")), _text(p.get("protocol"))] for p in ports],
        )
    endpoints = [e for e in es.get("endpoints") or [] if isinstance(e, dict)]
    if not endpoints:
        page.line(0, "Endpoints: <none>")
        return
    page.line(0, "Endpoints:")
    for ep in endpoints:
        page.line(1, "- Addresses:", ",".join(str(a) for a in ep.get("addresses") or []))
        page.line(2, "Conditions:")
        page.line(3, "Ready:", _text((ep.get("conditions") or {}).get("ready")))
        page.line(2, "Hostname:", _text(ep.get("hostname")))
        ref = ep.get("targetRef")
        if isinstance(ref, dict):
            page.line(2, "TargetRef:", f"{ref.get('kind')}/{ref.get('name')}")
        page.line(2, "NodeName:", _text(ep.get("nodeName")))
        page.line(2, "Zone:", _text(ep.get("zone")))
