"""The part of kubectl's JSONPath templates that people actually type.

Supported: literal text, ``{.a.b}``, ``{$.a}``, ``{.items[*].metadata.name}``, ``[n]``,
``[-1]``, ``[a:b]``, ``['key']``, ``..name`` (recursive), ``.*``, filters
``[?(@.type=="Ready")]`` (``== != < > <= >=`` or plain existence),
``{range EXPR}…{end}`` (nested too) and string literals such as ``{"\\n"}``. Keys with dots
are written ``{.metadata.labels.app\\.kubernetes\\.io/name}`` as in kubectl. Missing keys
print nothing, as kubectl's ``-o jsonpath`` does (it allows missing keys).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class JSONPathError(ValueError):
    """A template that cannot be parsed."""


# ----- template structure ---------------------------------------------------------------


@dataclass
class Text:
    text: str


@dataclass
class Expr:
    steps: list[Step]
    source: str


@dataclass
class Range:
    expr: Expr
    body: list[Node] = field(default_factory=list)


Node = Text | Expr | Range


@dataclass
class Step:
    """One step of a path: field, index, slice, wildcard, recursive field, or filter."""

    op: str  # "field" | "index" | "slice" | "all" | "recursive" | "filter"
    name: str = ""
    index: int = 0
    start: int | None = None
    end: int | None = None
    filter: tuple[Expr, str, Any] | None = None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(_ESCAPES.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _split_actions(template: str) -> list[tuple[bool, str]]:
    """[(is_action, text)]: the text between braces, honouring quotes inside actions."""
    parts: list[tuple[bool, str]] = []
    i, n, buf = 0, len(template), []
    while i < n:
        ch = template[i]
        if ch != "{":
            buf.append(ch)
            i += 1
            continue
        if buf:
            parts.append((False, "".join(buf)))
            buf = []
        j, quote = i + 1, ""
        while j < n:
            c = template[j]
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c == "}":
                break
            j += 1
        if j >= n:
            raise JSONPathError(f"unclosed action in template {template!r}")
        parts.append((True, template[i + 1 : j].strip()))
        i = j + 1
    if buf:
        parts.append((False, "".join(buf)))
    return parts


def parse(template: str) -> list[Node]:
    """Parse a template into text, expressions and ranges."""
    root: list[Node] = []
    stack: list[list[Node]] = [root]
    for is_action, text in _split_actions(template):
        if not is_action:
            stack[-1].append(Text(text))
            continue
        if text == "end":
            if len(stack) == 1:
                raise JSONPathError("{end} without a matching {range}")
            stack.pop()
        elif text.startswith("range ") or text.startswith("range\t"):
            rng = Range(parse_expr(text[6:].strip()))
            stack[-1].append(rng)
            stack.append(rng.body)
        elif len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            stack[-1].append(Text(_unescape(text[1:-1])))
        elif text == "":
            continue
        else:
            stack[-1].append(parse_expr(text))
    if len(stack) != 1:
        raise JSONPathError("{range} without a matching {end}")
    return root


_NAME_CHARS = re.compile(r"(?:\\.|[^.\[\]\\])+")


def parse_expr(text: str) -> Expr:
    """Parse a path such as ``.items[*].metadata.name`` or ``$.spec``."""
    s = text.strip()
    i = 0
    if s.startswith("$") or s.startswith("@"):
        i = 1
    steps: list[Step] = []
    n = len(s)
    while i < n:
        ch = s[i]
        if s.startswith("..", i):
            m = _NAME_CHARS.match(s, i + 2)
            if not m:
                raise JSONPathError(f"expected a name after '..' in {text!r}")
            steps.append(Step("recursive", name=_unescape(m.group(0))))
            i = m.end()
        elif ch == ".":
            if s.startswith(".*", i):
                steps.append(Step("all"))
                i += 2
                continue
            m = _NAME_CHARS.match(s, i + 1)
            if not m:
                i += 1  # a lone "." is the current object
                continue
            steps.append(Step("field", name=_unescape(m.group(0))))
            i = m.end()
        elif ch == "[":
            j = _matching_bracket(s, i, text)
            steps.append(_bracket_step(s[i + 1 : j].strip(), text))
            i = j + 1
        else:
            m = _NAME_CHARS.match(s, i)
            if not m or i != 0:
                raise JSONPathError(f"unexpected {ch!r} in {text!r}")
            steps.append(Step("field", name=_unescape(m.group(0))))
            i = m.end()
    return Expr(steps, text)


def _matching_bracket(s: str, i: int, text: str) -> int:
    depth, quote = 0, ""
    for j in range(i, len(s)):
        c = s[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"unclosed '[' in {text!r}")


_FILTER_RE = re.compile(r"^\?\((.*)\)$", re.S)
_COMPARISON_RE = re.compile(r"^(.*?)\s*(==|!=|<=|>=|<|>)\s*(.*)$", re.S)


def _literal(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return _unescape(t[1:-1])
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        raise JSONPathError(f"cannot read literal {text!r}") from None


def _bracket_step(inner: str, text: str) -> Step:
    if inner == "*":
        return Step("all")
    m = _FILTER_RE.match(inner)
    if m:
        cond = m.group(1).strip()
        cm = _COMPARISON_RE.match(cond)
        if cm:
            return Step(
                "filter", filter=(parse_expr(cm.group(1)), cm.group(2), _literal(cm.group(3)))
            )
        return Step("filter", filter=(parse_expr(cond), "exists", None))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        return Step("field", name=_unescape(inner[1:-1]))
    if ":" in inner:
        a, _, b = inner.partition(":")
        b = b.split(":")[0]
        try:
            return Step(
                "slice",
                start=int(a) if a.strip() else None,
                end=int(b) if b.strip() else None,
            )
        except ValueError:
            raise JSONPathError(f"bad slice [{inner}] in {text!r}") from None
    try:
        return Step("index", index=int(inner))
    except ValueError:
        raise JSONPathError(f"bad subscript [{inner}] in {text!r}") from None


# ----- evaluation -----------------------------------------------------------------------


def _walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out.extend(_walk(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_walk(v))
    return out


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    try:
        if op == "<":
            return bool(a < b)
        if op == ">":
            return bool(a > b)
        if op == "<=":
            return bool(a <= b)
        if op == ">=":
            return bool(a >= b)
    except TypeError:
        return False
    return False


def evaluate(expr: Expr, current: Any, root: Any) -> list[Any]:
    """Every value ``expr`` selects, starting at ``current`` (``$`` means ``root``)."""
    values = [root if expr.source.strip().startswith("$") else current]
    for step in expr.steps:
        nxt: list[Any] = []
        for v in values:
            if step.op == "field":
                if isinstance(v, dict) and step.name in v:
                    nxt.append(v[step.name])
            elif step.op == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif step.op == "index":
                if isinstance(v, list) and -len(v) <= step.index < len(v):
                    nxt.append(v[step.index])
            elif step.op == "slice":
                if isinstance(v, list):
                    nxt.extend(v[step.start : step.end])
            elif step.op == "recursive":
                for w in _walk(v):
                    if isinstance(w, dict) and step.name in w:
                        nxt.append(w[step.name])
            elif step.op == "filter" and step.filter is not None:
                sub, op, lit = step.filter
                items = v if isinstance(v, list) else [v]
                for item in items:
                    found = evaluate(sub, item, root)
                    if op == "exists":
                        if found and found[0] not in (None, False, "", 0):
                            nxt.append(item)
                    elif found and _compare(found[0], op, lit):
                        nxt.append(item)
        values = nxt
    return values


def format_value(value: Any) -> str:
    """How kubectl prints one result: strings raw, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _render(nodes: list[Node], current: Any, root: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Expr):
            out.append(" ".join(format_value(v) for v in evaluate(node, current, root)))
        else:
            for item in evaluate(node.expr, current, root):
                _render(node.body, item, root, out)


def render(template: str, data: Any) -> str:
    """Fill ``template`` from ``data`` (an object, or a List with ``items``)."""
    out: list[str] = []
    _render(parse(template), data, data, out)
    return "".join(out)
