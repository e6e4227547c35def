"""The file ``kl edit`` hands to the editor, as kubectl writes it: a comment header (with
the reasons the last save failed, when it did), then the objects; and reading it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl.errors import one_line

HEADER = (
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n"
    "#\n"
)


@dataclass
class Reason:
    """Why the last save failed: a head line and, for an invalid object, one line a field."""

    head: str
    causes: list[str] = field(default_factory=list)


def _commented(text: str) -> str:
    # A multi-line message keeps every line behind a '#' (kubectl's hashOnLineBreak).
    return text.replace("\n", "\n# ")


def render_header(reasons: list[Reason]) -> str:
    """kubectl's header: the fixed text, then each reason as ``# head:`` and ``# * cause``."""
    out = [HEADER]
    for r in reasons:
        out.append(f"# {_commented(r.head)}{':' if r.causes else ''}\n")
        out.extend(f"# * {_commented(c)}\n" for c in r.causes)
        out.append("#\n")
    return "".join(out)


def strip_comments(text: str) -> str:
    """The text without its comment lines (those whose first non-blank character is '#'),
    which is what is compared and parsed."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )


def is_empty(text: str) -> bool:
    """Nothing but comments and blank lines: the user asked to abort."""
    return not strip_comments(text).strip()


def invalid_reason(resource: str, name: str, causes: list[tuple[str, str]]) -> Reason:
    """The reason for a save the server refused as Invalid, one ``field: message`` a cause."""
    return Reason(
        f'{resource} "{name}" was not valid',
        [f"{f}: {one_line(m)}" if f else one_line(m) for f, m in causes],
    )


def syntax_reason(problem: str) -> Reason:
    return Reason(f"The edited file had a syntax error: {one_line(problem)}")


def edit_objects(objects: list[dict[str, Any]]) -> Any:
    """What goes in the file: one object bare, several as a ``v1 List`` (as kubectl)."""
    if len(objects) == 1:
        return objects[0]
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects}


def for_editing(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as shown to edit: managedFields left out (kubectl's default)."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    """apiVersion, kind and name: what an edit may not change."""
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("name", "")))


def match_edited(
    originals: list[dict[str, Any]], edited: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pair each edited object with the original it came from (by uid, as kubectl; by
    position when the uid was removed). Raises ValueError naming what was changed."""
    by_uid = {(o.get("metadata") or {}).get("uid"): o for o in originals}
    pairs = []
    for i, e in enumerate(edited):
        uid = (e.get("metadata") or {}).get("uid")
        original = by_uid.get(uid) if uid else (originals[i] if i < len(originals) else None)
        if original is None:
            raise ValueError("no original object found for an edited object; do not add objects")
        if identity(original) != identity(e):
            raise ValueError("At least one of apiVersion, kind and name was changed")
        pairs.append((original, e))
    return pairs
