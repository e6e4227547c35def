"""Label selectors, field selectors and node-selector requirements.

Label selectors come in two spellings that mean the same thing:

* the string form used in URLs and by ``kl get -l``: ``app=web,tier!=db,env in (a,b),
  release notin (x),gpu,!legacy``;
* the dict form used in manifests: ``{"matchLabels": {...}, "matchExpressions": [...]}``.

Both parse into one immutable :class:`LabelSelector`. Parsing of the string form is
cached because the apiserver sees the same few selectors on every list and watch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectionPredicate",
    "SelectorError",
    "label_value_error",
    "match_node_selector_requirement",
    "match_node_selector_term",
    "match_node_selector_terms",
    "qualified_name_error",
]

# --- label key / value syntax (shared with validation) -------------------------------

_NAME_PART_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or "
    "'my_value', or '12345')"
)


@lru_cache(maxsize=4096)
def qualified_name_error(key: str) -> str | None:
    """Why ``key`` is not a valid label/annotation key (``[prefix/]name``), or None if it is."""
    if not key:
        return "name part must be non-empty"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253:
            return "prefix part must be no more than 253 characters"
        if not _DNS1123_SUBDOMAIN_RE.match(prefix):
            return (
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com')"
            )
        if "/" in prefix:
            return "a qualified name must consist of at most one '/' (e.g. 'example.com/MyName')"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_PART_RE.match(name):
        return _NAME_PART_MSG
    return None


@lru_cache(maxsize=4096)
def label_value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None if it is."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE_RE.match(value):
        return _VALUE_MSG
    return None


# --- label selectors -------------------------------------------------------------------

_OPS = ("=", "!=", "in", "notin", "exists", "!")
_DICT_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
_OP_TO_DICT = {
    "in": "In",
    "notin": "NotIn",
    "exists": "Exists",
    "!": "DoesNotExist",
    "=": "In",
    "!=": "NotIn",
}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One condition on one label key. ``operator`` is one of ``=``, ``!=``, ``in``,
    ``notin``, ``exists``, ``!`` (does not exist)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a set of labels satisfies this requirement."""
        op = self.operator
        if op == "=":
            return labels.get(self.key) == self.values[0]
        if op == "!=":
            # As in Kubernetes: a missing key satisfies "!=".
            return labels.get(self.key) != self.values[0]
        if op == "in":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "notin":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "exists":
            return self.key in labels
        return self.key not in labels

    def to_string(self) -> str:
        """The string form of this requirement, e.g. ``env in (a,b)``."""
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return f"!{self.key}"
        if op in ("=", "!="):
            return f"{self.key}{op}{self.values[0]}"
        return f"{self.key} {op} ({','.join(self.values)})"


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s*\((.*)\)$", re.S)
_EQ_RE = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*([^\s,=!()]*)$")
_EXISTS_RE = re.compile(rf"^({_KEY})$")
_NOT_EXISTS_RE = re.compile(rf"^!\s*({_KEY})$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A set of label requirements, all of which must hold (logical AND).

    An empty selector matches every object. ``nothing`` marks the selector of a nil
    ``selector`` field, which in Kubernetes matches no object at all.
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements (and so matches everything)."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected."""
        if self.nothing:
            return False
        labels = labels or {}
        for r in self.requirements:
            if not r.matches(labels):
                return False
        return True

    def to_string(self) -> str:
        """The string form, as used in ``?labelSelector=`` and a Scale's ``status.selector``."""
        return ",".join(r.to_string() for r in self.requirements)

    def __str__(self) -> str:
        return self.to_string()

    def to_dict(self) -> dict[str, Any]:
        """The manifest (dict) form: equalities go to matchLabels, the rest to matchExpressions."""
        match_labels: dict[str, str] = {}
        exprs: list[dict[str, Any]] = []
        for r in self.requirements:
            if r.operator == "=" and r.key not in match_labels:
                match_labels[r.key] = r.values[0]
                continue
            e: dict[str, Any] = {"key": r.key, "operator": _OP_TO_DICT[r.operator]}
            if r.operator not in ("exists", "!"):
                e["values"] = list(r.values)
            exprs.append(e)
        out: dict[str, Any] = {}
        if match_labels:
            out["matchLabels"] = match_labels
        if exprs:
            out["matchExpressions"] = exprs
        return out

    @staticmethod
    def parse(text: str | None) -> LabelSelector:
        """Parse the string form (``app=web,env in (a,b),!legacy``).

        Raises ValueError naming the selector and what is wrong with it.
        """
        if text is None:
            return _EVERYTHING
        return _parse_label_selector(text)

    @staticmethod
    def from_dict(d: Mapping[str, Any] | None) -> LabelSelector:
        """Build from the manifest form (``matchLabels`` + ``matchExpressions``).

        ``None`` (a nil selector) matches nothing; ``{}`` matches everything.
        Raises ValueError for an unknown operator or a malformed expression.
        """
        if d is None:
            return _NOTHING
        reqs: list[Requirement] = []
        # Manifests come from users: a wrong type is a ValueError (a 422), never a crash.
        if not isinstance(d, Mapping):
            raise ValueError("invalid label selector: must be an object with matchLabels")
        if not isinstance(d.get("matchLabels") or {}, Mapping):
            raise ValueError("invalid label selector: matchLabels must be an object of key: value")
        if not isinstance(d.get("matchExpressions") or [], list):
            raise ValueError("invalid label selector: matchExpressions must be a list")
        for key, value in (d.get("matchLabels") or {}).items():
            _check_key_value("matchLabels", str(key), [str(value)])
            reqs.append(Requirement(str(key), "=", (str(value),)))
        for i, expr in enumerate(d.get("matchExpressions") or []):
            where = f"matchExpressions[{i}]"
            if not isinstance(expr, Mapping):
                raise ValueError(
                    f"invalid label selector: {where} must be an object with key and operator"
                )
            key = str(expr.get("key") or "")
            op_name = expr.get("operator")
            op = _DICT_OPS.get(op_name) if isinstance(op_name, str) else None
            if op is None:
                raise ValueError(
                    f"invalid label selector: {where}.operator {op_name!r} is not supported; "
                    "use one of In, NotIn, Exists, DoesNotExist"
                )
            if not isinstance(expr.get("values") or [], list):
                raise ValueError(f"invalid label selector: {where}.values must be a list")
            values = tuple(str(v) for v in expr.get("values") or ())
            if op in ("in", "notin") and not values:
                raise ValueError(
                    f"invalid label selector: {where}.values must be non-empty when operator is {op_name}"
                )
            if op in ("exists", "!") and values:
                raise ValueError(
                    f"invalid label selector: {where}.values must be empty when operator is {op_name}"
                )
            _check_key_value(where, key, values)
            reqs.append(Requirement(key, op, values))
        return LabelSelector(tuple(reqs))

    @staticmethod
    def from_any(sel: LabelSelector | str | Mapping[str, Any] | None) -> LabelSelector:
        """Accept a LabelSelector, the string form, the dict form or None (matches everything)."""
        if sel is None:
            return _EVERYTHING
        if isinstance(sel, LabelSelector):
            return sel
        if isinstance(sel, str):
            return _parse_label_selector(sel)
        return LabelSelector.from_dict(sel)

    @staticmethod
    def from_labels(labels: Mapping[str, str]) -> LabelSelector:
        """A selector requiring exactly these key=value pairs."""
        return LabelSelector(tuple(Requirement(k, "=", (v,)) for k, v in labels.items()))


_EVERYTHING = LabelSelector()
_NOTHING = LabelSelector(nothing=True)


def _check_key_value(where: str, key: str, values: tuple[str, ...] | list[str]) -> None:
    err = qualified_name_error(key)
    if err:
        raise ValueError(f"invalid label selector: {where}: key {key!r}: {err}")
    for v in values:
        verr = label_value_error(v)
        if verr:
            raise ValueError(
                f"invalid label selector: {where}: value {v!r} for key {key!r}: {verr}"
            )


_SYNTAX_HINT = (
    "expected 'key', '!key', 'key=value', 'key!=value', 'key in (v1,v2)' or 'key notin (v1,v2)'"
)


@lru_cache(maxsize=1024)
def _parse_label_selector(text: str) -> LabelSelector:
    if not text.strip():
        return _EVERYTHING
    reqs: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise ValueError(
                f"invalid label selector {text!r}: empty requirement (stray comma?); {_SYNTAX_HINT}"
            )
        req: Requirement | None = None
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(","))
            if values == ("",):
                raise ValueError(
                    f"invalid label selector {text!r}: {m.group(2)} needs at least one value in "
                    f"the parentheses, e.g. '{m.group(1)} {m.group(2)} (a,b)'"
                )
            req = Requirement(m.group(1), m.group(2), values)
        elif m := _EQ_RE.match(part):
            op = "=" if m.group(2) == "==" else m.group(2)
            req = Requirement(m.group(1), op, (m.group(3),))
        elif m := _EXISTS_RE.match(part):
            req = Requirement(m.group(1), "exists")
        elif m := _NOT_EXISTS_RE.match(part):
            req = Requirement(m.group(1), "!")
        if req is None:
            if part.count("(") != part.count(")"):
                raise ValueError(
                    f"invalid label selector {text!r}: unbalanced parentheses in {part!r}"
                )
            raise ValueError(
                f"invalid label selector {text!r}: cannot parse {part!r}; {_SYNTAX_HINT}"
            )
        err = qualified_name_error(req.key)
        if err:
            raise ValueError(f"invalid label selector {text!r}: key {req.key!r}: {err}")
        for v in req.values:
            verr = label_value_error(v)
            if verr:
                raise ValueError(f"invalid label selector {text!r}: value {v!r}: {verr}")
        reqs.append(req)
    return LabelSelector(tuple(reqs))


# --- field selectors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field`` (a dotted path like ``spec.nodeName``) ``operator`` (``=`` or ``!=``) ``value``."""

    field: str
    operator: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's field satisfies this requirement (a missing field is "")."""
        actual = field_value(obj, self.field)
        return (actual == self.value) if self.operator == "=" else (actual != self.value)


_FIELD_PATH_RE = re.compile(r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$")


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as the string a field selector compares (missing → "")."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, (str, int, float)):
        return str(cur)
    return ""


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _find_operator(term: str) -> tuple[int, str] | None:
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == "\\":
            i += 2
            continue
        if term.startswith("!=", i):
            return i, "!="
        if term.startswith("==", i):
            return i, "=="
        if ch == "=":
            return i, "="
        i += 1
    return None


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field requirements, e.g. ``metadata.name=x,status.phase!=Running``."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements (and so matches everything)."""
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether an object satisfies every requirement."""
        for r in self.requirements:
            if not r.matches(obj):
                return False
        return True

    def exact(self, field: str) -> str | None:
        """The value of an ``field=value`` requirement, if there is one (for index lookups)."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def to_string(self) -> str:
        """The string form, with ``\\``, ``,`` and ``=`` in values escaped."""

        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")

        return ",".join(f"{r.field}{r.operator}{esc(r.value)}" for r in self.requirements)

    def __str__(self) -> str:
        return self.to_string()

    def with_requirement(self, field: str, value: str) -> FieldSelector:
        """This selector and also ``field=value`` (no string round trip, so any value)."""
        return FieldSelector((*self.requirements, FieldRequirement(field, "=", value)))

    @staticmethod
    def parse(text: str | None, *, skip_empty_terms: bool = False) -> FieldSelector:
        """Parse ``a.b=x,c!=y`` (``==`` means ``=``; ``\\,`` and ``\\=`` escape).

        An empty term (``a=b,,c=d``, ``a=b,``) is an error unless ``skip_empty_terms``:
        the API's query parameter skips them, as Kubernetes' ``fields.ParseSelector`` does.
        Raises ValueError naming the selector and the bad term.
        """
        if text is None:
            return _ALL_FIELDS
        return _parse_field_selector(text, skip_empty_terms)


_ALL_FIELDS = FieldSelector()


@lru_cache(maxsize=1024)
def _parse_field_selector(text: str, skip_empty_terms: bool = False) -> FieldSelector:
    if not text.strip():
        return _ALL_FIELDS
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        t = term.strip()
        if not t:
            if skip_empty_terms:
                continue
            raise ValueError(f"invalid field selector {text!r}: empty term (stray comma?)")
        found = _find_operator(t)
        if found is None:
            raise ValueError(
                f"invalid field selector {text!r}: {t!r} has no operator; "
                "use 'field=value', 'field==value' or 'field!=value' (e.g. spec.nodeName=node-1)"
            )
        idx, op = found
        field = t[:idx].strip()
        value = _unescape(t[idx + len(op) :].strip())
        if not _FIELD_PATH_RE.match(field):
            raise ValueError(
                f"invalid field selector {text!r}: {field!r} is not a field path; "
                "use a dotted path such as metadata.name or status.phase"
            )
        reqs.append(FieldRequirement(field, "=" if op == "==" else op, value))
    return FieldSelector(tuple(reqs))


# --- selection predicate ---------------------------------------------------------------


class SelectorError(ValueError):
    """A selector query parameter that does not parse; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class SelectionPredicate:
    """What a list, watch or deletecollection selects: a label selector and a field
    selector, parsed once (the apiserver's ``storage.SelectionPredicate``).

    The one rule for "does this object match the request's selectors": an empty
    predicate matches every object.
    """

    labels: LabelSelector = _EVERYTHING
    fields: FieldSelector = _ALL_FIELDS

    @property
    def empty(self) -> bool:
        """True when nothing is selected on (every object matches)."""
        return self.labels.empty and self.fields.empty

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object (a plain API dict) satisfies both selectors."""
        if not self.labels.empty:
            meta = obj.get("metadata")
            if not self.labels.matches(meta.get("labels") if isinstance(meta, Mapping) else None):
                return False
        return self.fields.matches(obj)

    def exact_field(self, field: str) -> str | None:
        """The value of a ``field=value`` requirement, if there is one (for index lookups)."""
        return self.fields.exact(field)

    def with_name(self, name: str) -> SelectionPredicate:
        """This predicate narrowed to the object called ``name`` (a watch on one object)."""
        return SelectionPredicate(self.labels, self.fields.with_requirement("metadata.name", name))

    @staticmethod
    def from_query(label_selector: str | None, field_selector: str | None) -> SelectionPredicate:
        """Parse the ``labelSelector`` and ``fieldSelector`` query parameters.

        Raises SelectorError naming the parameter and what is wrong with it.
        """
        try:
            labels = LabelSelector.parse(label_selector)
        except ValueError as exc:
            raise SelectorError("labelSelector", str(exc)) from exc
        try:
            fields = FieldSelector.parse(field_selector, skip_empty_terms=True)
        except ValueError as exc:
            raise SelectorError("fieldSelector", str(exc)) from exc
        if labels.empty and fields.empty:
            return EVERYTHING
        return SelectionPredicate(labels, fields)


EVERYTHING = SelectionPredicate()
"""The predicate of a request without selectors."""


# --- node selector requirements (node affinity) ----------------------------------------


def match_node_selector_requirement(
    req: Mapping[str, Any], labels: Mapping[str, str] | None
) -> bool:
    """Evaluate one ``{"key", "operator", "values"}`` node-affinity requirement.

    Operators: In, NotIn (a missing label satisfies it), Exists, DoesNotExist, Gt and Lt
    (both sides integers; a missing or non-integer label never matches). An unknown
    operator matches nothing, so a bad spec never schedules anywhere by accident.
    """
    labels = labels or {}
    key = req.get("key", "")
    op = req.get("operator")
    values: Any = req.get("values") or ()
    if op == "In":
        v = labels.get(key)
        return v is not None and v in values
    if op == "NotIn":
        v = labels.get(key)
        return v is None or v not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if len(values) != 1 or key not in labels:
            return False
        try:
            have = int(labels[key])
            want = int(values[0])
        except (TypeError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def match_node_selector_term(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A ``nodeSelectorTerm``: all matchExpressions (on labels) and matchFields
    (on ``metadata.name``) must hold. An empty term matches nothing, as in Kubernetes."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    for e in exprs:
        if not match_node_selector_requirement(e, labels):
            return False
    if fields:
        node_fields = {"metadata.name": meta.get("name", "")}
        for f in fields:
            if not match_node_selector_requirement(f, node_fields):
                return False
    return True


def match_node_selector_terms(terms: list[Mapping[str, Any]], node: Mapping[str, Any]) -> bool:
    """``requiredDuringScheduling…nodeSelectorTerms``: any one term (logical OR) must match."""
    return any(match_node_selector_term(t, node) for t in terms)
