"""Printing lists of objects in the format ``-o`` asks for (shared by get, create, apply…)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api import jsonpath
from api.registry import ResourceInfo
from kubectl.errors import CliError
from kubectl.printers import custom
from kubectl.printers.columns import build_rows
from kubectl.printers.names import kind_prefix, object_name
from kubectl.printers.serial import as_list, to_json, to_yaml
from kubectl.printers.table import render_table

FORMATS = ("wide", "yaml", "json", "name")


@dataclass
class Group:
    """Objects of one kind, as listed or fetched."""

    info: ResourceInfo
    objects: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""


def check_format(fmt: str | None) -> None:
    """Refuse unknown ``-o`` values before talking to the server."""
    if fmt is None or fmt in FORMATS or fmt.startswith("jsonpath="):
        return
    if fmt.startswith("jsonpath"):
        raise CliError("jsonpath output needs a template: -o jsonpath='{.metadata.name}'")
    if fmt in ("custom-columns", "custom-columns-file"):
        raise CliError(
            f"{fmt} output needs its columns: -o custom-columns=NAME:.metadata.name,"
            "NODE:.spec.nodeName (or -o custom-columns-file=FILE)"
        )
    if custom.columns_for(fmt) is not None:  # parses now: a bad spec fails before any call
        return
    raise CliError(
        f'unable to match a printer suitable for the output format "{fmt}", allowed formats '
        "are: custom-columns, custom-columns-file, json, jsonpath, name, wide, yaml"
    )


def with_type_meta(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """Items of a List carry no apiVersion/kind; put them back, as kubectl does."""
    if "kind" not in obj or "apiVersion" not in obj:
        obj = {"apiVersion": info.api_version, "kind": info.kind, **obj}
    return obj


def render_table_groups(
    groups: list[Group],
    *,
    wide: bool,
    with_namespace: bool,
    show_labels: bool,
    with_kind: bool,
    no_headers: bool = False,
) -> str:
    """Tables for several kinds, separated by a blank line as kubectl prints them."""
    blocks = []
    for g in groups:
        if not g.objects:
            continue
        headers, rows = build_rows(
            g.info.kind,
            g.objects,
            wide=wide,
            with_namespace=with_namespace and g.info.namespaced,
            show_labels=show_labels,
            name_prefix=f"{kind_prefix(g.info)}/" if with_kind else "",
        )
        blocks.append(render_table([] if no_headers else headers, rows))
    return "\n".join(blocks)


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without ``metadata.managedFields``: every write records them, and kubectl
    prints them only with ``--show-managed-fields``."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def render_objects(
    objects: list[dict[str, Any]],
    fmt: str,
    single: bool,
    no_headers: bool = False,
    show_managed_fields: bool = False,
) -> str:
    """yaml, json, name, jsonpath or custom-columns output for typed objects; one object
    prints bare when ``single``, several as a ``List``."""
    if not show_managed_fields:
        objects = [without_managed_fields(o) for o in objects]
    columns = custom.columns_for(fmt)
    if columns is not None:
        return custom.render(columns, objects, no_headers)
    data: Any = objects[0] if single and len(objects) == 1 else as_list(objects)
    if fmt == "yaml":
        return to_yaml(data)
    if fmt == "json":
        return to_json(data)
    if fmt == "name":
        return "".join(object_name(o) + "\n" for o in objects)
    if fmt.startswith("jsonpath="):
        try:
            return jsonpath.render(fmt[len("jsonpath=") :], data)
        except jsonpath.JSONPathError as e:
            raise CliError(f"error parsing jsonpath: {e}") from e
    raise CliError(f"unknown output format {fmt!r}")
