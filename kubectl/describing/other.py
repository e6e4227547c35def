"""Describe pages of Services, ConfigMaps, Secrets, and every other kind (generic)."""

from __future__ import annotations

import base64
from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import header, raw_section
from kubectl.describing.writer import NONE, Page
from kubectl.printers.columns import endpoints_text, format_labels


def describe_service(
    page: Page, svc: dict[str, Any], info: ResourceInfo, endpoints: dict[str, Any] | None
) -> None:
    spec = svc.get("spec") or {}
    header(page, svc, info, with_created=False)
    page.kv(0, "Selector", format_labels(spec.get("selector")))
    page.kv(0, "Type", spec.get("type") or "ClusterIP")
    page.kv(0, "IP Families", ",".join(spec.get("ipFamilies") or []) or NONE)
    page.line(0, "IP:", spec.get("clusterIP") or "")
    page.kv(0, "IPs", ",".join(spec.get("clusterIPs") or []) or NONE)
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        page.kv(0, "Port", f"{p.get('name') or '<unset>'}  {p.get('port')}/{proto}")
        target = p.get("targetPort", p.get("port"))
        page.kv(0, "TargetPort", f"{target}/{proto}")
        if p.get("nodePort"):
            page.kv(0, "NodePort", f"{p.get('name') or '<unset>'}  {p['nodePort']}/{proto}")
        page.kv(0, "Endpoints", endpoints_text(endpoints, limit=1 << 30) if endpoints else NONE)
    page.kv(0, "Session Affinity", spec.get("sessionAffinity") or "None")


def describe_configmap(page: Page, cm: dict[str, Any], info: ResourceInfo) -> None:
    header(page, cm, info, with_created=False)
    page.line(0, "")
    page.line(0, "Data")
    page.line(0, "====")
    for k, v in sorted((cm.get("data") or {}).items()):
        page.line(0, f"{k}:")
        page.line(0, "----")
        for line in str(v).splitlines() or [""]:
            page.line(0, line)
        page.line(0, "")
    page.line(0, "")
    page.line(0, "BinaryData")
    page.line(0, "====")
    for k, v in sorted((cm.get("binaryData") or {}).items()):
        page.line(0, f"{k}: {len(base64.b64decode(v))} bytes")
    page.line(0, "")


def describe_secret(page: Page, s: dict[str, Any], info: ResourceInfo) -> None:
    header(page, s, info, with_created=False)
    page.line(0, "")
    page.kv(0, "Type", s.get("type") or "Opaque")
    page.line(0, "")
    page.line(0, "Data")
    page.line(0, "====")
    for k, v in sorted((s.get("data") or {}).items()):
        try:
            n = len(base64.b64decode(v))
        except ValueError:
            n = len(str(v))
        page.line(0, f"{k}:", f"{n} bytes")


def describe_generic(page: Page, obj: dict[str, Any], info: ResourceInfo) -> None:
    header(page, obj, info)
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        label = key[0].upper() + key[1:]
        if isinstance(value, dict | list):
            raw_section(page, 0, label, value)
        else:
            page.kv(0, label, value)
