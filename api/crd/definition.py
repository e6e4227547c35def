"""What a CustomResourceDefinition declares: its names, scope and versions (each with its
schema, subresources and printer columns), the checks Kubernetes makes on a CRD, the
names-accepted decision, and the ``ResourceInfo`` rows it adds to ``api.registry``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from api.crd.schema import StructuralSchema, schema_problems
from api.errors import Cause
from api.registry import ResourceInfo

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True)
class Scale:
    spec_replicas: str
    status_replicas: str
    label_selector: str = ""


@dataclass
class CustomVersion:
    name: str
    served: bool
    storage: bool
    schema: StructuralSchema | None
    status: bool = False
    scale: Scale | None = None
    columns: tuple[PrinterColumn, ...] = ()


@dataclass
class CustomKind:
    """One CRD, parsed: everything the apiserver needs to serve its objects."""

    name: str
    group: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    list_kind: str
    versions: dict[str, CustomVersion] = field(default_factory=dict)

    @property
    def storage_version(self) -> str:
        return next(v.name for v in self.versions.values() if v.storage)

    def served_versions(self) -> list[str]:
        """Served version names, most preferred first (Kubernetes' version priority)."""
        return sorted((v.name for v in self.versions.values() if v.served), key=version_priority)

    def infos(self) -> list[ResourceInfo]:
        """One registry row per served version, the preferred one first."""
        out = []
        for name in self.served_versions():
            v = self.versions[name]
            subs = tuple(s for s, on in (("status", v.status), ("scale", v.scale)) if on)
            out.append(
                ResourceInfo(
                    self.group,
                    name,
                    self.kind,
                    self.plural,
                    self.singular,
                    self.namespaced,
                    self.short_names,
                    self.categories,
                    subresources=subs,
                    custom=True,
                )
            )
        return out


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Kubernetes' order of versions: GA before beta before alpha, higher numbers first,
    anything else after, alphabetically."""
    m = _VERSION.match(name)
    if m is None:
        return (3, 0, 0, name)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), name)


def _columns(raw: Any) -> tuple[PrinterColumn, ...]:
    out = []
    for c in raw or []:
        if isinstance(c, dict):
            out.append(
                PrinterColumn(
                    str(c.get("name") or ""),
                    str(c.get("type") or "string"),
                    str(c.get("jsonPath") or ""),
                    str(c.get("description") or ""),
                    str(c.get("format") or ""),
                    int(c.get("priority") or 0),
                )
            )
    return tuple(out)


def parse(crd: dict[str, Any]) -> CustomKind:
    """The CRD as a CustomKind (call :func:`problems` first: this assumes it is valid)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names.get("kind") or "")
    ck = CustomKind(
        name=str((crd.get("metadata") or {}).get("name") or ""),
        group=str(spec.get("group") or ""),
        kind=kind,
        plural=str(names.get("plural") or ""),
        singular=str(names.get("singular") or kind.lower()),
        namespaced=spec.get("scope") != "Cluster",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        list_kind=str(names.get("listKind") or f"{kind}List"),
    )
    for v in spec.get("versions") or []:
        subs = v.get("subresources") or {}
        scale = subs.get("scale")
        raw_schema = (v.get("schema") or {}).get("openAPIV3Schema")
        ck.versions[str(v["name"])] = CustomVersion(
            name=str(v["name"]),
            served=bool(v.get("served")),
            storage=bool(v.get("storage")),
            schema=StructuralSchema(raw_schema) if isinstance(raw_schema, dict) else None,
            status="status" in subs,
            scale=Scale(
                str(scale.get("specReplicasPath") or ""),
                str(scale.get("statusReplicasPath") or ""),
                str(scale.get("labelSelectorPath") or ""),
            )
            if isinstance(scale, dict)
            else None,
            columns=_columns(v.get("additionalPrinterColumns")),
        )
    return ck


def default_crd(crd: dict[str, Any]) -> None:
    """Kubernetes' defaults of a CRD: singular and listKind from the kind, the conversion
    strategy None, and the clean-up finalizer that keeps it until its objects are gone."""
    spec = crd.setdefault("spec", {})
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    if isinstance(spec, dict):
        spec.setdefault("conversion", {"strategy": "None"})
    meta = crd.setdefault("metadata", {})
    if isinstance(meta, dict) and not meta.get("deletionTimestamp"):
        fins = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in fins:
            meta["finalizers"] = [*fins, CLEANUP_FINALIZER]


def problems(crd: dict[str, Any]) -> list[Cause]:
    """Every reason Kubernetes would refuse this CRD (with kubelab's own limits: no CEL,
    no conversion webhook), as Causes naming the field."""
    errs: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [Cause("spec", "Required value", "FieldValueRequired")]
    group = spec.get("group")
    raw_names = spec.get("names")
    names: dict[str, Any] = raw_names if isinstance(raw_names, dict) else {}
    plural = names.get("plural")
    if not isinstance(group, str) or not group:
        errs.append(Cause("spec.group", "Required value", "FieldValueRequired"))
    elif "." not in group or not _DNS_SUBDOMAIN.match(group):
        errs.append(
            Cause(
                "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'
            )
        )
    for key in ("plural", "singular"):
        value = names.get(key)
        if key == "plural" and not value:
            errs.append(Cause("spec.names.plural", "Required value", "FieldValueRequired"))
        elif value and (not isinstance(value, str) or not _DNS_LABEL.match(value)):
            errs.append(
                Cause(
                    f"spec.names.{key}",
                    f"Invalid value: \"{value}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                )
            )
    kind = names.get("kind")
    if not kind:
        errs.append(Cause("spec.names.kind", "Required value", "FieldValueRequired"))
    elif not isinstance(kind, str) or not _KIND.match(kind):
        errs.append(
            Cause(
                "spec.names.kind",
                f'Invalid value: "{kind}": must be a valid kind (letters and digits)',
            )
        )
    for sn in names.get("shortNames") or []:
        if not isinstance(sn, str) or not _DNS_LABEL.match(sn):
            errs.append(
                Cause("spec.names.shortNames", f'Invalid value: "{sn}": a lowercase RFC 1123 label')
            )
    name = (crd.get("metadata") or {}).get("name")
    if plural and group and name != f"{plural}.{group}":
        errs.append(
            Cause(
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(
            Cause(
                "spec.scope",
                f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"',
                "FieldValueNotSupported",
            )
        )
    conversion = spec.get("conversion") or {}
    if conversion.get("strategy", "None") != "None":
        errs.append(
            Cause(
                "spec.conversion.strategy",
                f'Unsupported value: "{conversion.get("strategy")}": kubelab converts between '
                'versions only with strategy "None" (the apiVersion rewritten); a conversion '
                "webhook is not supported",
                "FieldValueNotSupported",
            )
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(Cause("spec.versions", "Invalid value: must have at least one version"))
        return errs
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        errs.append(
            Cause(
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    seen: set[str] = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            errs.append(Cause(p, "Invalid value: must be an object"))
            continue
        vname = v.get("name")
        if not isinstance(vname, str) or not _DNS_LABEL.match(vname):
            errs.append(Cause(f"{p}.name", f'Invalid value: "{vname}": a DNS-1035 label'))
        elif vname in seen:
            errs.append(Cause(f"{p}.name", f'Duplicate value: "{vname}"', "FieldValueDuplicate"))
        seen.add(str(vname))
        raw = (v.get("schema") or {}).get("openAPIV3Schema")
        if raw is None:
            errs.append(
                Cause(
                    f"{p}.schema.openAPIV3Schema",
                    "Required value: schemas are required",
                    "FieldValueRequired",
                )
            )
        else:
            errs.extend(schema_problems(raw, f"{p}.schema.openAPIV3Schema"))
        for j, c in enumerate(v.get("additionalPrinterColumns") or []):
            cp = f"{p}.additionalPrinterColumns[{j}]"
            if not isinstance(c, dict) or not c.get("name"):
                errs.append(Cause(f"{cp}.name", "Required value", "FieldValueRequired"))
                continue
            if c.get("type") not in _COLUMN_TYPES:
                errs.append(
                    Cause(
                        f"{cp}.type",
                        f'Unsupported value: "{c.get("type")}": supported values: {", ".join(repr(t) for t in _COLUMN_TYPES)}',
                        "FieldValueNotSupported",
                    )
                )
            if not c.get("jsonPath"):
                errs.append(Cause(f"{cp}.jsonPath", "Required value", "FieldValueRequired"))
        scale = (v.get("subresources") or {}).get("scale")
        if isinstance(scale, dict):
            for key in ("specReplicasPath", "statusReplicasPath"):
                if not str(scale.get(key) or "").startswith("."):
                    errs.append(
                        Cause(
                            f"{p}.subresources.scale.{key}",
                            "Invalid value: should be a json path under .spec or .status",
                        )
                    )
    return errs


def names_of(crd: dict[str, Any]) -> tuple[str, str, set[str], str]:
    """(group, plural, every other name it claims (singular, kind, short names), kind)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names.get("kind") or "")
    claimed = {str(names.get("singular") or kind.lower()), *map(str, names.get("shortNames") or [])}
    return str(spec.get("group") or ""), str(names.get("plural") or ""), claimed, kind


def names_conflict(
    crd: dict[str, Any], others: list[dict[str, Any]], builtin: list[ResourceInfo]
) -> str:
    """Why the CRD's names cannot be accepted (Kubernetes' NamesAccepted=False message),
    or "" when they can. ``others``: the CRDs accepted before it."""
    group, plural, claimed, kind = names_of(crd)
    for r in builtin:
        if r.group == group and r.plural == plural:
            return f'"{plural}" is already in use'
    for o in others:
        og, op, oclaimed, okind = names_of(o)
        if og != group:
            continue
        if op == plural:
            return f'"{plural}" is already in use'
        taken = claimed & (oclaimed | {op})
        if taken:
            return f'"{sorted(taken)[0]}" is already in use'
        if okind == kind:
            return f'"{kind}" is already in use'
    return ""
