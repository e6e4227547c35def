"""Reading -f sources: files, directories (with -R), stdin, multi-document YAML, Lists."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kubectl.errors import CliError
from kubectl.manifests import Manifest, load_manifests, resolve_manifest

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(ms: list[Manifest]) -> list[str]:
    return [m.obj["metadata"]["name"] for m in ms]


def test_multi_document_yaml_skips_empty_documents(tmp_path: Path) -> None:
    f = write(
        tmp_path / "a.yaml", "---\n" + CM.format(name="a") + "---\n---\n" + CM.format(name="b")
    )
    assert names(load_manifests([str(f)])) == ["a", "b"]


def test_json_file_and_list_kind_are_flattened(tmp_path: Path) -> None:
    f = write(
        tmp_path / "l.json",
        '{"apiVersion":"v1","kind":"List","items":['
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}},'
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y"}}]}',
    )
    assert names(load_manifests([str(f)])) == ["x", "y"]


def test_directory_needs_recursive_for_subdirectories(tmp_path: Path) -> None:
    write(tmp_path / "d" / "1.yaml", CM.format(name="one"))
    write(tmp_path / "d" / "2.yml", CM.format(name="two"))
    write(tmp_path / "d" / "notes.txt", "not a manifest")
    write(
        tmp_path / "d" / "sub" / "3.json",
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"three"}}',
    )
    assert names(load_manifests([str(tmp_path / "d")])) == ["one", "two"]
    assert names(load_manifests([str(tmp_path / "d")], recursive=True)) == ["one", "two", "three"]


def test_stdin_and_several_sources_keep_order(tmp_path: Path) -> None:
    f = write(tmp_path / "z.yaml", CM.format(name="file"))
    ms = load_manifests([str(f), "-"], stdin=io.StringIO(CM.format(name="stdin")))
    assert names(ms) == ["file", "stdin"]
    assert ms[1].source == "STDIN"


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match='the path ".*nope.yaml" does not exist'):
        load_manifests([str(tmp_path / "nope.yaml")])


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    f = write(
        tmp_path / "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n"
    )
    with pytest.raises(CliError) as e:
        load_manifests([str(f)])
    assert "bad.yaml" in e.value.message and "line 5" in e.value.message
    assert "\n" not in e.value.message


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name"),
        ("- just\n- a list\n", "not an object"),
    ],
)
def test_incomplete_objects_are_refused(tmp_path: Path, text: str, missing: str) -> None:
    f = write(tmp_path / "x.yaml", text)
    with pytest.raises(CliError, match=missing):
        load_manifests([str(f)])


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CliError, match="no manifests"):
        load_manifests([str(tmp_path / "empty")])


def test_resolve_manifest_kind_and_namespace() -> None:
    m = Manifest({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}}, "f")
    info, ns = resolve_manifest(m, "team", explicit_namespace=False)
    assert info.plural == "deployments" and ns == "team"
    assert m.obj["metadata"]["namespace"] == "team"
    node = Manifest(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "x"}}, "f"
    )
    assert resolve_manifest(node, "team", False)[1] is None
    other = Manifest(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}}, "f"
    )
    with pytest.raises(CliError, match="does not match the namespace"):
        resolve_manifest(other, "b", explicit_namespace=True)
    unknown = Manifest({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}, "f.yaml")
    with pytest.raises(CliError, match='no matches for kind "Widget" in version "v1"'):
        resolve_manifest(unknown, "default", False)
