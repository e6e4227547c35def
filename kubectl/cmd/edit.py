"""``kl edit``: open objects in ``$KUBE_EDITOR``/``$EDITOR`` (default ``vi``) and patch
what was changed, as kubectl does: an invalid save reopens the file with the server's
reasons at the top; saving the same invalid text again keeps the file and gives up."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo
from kubectl.cli import add_file_flags, add_verb
from kubectl.context import Ctx
from kubectl.editbuffer import (
    Reason,
    edit_objects,
    for_editing,
    invalid_reason,
    is_empty,
    match_edited,
    render_header,
    strip_comments,
    syntax_reason,
)
from kubectl.errors import CliError, one_line
from kubectl.fieldvalidation import add_validate_flag
from kubectl.printers.names import info_for, kind_prefix, plural_prefix
from kubectl.resources import parse_targets

EXAMPLES = """
  kl edit deploy/web                       # in $KUBE_EDITOR, else $EDITOR, else vi
  KUBE_EDITOR=nano kl edit svc web
  kl edit deploy web -o json               # edit as JSON
  kl edit -f web.yaml                      # the objects a manifest names
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "edit", "Edit objects on the server in your editor", EXAMPLES)
    p.add_argument("targets", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    add_file_flags(p)
    p.add_argument(
        "-o",
        "--output",
        choices=["yaml", "json"],
        default="yaml",
        help="the format to edit in (default yaml)",
    )
    add_validate_flag(p)
    p.set_defaults(run=run)


class EditorFailed(CliError):
    pass


def editor_of(env: dict[str, str] | os._Environ[str]) -> str:
    """kubectl's rule: ``$KUBE_EDITOR``, else ``$EDITOR``, else ``vi``."""
    return (env.get("KUBE_EDITOR") or env.get("EDITOR") or "vi").strip()


def editor_command(path: str, env: dict[str, str] | os._Environ[str]) -> list[str]:
    """The command that edits ``path``; an editor with arguments (``code --wait``) runs
    through the shell, as kubectl runs it."""
    editor = editor_of(env)
    if " " not in editor:
        return [editor, path]
    return [env.get("SHELL") or "/bin/sh", "-c", f"{editor} {shlex.quote(path)}"]


def launch(text: str, ext: str) -> tuple[str, str]:
    """Write ``text`` to a fresh temp file, run the editor on it; (edited text, file)."""
    fd, path = tempfile.mkstemp(prefix="kl-edit-", suffix=ext)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    editor = editor_of(os.environ)
    try:
        rc = subprocess.call(editor_command(path, os.environ))
    except OSError:
        os.remove(path)
        raise EditorFailed(f'unable to launch the editor "{editor}"') from None
    if rc != 0:
        os.remove(path)  # what the user saved before is in the previous file, kept
        raise EditorFailed(f'there was a problem with the editor "{editor}"')
    with open(path) as f:
        return f.read(), path


def _fetch(ctx: Ctx) -> list[tuple[ResourceInfo, dict[str, Any]]]:
    a = ctx.args
    names: list[tuple[ResourceInfo, str, str | None]] = []
    if a.filename:
        if a.targets:
            raise CliError("name the objects either with -f or as TYPE NAME, not both")
        from kubectl.manifests import load_manifests, resolve_manifest

        for m in load_manifests(a.filename, a.recursive, ctx.stdin):
            info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
            names.append((info, str(m.obj["metadata"].get("name", "")), ns))
    else:
        if not a.targets:
            raise CliError("you must provide one or more resources by argument or filename")
        for t in parse_targets(a.targets):
            if not t.names:
                raise CliError(f"name the {t.info.plural} to edit: kl edit TYPE NAME")
            for n in t.names:
                names.append((t.info, n, ctx.namespace if t.info.namespaced else None))
    out = []
    for info, name, ns in names:
        obj = ctx.client.get(info, name, ns)
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        out.append((info, for_editing(obj)))
    return out


def _serialise(objects: list[dict[str, Any]], fmt: str) -> str:
    from kubectl.printers.serial import to_json, to_yaml

    data = edit_objects(objects)
    return to_json(data) if fmt == "json" else to_yaml(data)


def _parse(text: str) -> list[dict[str, Any]]:
    """The objects in the saved file; raises ValueError with the problem."""
    import yaml

    try:
        data = yaml.safe_load(strip_comments(text))
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{problem}{where}") from e
    if not isinstance(data, dict):
        raise ValueError("the file must hold an object")
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        items = data["items"]
        if not all(isinstance(i, dict) for i in items):
            raise ValueError("every item of the List must be an object")
        return items
    return [data]


def _preserved(ctx: Ctx, path: str, message: str) -> CliError:
    if os.path.exists(path):
        ctx.err(f'A copy of your changes has been stored to "{path}"')
    return CliError(message)


def run(ctx: Ctx) -> int:
    from kubectl.applypatch import three_way_patch

    a = ctx.args
    fetched = _fetch(ctx)
    originals = [o for _, o in fetched]
    info_of = {id(o): i for i, o in fetched}
    ext = ".json" if a.output == "json" else ".yaml"
    original_body = _serialise(originals, a.output)
    reasons: list[Reason] = []
    edited = ""
    file = ""
    in_error = False
    while True:
        body = strip_comments(edited) if in_error else original_body
        previous = edited
        try:
            edited, new_file = launch(render_header(reasons) + body, ext)
        except EditorFailed as e:
            raise _preserved(ctx, file, e.message) from None
        if in_error and strip_comments(previous) == strip_comments(edited):
            os.remove(file)  # the same text as the new file's: one copy is kept
            raise _preserved(ctx, new_file, "Edit cancelled, no valid changes were saved.")
        if file:
            os.remove(file)
        file = new_file
        if strip_comments(edited) == original_body:
            os.remove(file)
            ctx.err("Edit cancelled, no changes made.")
            return 0
        if is_empty(edited):
            os.remove(file)
            ctx.err("Edit cancelled, saved file was empty.")
            return 0
        try:
            pairs = match_edited(originals, _parse(edited))
        except ValueError as e:
            if str(e).startswith(("At least one", "no original")):
                raise _preserved(ctx, file, str(e)) from None
            reasons, in_error = [syntax_reason(str(e))], True
            continue
        reasons, retryable, notfound = [], 0, 0
        for original, new in pairs:
            info = info_of.get(id(original)) or info_for(original)
            assert info is not None  # fetched through the registry
            meta = original.get("metadata") or {}
            name, ns = str(meta.get("name", "")), meta.get("namespace")
            new_ns = (new.get("metadata") or {}).get("namespace")
            if info.namespaced and new_ns != ns:
                raise _preserved(
                    ctx,
                    file,
                    f'the namespace from the provided object "{new_ns}" does not match the '
                    f'namespace "{ns}"; an edit cannot move an object',
                )
            patch = three_way_patch(original, new, original)
            if not patch:
                ctx.out(f"{kind_prefix(info)}/{name} skipped")
                continue
            try:
                ctx.client.patch(
                    info, name, patch, ns, patch_type="strategic", field_validation=a.validate
                )
            except ApiError as e:
                what = f'{plural_prefix(info)} "{name}"'
                if e.code in (401, 403):
                    raise _preserved(ctx, file, one_line(e.message)) from e
                if e.code == 422:
                    causes = [(c.field, c.message) for c in e.causes] or [("", e.message)]
                    reasons.append(invalid_reason(plural_prefix(info), name, causes))
                    ctx.err(f"error: {what} is invalid")
                elif e.code == 404:
                    notfound += 1
                    ctx.err(f"error: {what} could not be found on the server")
                else:
                    retryable += 1
                    ctx.err(f"error: {what} could not be patched: {one_line(e.message)}")
                continue
            ctx.out(f"{kind_prefix(info)}/{name} edited")
        if retryable:
            ctx.err(f"You can run `kl replace -f {file}` to try this update again.")
            return 1
        if notfound:
            ctx.err(f'The edits you made on deleted resources have been saved to "{file}"')
            return 1
        if not reasons:
            os.remove(file)
            return 0
        in_error = True
