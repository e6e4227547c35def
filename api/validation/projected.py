"""A ``projected`` volume's sources, as the kubelet writes them (kubelet/volume_projected.py):
serviceAccountToken, configMap, secret and downwardAPI (pod fields). Kubernetes' other
sources (clusterTrustBundle, podCertificate) and downwardAPI's resourceFieldRef are refused
with the field named, never accepted and left out of the volume."""

from __future__ import annotations

import re
from typing import Any

from api.validation.common import Errs, as_dict, forbidden, invalid, required

PROJECTED_SOURCES = ("serviceAccountToken", "configMap", "secret", "downwardAPI")
MIN_TOKEN_SECONDS = 600
# Pod fields a downwardAPI volume may project (Kubernetes' list for volumes).
DOWNWARD_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
)
_KEYED = re.compile(r"^metadata\.(labels|annotations)\['[^']*'\]$")


def _check_path(errs: Errs, field: str, path: Any) -> None:
    if not isinstance(path, str) or not path:
        required(errs, field, "name the file inside the volume")
    elif path.startswith("/") or ".." in path.split("/"):
        invalid(errs, field, path, "must be a relative path without '..'")


def _check_downward(errs: Errs, field: str, source: dict[str, Any]) -> None:
    for i, item in enumerate(source.get("items") or []):
        f = f"{field}.items[{i}]"
        item = as_dict(item)
        _check_path(errs, f"{f}.path", item.get("path"))
        if item.get("resourceFieldRef") is not None:
            forbidden(errs, f"{f}.resourceFieldRef", "use a fieldRef (pod metadata) instead")
        path = as_dict(item.get("fieldRef")).get("fieldPath")
        if path not in DOWNWARD_FIELDS and not (isinstance(path, str) and _KEYED.match(path)):
            invalid(errs, f"{f}.fieldRef.fieldPath", path,
                    f"supported values: {', '.join(DOWNWARD_FIELDS)}")  # fmt: skip


def check_projected(errs: Errs, field: str, projected: Any) -> None:
    """Every source of a projected volume: one supported kind each, its fields checked."""
    p = as_dict(projected)
    for i, src in enumerate(p.get("sources") or []):
        f = f"{field}.sources[{i}]"
        kinds = [k for k, v in as_dict(src).items() if v is not None]
        if len(kinds) != 1:
            invalid(errs, f, kinds, f"exactly one of {', '.join(PROJECTED_SOURCES)} per source")
            continue
        kind = kinds[0]
        if kind not in PROJECTED_SOURCES:
            forbidden(errs, f"{f}.{kind}",
                      f"{kind} sources are not supported; use {', '.join(PROJECTED_SOURCES)}")  # fmt: skip
            continue
        source = as_dict(src[kind])
        if kind == "serviceAccountToken":
            _check_path(errs, f"{f}.serviceAccountToken.path", source.get("path"))
            seconds = source.get("expirationSeconds")
            if seconds is not None and (
                not isinstance(seconds, int)
                or isinstance(seconds, bool)
                or seconds < MIN_TOKEN_SECONDS
            ):
                invalid(errs, f"{f}.serviceAccountToken.expirationSeconds", seconds,
                        "may not specify a duration less than 10 minutes")  # fmt: skip
        elif kind == "downwardAPI":
            _check_downward(errs, f"{f}.downwardAPI", source)
        elif kind == "configMap" and not source.get("name"):
            required(errs, f"{f}.configMap.name", "name the ConfigMap")
        elif kind == "secret" and not source.get("name"):
            required(errs, f"{f}.secret.name", "name the Secret")
