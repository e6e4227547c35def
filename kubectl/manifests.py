"""Reading manifests for ``-f``: files, directories (``-R``), ``-`` for stdin, multi-document
YAML or JSON, and ``List`` objects whose items are applied one by one."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from api.errors import ApiError
from api.registry import ResourceInfo, by_kind
from kubectl import resources
from kubectl.errors import CliError, one_line

# kubectl reads only these from a directory.
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass
class Manifest:
    """One object read from a source (a file path or ``-``)."""

    obj: dict[str, Any]
    source: str


def expand_paths(paths: list[str], recursive: bool) -> list[str]:
    """Files named by ``-f`` values: files as given, directories listed (recursively with
    ``-R``) for .yaml/.yml/.json files in name order, ``-`` kept as is."""
    files: list[str] = []
    for p in paths:
        if p == "-":
            files.append(p)
            continue
        path = Path(p)
        if not path.exists():
            raise CliError(f'the path "{p}" does not exist')
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(
                str(f)
                for f in path.glob(pattern)
                if f.is_file() and f.suffix in MANIFEST_EXTENSIONS
            )
            files.extend(found)
        else:
            files.append(str(path))
    return files


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return one_line(f"error parsing {source}: {problem}{where}")


def parse_documents(text: str, source: str) -> list[Manifest]:
    """Every object in ``text``: YAML documents (``---``) or JSON, Lists flattened."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise CliError(_yaml_problem(source, e)) from e
    out: list[Manifest] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise CliError(
                f"error validating {source}: document {i + 1} is a {type(doc).__name__}, "
                "not an object with apiVersion, kind and metadata"
            )
        kind = str(doc.get("kind", ""))
        if kind.endswith("List") and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if isinstance(item, dict):
                    out.append(Manifest(item, source))
            continue
        out.append(Manifest(doc, source))
    for m in out:
        validate_manifest(m)
    return out


def validate_manifest(m: Manifest) -> None:
    """The fields kubectl refuses to go without: apiVersion, kind, metadata.name."""
    missing = [f for f in ("apiVersion", "kind") if not m.obj.get(f)]
    meta = m.obj.get("metadata")
    if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
        missing.append("metadata.name")
    if missing:
        raise CliError(
            f"error validating {m.source}: {', '.join(missing)} not set "
            "(every object needs apiVersion, kind and metadata.name)"
        )


def load_manifests(
    paths: list[str], recursive: bool = False, stdin: IO[str] | None = None
) -> list[Manifest]:
    """Read every object named by ``-f`` values, in order."""
    out: list[Manifest] = []
    files = expand_paths(paths, recursive)
    if not files:
        raise CliError(f"no manifests (.yaml, .yml, .json) found in {', '.join(paths)}")
    for f in files:
        if f == "-":
            text = (stdin or sys.stdin).read()
            source = "STDIN"
        else:
            try:
                text = Path(f).read_text()
            except OSError as e:
                raise CliError(f"cannot read {f}: {e.strerror or e}") from e
            source = f
        out.extend(parse_documents(text, source))
    return out


def resolve_manifest(
    m: Manifest, namespace: str, explicit_namespace: bool
) -> tuple[ResourceInfo, str | None]:
    """The registry entry and namespace for a manifest object; sets metadata.namespace on
    namespaced objects that have none, as kubectl does."""
    obj = m.obj
    meta = obj.setdefault("metadata", {})
    info = by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
    if info is None and resources.discover is not None:
        resources.discover()  # a custom kind, perhaps from a CRD applied just before
        info = by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
    if info is None:
        raise CliError(
            f'resource mapping not found for name: "{meta.get("name", "")}" from '
            f'"{m.source}": no matches for kind "{obj.get("kind")}" in version '
            f'"{obj.get("apiVersion")}" (see kl api-resources)'
        )
    if not info.namespaced:
        meta.pop("namespace", None)
        return info, None
    ns = meta.get("namespace")
    if ns and explicit_namespace and ns != namespace:
        raise CliError(
            f'the namespace from the provided object "{ns}" does not match the namespace '
            f'"{namespace}"; pass --namespace={ns} to act on it'
        )
    if not ns:
        ns = namespace
        meta["namespace"] = ns
    return info, str(ns)


class ObjectError(Exception):
    """One manifest object that the server refused while kl was ``action`` it
    ("creating", "patching", ...): reported on its own line, the others still go."""

    def __init__(self, action: str, error: ApiError) -> None:
        super().__init__(error.message)
        self.action = action
        self.error = error


def failure_line(m: Manifest, e: Exception) -> str:
    """kubectl's line for an object that failed: ``Error from server (Reason): error when
    creating "web.yaml": ...`` for what the server refused, ``error: ...`` for the rest."""
    if isinstance(e, ObjectError):
        err = e.error
        return (
            f"Error from server ({err.reason}): error when {e.action} "
            f'"{m.source}": {one_line(err.message)}'
        )
    if isinstance(e, ApiError):
        return f"Error from server ({e.reason}): {one_line(e.message)}"
    return f"error: {one_line(str(e))}"


def unauthorized(e: Exception) -> ApiError | None:
    """The 401 behind ``e``: the token is refused for every object alike, so kl stops and
    says so once instead of once per object."""
    err = e.error if isinstance(e, ObjectError) else e
    return err if isinstance(err, ApiError) and err.code == 401 else None
