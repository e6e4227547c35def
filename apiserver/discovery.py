"""API discovery documents (``/api``, ``/apis``, ``/api/v1``, ``/apis/{g}/{v}``, ``/version``).

Everything here is derived from ``api.registry.RESOURCES``, so a kind added to the
registry is advertised without touching this module. The shapes follow what
kube-apiserver v1.35 serves and what kubectl and the Python client read
(API-COMPAT §2, Appendix A). Pure functions: the app serialises the dicts.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from api.registry import ResourceInfo, all_resources

KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "35"
GIT_VERSION = f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0+kubelab"

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


# How each subresource is described: (kind, group, version, verbs). ``None`` for kind
# means "the parent's kind"; ``None`` for group/version means "the parent's".
_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, tuple[str, ...]]] = {
    "status": (None, None, None, ("get", "patch", "update")),
    "scale": ("Scale", "autoscaling", "v1", ("get", "patch", "update")),
    "binding": ("Binding", None, None, ("create",)),
    "eviction": ("Eviction", "policy", "v1", ("create",)),
    "log": (None, None, None, ("get",)),
    "exec": ("PodExecOptions", None, None, ("create", "get")),
    "attach": ("PodAttachOptions", None, None, ("create", "get")),
    "portforward": ("PodPortForwardOptions", None, None, ("create", "get")),
    "finalize": (None, None, None, ("update",)),
    "ephemeralcontainers": (None, None, None, ("get", "patch", "update")),
    "token": ("TokenRequest", "authentication.k8s.io", "v1", ("create",)),
    # GET only: the node's kubelet's /metrics/resource and /healthz (apiserver/pods.py).
    "proxy": ("NodeProxyOptions", None, None, ("get",)),
}


def _subresource_kind(r: ResourceInfo, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(kind, group, version, verbs) of ``r/sub``."""
    kind, group, version, verbs = _SUBRESOURCES.get(sub, (None, None, None, ("get",)))
    return (
        kind or r.kind,
        r.group if group is None else group,
        r.version if version is None else version,
        verbs,
    )


# Groups that serve only subresources (``pods/gpu_utilization``): as an adapter's
# discovery lists them, without the bare ``pods`` a get or list would not answer, so
# ``kubectl api-resources`` shows none of them (apiserver/custom_metrics_api.py).
SUBRESOURCES_ONLY = frozenset({"custom.metrics.k8s.io"})


def _group_versions() -> dict[tuple[str, str], list[ResourceInfo]]:
    """Resources keyed by (group, version), in registry order."""
    out: dict[tuple[str, str], list[ResourceInfo]] = {}
    for r in all_resources():  # custom kinds too, the moment their CRD is stored
        out.setdefault((r.group, r.version), []).append(r)
    return out


def version_info() -> dict[str, str]:
    """The ``/version`` body: every field the Python client's VersionInfo requires."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine or "unknown")
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "emulationMajor": KUBERNETES_MAJOR,
        "emulationMinor": KUBERNETES_MINOR,
        "minCompatibilityMajor": KUBERNETES_MAJOR,
        "minCompatibilityMinor": str(int(KUBERNETES_MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "kubelab",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "compiler": "cpython",
        "platform": f"{sys.platform}/{arch}",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """The ``/api`` body (legacy discovery of the core group).

    ``server_address`` is ``host:port`` as clients should reach this server.
    """
    return {
        "kind": "APIVersions",
        "versions": sorted({r.version for r in all_resources() if not r.group}),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list() -> dict[str, Any]:
    """The ``/apis`` body (legacy discovery): one APIGroup per named group."""
    groups: dict[str, list[str]] = {}
    for group, version in _group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    items = []
    for name, versions in groups.items():
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        items.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The ``/api/v1`` or ``/apis/{group}/{version}`` body, or None for an unknown group/version.

    Subresources are separate entries (``pods/status``, ``pods/eviction``...), each
    with ``singularName`` (empty, as upstream) because the Python client requires the
    field. ``pods/eviction`` names group ``policy``/``v1`` and kind ``Eviction``:
    that is how ``kubectl drain`` decides to evict instead of delete.
    """
    resources = _group_versions().get((group, version))
    if resources is None:
        return None
    entries: list[dict[str, Any]] = []
    for r in resources:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.group not in SUBRESOURCES_ONLY:
            entries.append(entry)
        for sub in r.subresources:
            kind, sub_group, sub_version, verbs = _subresource_kind(r, sub)
            sub_entry: dict[str, Any] = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            # Upstream names group/version only where they differ from the list's.
            if (sub_group, sub_version) != (group, version):
                sub_entry["group"] = sub_group
                sub_entry["version"] = sub_version
            entries.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def _discovery_resource(r: ResourceInfo) -> dict[str, Any]:
    """One APIResourceDiscovery (aggregated discovery, apidiscovery.k8s.io/v2)."""
    out: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    if r.group in SUBRESOURCES_ONLY:
        # A parent with no responseKind: clients keep its subresources and drop it, as
        # kube-apiserver presents an aggregated adapter's subresource-only list.
        del out["responseKind"]
        out["verbs"] = []
    subs = []
    for sub in r.subresources:
        kind, sub_group, sub_version, verbs = _subresource_kind(r, sub)
        subs.append(
            {
                "subresource": sub,
                "responseKind": {"group": sub_group, "version": sub_version, "kind": kind},
                "verbs": list(verbs),
            }
        )
    if subs:
        out["subresources"] = subs
    return out


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """The aggregated ``/api`` (``core=True``) or ``/apis`` body.

    Serve it with ``Content-Type: AGGREGATED_CONTENT_TYPE`` when the Accept header
    asks for it (see ``wants_aggregated``); kubectl then needs no other discovery call.
    """
    by_group: dict[str, list[dict[str, Any]]] = {}
    for (group, version), resources in _group_versions().items():
        if bool(group) == core:
            continue
        by_group.setdefault(group, []).append(
            {
                "version": version,
                "resources": [_discovery_resource(r) for r in resources],
                "freshness": "Current",
            }
        )
    items = [
        {"metadata": {"name": group, "creationTimestamp": None}, "versions": versions}
        for group, versions in by_group.items()
    ]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str | None) -> bool:
    """True when an Accept header lists aggregated discovery v2 as acceptable."""
    if not accept:
        return False
    for media in accept.split(","):
        params = {p.strip() for p in media.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False
