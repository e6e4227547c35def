"""How kubectl names a resource in its messages: ``pod/web``, ``deployment.apps/web``."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo, by_kind, lookup


def kind_prefix(info: ResourceInfo) -> str:
    """``deployment.apps`` for apps/v1 Deployments, ``pod`` for core Pods."""
    return f"{info.singular}.{info.group}" if info.group else info.singular


def plural_prefix(info: ResourceInfo) -> str:
    """``deployments.apps`` / ``pods``: how API error messages name a kind."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


def info_for(obj: dict[str, Any]) -> ResourceInfo | None:
    """The registry entry of an object, from its apiVersion and kind."""
    info = by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if info is None and obj.get("kind"):
        info = lookup(str(obj["kind"]))
    return info


def object_name(obj: dict[str, Any], info: ResourceInfo | None = None) -> str:
    """``deployment.apps/web``: the ``-o name`` form and the prefix of kubectl's messages."""
    info = info or info_for(obj)
    name = (obj.get("metadata") or {}).get("name", "")
    if info is None:
        return f"{str(obj.get('kind', '')).lower()}/{name}"
    return f"{kind_prefix(info)}/{name}"


def quoted_name(info: ResourceInfo, name: str) -> str:
    """``deployment.apps "web"``: how delete names what it removed."""
    return f'{kind_prefix(info)} "{name}"'
