"""Unknown-field detection for ``fieldValidation=Strict|Warn``, driven by the pydantic models.

The models are walked once per class into a small tree of JSON names, so the check is a
plain dict walk. Map-typed fields (labels, annotations, ConfigMap data, resource limits)
hold arbitrary keys and are never reported; fields typed ``Any`` are not looked into.
"""

from __future__ import annotations

import inspect
import types
import typing
from functools import cache
from typing import Any, Union

from pydantic import BaseModel

# A schema node: ("model", {json name: node}), ("list", node), ("map", node) or None (leaf).
Node = tuple[str, Any] | None


def _node_for(annotation: Any) -> Node:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            n = _node_for(arg)
            if n is not None:
                return n
        return None
    if origin is list:
        args = typing.get_args(annotation)
        inner = _node_for(args[0]) if args else None
        return ("list", inner) if inner is not None else None
    if origin is dict:
        args = typing.get_args(annotation)
        inner = _node_for(args[1]) if len(args) == 2 else None
        return ("map", inner) if inner is not None else None
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    return None


@cache
def _fields_of(model: type[BaseModel]) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for name, f in model.model_fields.items():
        out[f.alias or name] = _node_for(f.annotation)
    return out


def _walk(value: Any, node: Node, path: str, found: list[str], drop: bool) -> None:
    # Hot on every write: leaves (node None) are skipped without a call, and a child's
    # path string is built only when it is reported or descended into.
    if node is None:
        return
    tag, inner = node
    if tag == "model":
        if not isinstance(value, dict):
            return
        fields = _fields_of(inner)
        for key in list(value) if drop else value:
            if key not in fields:
                found.append(f"{path}.{key}" if path else str(key))
                if drop:
                    del value[key]
                continue
            sub = fields[key]
            if sub is not None:
                _walk(value[key], sub, f"{path}.{key}" if path else str(key), found, drop)
    elif tag == "list":
        if isinstance(value, list) and inner is not None:
            for i, item in enumerate(value):
                _walk(item, inner, f"{path}[{i}]", found, drop)
    elif tag == "map" and isinstance(value, dict) and inner is not None:
        for k, item in value.items():
            _walk(item, inner, f"{path}[{k}]", found, drop)


def _model(kind: str) -> type[BaseModel] | None:
    from api.models import MODELS  # imported here: pydantic models load only when needed

    return MODELS.get(kind)


def unknown_fields(kind: str, obj: dict[str, Any]) -> list[str]:
    """Dotted JSON paths of fields the ``kind`` schema does not know
    (e.g. ``spec.containers[0].imagePullPolcy``); ``[]`` for an unknown kind."""
    model = _model(kind)
    found: list[str] = []
    if model is not None:
        _walk(obj, ("model", model), "", found, drop=False)
    return found


def drop_unknown_fields(kind: str, obj: dict[str, Any]) -> list[str]:
    """Remove unknown fields in place (``fieldValidation=Warn|Ignore``); returns their paths."""
    model = _model(kind)
    found: list[str] = []
    if model is not None:
        _walk(obj, ("model", model), "", found, drop=True)
    return found
