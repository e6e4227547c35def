"""Every ``path/file.py`` and ``path/file.py:name`` that a page in docs/ names exists, so a
guide cannot silently point at code that moved (``name`` may be ``Class.method``)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A path with at least one folder, optionally followed by ":name" or ":Class.method".
REFERENCE = re.compile(r"(?<![\w./-])((?:[\w-]+/)+[\w-]+\.py)(?::([A-Za-z_]\w*(?:\.\w+)*))?")


def references(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)]


@cache
def names_in(path: Path) -> frozenset[str]:
    """Top-level functions, classes and assignments, and ``Class.member`` for the
    methods and class attributes of top-level classes."""
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()

    def defined(node: ast.stmt) -> list[str]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [node.name]
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        return []

    for node in tree.body:
        out.update(defined(node))
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                out.update(f"{node.name}.{n}" for n in defined(member))
    return frozenset(out)


def missing(doc: Path) -> list[str]:
    problems = []
    for path, name in references(doc.read_text()):
        file = ROOT / path
        if not file.is_file():
            problems.append(f"{path}: no such file")
        elif name is not None and name not in names_in(file):
            problems.append(f"{path}:{name}: no such function or class there")
    return problems


DOCS = sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_file_and_function_a_doc_names_exists(doc: Path) -> None:
    assert missing(doc) == [], f"{doc.name} names code that is not there"


def test_the_checker_finds_references_and_catches_what_is_missing(tmp_path: Path) -> None:
    text = (
        "See `client/events.py:EventRecorder.record`, then client/ratelimit.py, and "
        "(`kubelet/worker.py:PodWorker.sync`). Not a path: setup.py, http://x/a.py."
    )
    assert references(text) == [
        ("client/events.py", "EventRecorder.record"),
        ("client/ratelimit.py", None),
        ("kubelet/worker.py", "PodWorker.sync"),
    ]
    doc = tmp_path / "page.md"
    doc.write_text(
        "`client/events.py:EventRecorder` and `client/events.py:NORMAL` are there; "
        "`client/events.py:EventRecorder.nothing`, `client/events.py:gone` and "
        "`client/nowhere.py` are not."
    )
    assert missing(doc) == [
        "client/events.py:EventRecorder.nothing: no such function or class there",
        "client/events.py:gone: no such function or class there",
        "client/nowhere.py: no such file",
    ]
