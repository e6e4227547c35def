"""YAML and JSON output shaped like kubectl's (sorted YAML keys, 4-space JSON)."""

from __future__ import annotations

import json
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as ``|`` blocks and quotes with double
    quotes, like kubectl (Go's yaml)."""

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def to_yaml(obj: Any) -> str:
    """One object (or a List) as YAML with sorted keys and no line wrapping."""
    return yaml.dump(
        obj,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )


def to_json(obj: Any) -> str:
    """One object (or a List) as JSON indented by 4 spaces, with a trailing newline."""
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap several objects in the ``v1 List`` kubectl prints for ``-o yaml|json``."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
