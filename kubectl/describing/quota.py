"""``kl describe quota`` and ``kl describe limitrange``, line for line as kubectl's
ResourceQuotaDescriber and LimitRangeDescriber."""

from __future__ import annotations

from typing import Any

from api.quantity import bytes_value, format_quantity
from api.quota import status_rows
from api.registry import ResourceInfo
from kubectl.describing.common import header, meta_of
from kubectl.describing.writer import Page

_BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited "
    "lifespan on a node before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually "
    "include long running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have "
    "a best effort quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These "
    "pods have a burstable or guaranteed quality of service.",
}


def _binary(text: str) -> bool:
    return text.endswith(_BINARY_SUFFIXES)


def used_as_hard(used: str, hard: str) -> str:
    """kubectl shows the used amount in the hard amount's format (binary or decimal SI)
    when the two differ, as a whole number."""
    if _binary(used) == _binary(hard):
        return used
    try:
        return format_quantity(bytes_value(used), binary=_binary(hard))
    except ValueError:
        return used


def describe_resource_quota(page: Page, quota: dict[str, Any], info: ResourceInfo) -> None:
    m = meta_of(quota)
    page.line(0, "Name:", m.get("name") or "")
    page.line(0, "Namespace:", m.get("namespace") or "")
    scopes = sorted(str(s) for s in (quota.get("spec") or {}).get("scopes") or [])
    if scopes:
        page.line(0, "Scopes:", ", ".join(scopes))
        for s in scopes:
            if s in SCOPE_HELP:
                page.line(0, f" * {SCOPE_HELP[s]}")
    page.line(0, "Resource", "Used", "Hard")
    page.line(0, "--------", "----", "----")
    for name, used, hard in status_rows(quota):
        page.line(0, name, used_as_hard(used, hard), hard)


_LIMIT_HEADERS = [
    "Type",
    "Resource",
    "Min",
    "Max",
    "Default Request",
    "Default Limit",
    "Max Limit/Request Ratio",
]
_LIMIT_FIELDS = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")


def _limit_rows(page: Page, lr: dict[str, Any], prefix: str) -> None:
    """describeLimitRangeSpec: one line per item and resource, ``-`` where unset."""
    for item in (lr.get("spec") or {}).get("limits") or []:
        names = sorted({k for f in _LIMIT_FIELDS for k in (item.get(f) or {})})
        for name in names:
            cells = [str((item.get(f) or {}).get(name, "-")) for f in _LIMIT_FIELDS]
            page.line(0, f"{prefix}{item.get('type') or ''}", name, *cells)


def describe_limit_range(page: Page, lr: dict[str, Any], info: ResourceInfo) -> None:
    m = meta_of(lr)
    page.line(0, "Name:", m.get("name") or "")
    page.line(0, "Namespace:", m.get("namespace") or "")
    page.line(0, *_LIMIT_HEADERS)
    page.line(0, *("-" * len(h) for h in _LIMIT_HEADERS))
    _limit_rows(page, lr, "")


def describe_namespace(
    page: Page,
    ns: dict[str, Any],
    info: ResourceInfo,
    quotas: list[dict[str, Any]],
    limit_ranges: list[dict[str, Any]],
) -> None:
    """kubectl's NamespaceDescriber: status, then the namespace's quotas and limits."""
    header(page, ns, info, with_created=False)
    page.kv(0, "Status", (ns.get("status") or {}).get("phase") or "Active")
    page.line(0, "")
    if not quotas:
        page.line(0, "No resource quota.")
    else:
        page.line(0, "Resource Quotas")
        for q in sorted(quotas, key=lambda q: str(meta_of(q).get("name"))):
            page.line(1, "Name:", meta_of(q).get("name") or "")
            scopes = sorted(str(s) for s in (q.get("spec") or {}).get("scopes") or [])
            if scopes:
                page.line(1, "Scopes:", ", ".join(scopes))
                for s in scopes:
                    if s in SCOPE_HELP:
                        page.line(1, f"* {SCOPE_HELP[s]}")
            page.line(1, "Resource", "Used", "Hard")
            page.line(1, "--------", "---", "---")
            for name, used, hard in status_rows(q):
                page.line(1, name, used, hard)
    page.line(0, "")
    if not limit_ranges:
        page.line(0, "No LimitRange resource.")
        return
    page.line(0, "Resource Limits")
    page.line(0, *[f" {_LIMIT_HEADERS[0]}", *_LIMIT_HEADERS[1:]])
    page.line(0, *[" ----", *("-" * len(h) for h in _LIMIT_HEADERS[1:])])
    for lr in limit_ranges:
        _limit_rows(page, lr, " ")
