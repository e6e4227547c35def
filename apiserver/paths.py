"""Turn a Kubernetes REST path into what it addresses."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import ApiError
from api.registry import ResourceInfo, by_plural, by_version_plural


@dataclass(frozen=True)
class Target:
    """What a resource path names: a collection, one object, or one of its subresources."""

    info: ResourceInfo
    namespace: str | None  # None: cluster-scoped, or a list across all namespaces
    name: str = ""
    subresource: str = ""
    proxy_path: str = ""  # nodes/NAME/proxy/PATH: the PATH on the node's kubelet


def _unknown(group: str, version: str, res: str) -> ApiError:
    gv = f"{group}/{version}" if group else version
    return ApiError(
        404,
        f'the server could not find the requested resource "{res}" in {gv}: '
        "see `kl api-resources` for what kubelab serves",
        "NotFound",
        kind=res,
        group=group,
    )


def parse_resource_path(path: str) -> Target | None:
    """Parse ``/api/v1/...`` or ``/apis/G/V/...``; None if it is not a resource path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    ns_info = by_plural("", "namespaces")
    if (
        rest[0] == "namespaces"
        and len(rest) == 3
        and ns_info is not None
        and rest[2] in ns_info.subresources
        and not group
    ):
        # /api/v1/namespaces/NAME/status|finalize: a subresource of the namespace itself.
        return _target(ns_info, None, rest[1:], group, version)
    if rest[0] == "namespaces" and len(rest) >= 3:
        info = by_version_plural(group, version, rest[2]) or by_plural(group, rest[2])
        if info is None or not info.namespaced:
            raise _unknown(group, version, rest[2])
        return _target(info, rest[1], rest[3:], group, version)
    info = by_version_plural(group, version, rest[0]) or by_plural(group, rest[0])
    if info is None:
        raise _unknown(group, version, rest[0])
    return _target(info, None, rest[1:], group, version)


def _target(
    info: ResourceInfo, ns: str | None, rest: list[str], group: str, version: str
) -> Target:
    if version != info.version:
        raise _unknown(group, version, info.plural)
    name = rest[0] if rest else ""
    sub = rest[1] if len(rest) > 1 else ""
    if sub == "proxy" and sub in info.subresources:
        return Target(info, ns, name, sub, "/".join(rest[2:]))
    if len(rest) > 2:
        raise ApiError(404, f"the path has too many parts after {info.plural}/{name}", "NotFound")
    if sub and sub not in info.subresources:
        raise ApiError(
            404,
            f'{info.plural} have no subresource "{sub}"; they have: '
            f"{', '.join(info.subresources) or 'none'}",
            "NotFound",
        )
    return Target(info, ns, name, sub)
