"""Structural schemas (OpenAPI v3 as a CRD version declares it): validation with
Kubernetes' messages, pruning of unknown fields and defaulting, as kube-apiserver does.

Validation is jsonschema's (Draft 4, the dialect of OpenAPI v3's schema object) over a
translation of the structural schema; the ``x-kubernetes-*`` extensions are Kubernetes'
own and are applied here: ``preserve-unknown-fields`` (no pruning below), ``int-or-string``
(an integer or a string), ``embedded-resource`` (apiVersion, kind and metadata kept and
required). Order on write, as upstream: prune, default, validate.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema

from api.errors import Cause

Schema = dict[str, Any]
_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_META_KEYS = ("apiVersion", "kind", "metadata")


def _translate(s: Schema) -> Schema:
    """The structural schema as a Draft 4 JSON schema (extensions dropped or expanded)."""
    out: Schema = {}
    for key, value in s.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: _translate(v) for k, v in value.items() if isinstance(v, dict)}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _translate(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_translate(v) for v in value if isinstance(v, dict)]
        elif key in ("default", "example", "description", "format", "nullable", "title"):
            continue  # formats are not checked (as upstream, bar a few); defaults applied apart
        elif key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.get("x-kubernetes-embedded-resource"):
        out.setdefault("required", [])
        out["required"] = sorted({*out["required"], "apiVersion", "kind"})
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


class StructuralSchema:
    """One CRD version's ``openAPIV3Schema``, compiled once."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        root = _translate(schema)
        # apiVersion/kind/metadata are the server's, checked apart (root metadata may
        # carry anything ObjectMeta has).
        props = root.get("properties") or {}
        for k in _META_KEYS:
            props.pop(k, None)
        self._validator = jsonschema.Draft4Validator(root)

    # -- pruning -------------------------------------------------------------------------

    def unknown_fields(self, obj: dict[str, Any]) -> list[str]:
        """Dotted paths of the fields pruning would remove (for ``fieldValidation=Strict``)."""
        found: list[str] = []
        _prune(copy.deepcopy(obj), self.schema, "", found, root=True)
        return found

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Remove, in place, every field the schema does not specify; returns their paths."""
        found: list[str] = []
        _prune(obj, self.schema, "", found, root=True)
        return found

    # -- defaulting ----------------------------------------------------------------------

    def default(self, obj: dict[str, Any]) -> None:
        """Set, in place, each absent field that has a ``default`` (nested, as upstream:
        a default object is itself defaulted)."""
        _default(obj, self.schema)

    # -- validation ----------------------------------------------------------------------

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Every way ``obj`` breaks the schema, in Kubernetes' words."""
        body = {k: v for k, v in obj.items() if k not in _META_KEYS}
        causes = [_cause(e) for e in self._validator.iter_errors(body)]
        causes.extend(_embedded_causes(obj, self.schema, ""))
        causes.sort(key=lambda c: c.field)
        return causes


def _prune(value: Any, s: Schema, path: str, found: list[str], root: bool = False) -> None:
    if isinstance(value, dict):
        if s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
            return
        props = s.get("properties")
        extra = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource") or root
        for key in list(value):
            sub = f"{path}.{key}" if path else key
            if embedded and key in _ROOT_KEPT:
                continue
            child = value[key]
            if props is not None and key in props:
                cs = props[key]
                if child is None and not cs.get("nullable"):
                    del value[key]  # null where not nullable: dropped, then defaulted
                    continue
                _prune(child, cs, sub, found)
            elif isinstance(extra, dict):
                _prune(child, extra, f"{path}[{key}]", found)
            elif extra is True or s.get("x-kubernetes-preserve-unknown-fields"):
                continue
            else:
                found.append(sub)
                del value[key]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _prune(item, items, f"{path}[{i}]", found)


def _default(value: Any, s: Schema) -> None:
    if isinstance(value, dict):
        for key, cs in (s.get("properties") or {}).items():
            if key not in value and "default" in cs:
                value[key] = copy.deepcopy(cs["default"])
            if key in value:
                _default(value[key], cs)
        extra = s.get("additionalProperties")
        if isinstance(extra, dict):
            for key, child in value.items():
                if key not in (s.get("properties") or {}):
                    _default(child, extra)
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for item in value:
            _default(item, s["items"])


def _embedded_causes(value: Any, s: Schema, path: str) -> list[Cause]:
    """An embedded resource's metadata must be an object (its name, if any, a string)."""
    out: list[Cause] = []
    if not isinstance(value, dict):
        return out
    for key, cs in (s.get("properties") or {}).items():
        if key not in value:
            continue
        sub = f"{path}.{key}" if path else key
        if cs.get("x-kubernetes-embedded-resource") and isinstance(value[key], dict):
            meta = value[key].get("metadata")
            if meta is not None and not isinstance(meta, dict):
                out.append(Cause(f"{sub}.metadata", "Invalid value: must be an object"))
        out.extend(_embedded_causes(value[key], cs, sub))
    return out


_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _type_name(v: Any) -> str:
    return _TYPE_NAMES.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def _path(error: jsonschema.ValidationError) -> str:
    out = ""
    for p in error.absolute_path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _cause(e: jsonschema.ValidationError) -> Cause:
    """One jsonschema error as kube-openapi's validator words it."""
    path = _path(e)
    where = path or "<root>"
    v, arg = e.instance, e.validator_value
    kind = e.validator
    if kind == "type":
        wanted = arg if isinstance(arg, str) else next(t for t in arg if t != "null")
        got = _type_name(v)
        return Cause(
            path,
            f'Invalid value: "{got}": {where} in body must be of type {wanted}: "{got}"',
        )
    if kind == "required":
        missing = next((m for m in arg if isinstance(v, dict) and m not in v), "")
        field = f"{path}.{missing}" if path else str(missing)
        return Cause(field, "Required value", "FieldValueRequired")
    if kind == "enum":
        choices = ", ".join(_show(a) for a in arg)
        return Cause(
            path,
            f"Unsupported value: {_show(v)}: supported values: {choices}",
            "FieldValueNotSupported",
        )
    if (
        kind == "anyOf"
        and isinstance(arg, list)
        and arg == [{"type": "integer"}, {"type": "string"}]
    ):
        got = _type_name(v)
        return Cause(
            path,
            f'Invalid value: "{got}": {where} in body must be of type integer,string: "{got}"',
        )
    why = {
        "pattern": f"{where} in body should match '{arg}'",
        "minimum": f"{where} in body should be greater than or equal to {arg}",
        "maximum": f"{where} in body should be less than or equal to {arg}",
        "minLength": f"{where} in body should be at least {arg} chars long",
        "maxLength": f"{where} in body should be at most {arg} chars long",
        "minItems": f"{where} in body should have at least {arg} items",
        "maxItems": f"{where} in body should have at most {arg} items",
        "minProperties": f"{where} in body should have at least {arg} properties",
        "maxProperties": f"{where} in body should have at most {arg} properties",
        "multipleOf": f"{where} in body should be a multiple of {arg}",
        "uniqueItems": f"{where} in body shouldn't contain duplicates",
    }.get(str(kind), f"{where} in body {e.message}")
    if kind == "minimum" and e.schema.get("exclusiveMinimum"):
        why = f"{where} in body should be greater than {arg}"
    if kind == "maximum" and e.schema.get("exclusiveMaximum"):
        why = f"{where} in body should be less than {arg}"
    if kind == "maxLength":
        return Cause(path, f"Too long: may not be more than {arg} bytes", "FieldValueTooLong")
    if kind == "maxItems":
        return Cause(
            path, f"Too many: {len(v)}: must have at most {arg} items", "FieldValueTooMany"
        )
    return Cause(path, f"Invalid value: {_show(v)}: {why}")


def schema_problems(s: Any, path: str = "spec.validation.openAPIV3Schema") -> list[Cause]:
    """What makes a CRD version's schema unusable here: not structural enough to compile,
    or CEL rules (no maintained CEL library is used: refused, never ignored)."""
    out: list[Cause] = []
    if not isinstance(s, dict):
        return [
            Cause(
                path, "Required value: a structural schema (type: object ...)", "FieldValueRequired"
            )
        ]
    if "x-kubernetes-validations" in s:
        out.append(
            Cause(
                f"{path}.x-kubernetes-validations",
                "Forbidden: CEL validation rules are not supported by kubelab: express the "
                "rule with type, enum, pattern, minimum/maximum or required",
                "FieldValueForbidden",
            )
        )
    for key in ("properties", "patternProperties"):
        for k, v in (s.get(key) or {}).items():
            out.extend(schema_problems(v, f"{path}.{key}[{k}]"))
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            out.extend(schema_problems(s[key], f"{path}.{key}"))
    if path == "spec.validation.openAPIV3Schema" or path.endswith("openAPIV3Schema"):
        if s.get("type") != "object":
            out.append(
                Cause(
                    f"{path}.type",
                    'Required value: must be "object" at the root',
                    "FieldValueRequired",
                )
            )
        try:
            jsonschema.Draft4Validator.check_schema(_translate(s))
        except jsonschema.SchemaError as exc:
            out.append(Cause(path, f"Invalid value: the schema is not valid: {exc.message}"))
    return out
