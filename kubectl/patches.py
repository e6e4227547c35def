"""What ``kl patch`` decides without the server: which patch the user gave, its body, the
result of applying it locally (``--dry-run=client``) and how to word the outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubectl.errors import CliError, one_line

# kubectl's --type values, in the order its error message lists them.
PATCH_TYPES = ("json", "merge", "strategic")
DRY_RUN_MODES = ("none", "client", "server")


def check_patch_type(text: str) -> str:
    """``--type``: json, merge or strategic, refused as kubectl words it."""
    if text not in PATCH_TYPES:
        raise CliError(f'--type must be one of [{" ".join(PATCH_TYPES)}], not "{text}"')
    return text


def parse_dry_run(text: str | None) -> str:
    """``--dry-run[=none|client|server]``; a bare ``--dry-run`` means client (as kubectl)."""
    if text is None or text == "":
        return "client"
    mode = text.strip().lower()
    if mode in ("true", "false"):  # kubectl's deprecated boolean form
        return "client" if mode == "true" else "none"
    if mode not in DRY_RUN_MODES:
        raise CliError(f'Invalid dry-run value ({text}). Must be "none", "server", or "client".')
    return mode


def patch_text(patch: str | None, patch_file: str | None) -> str:
    """The patch the user gave with ``-p`` or ``--patch-file`` (exactly one of them)."""
    if patch is not None and patch_file is not None:
        raise CliError("cannot specify --patch and --patch-file together")
    if patch_file is not None:
        try:
            return Path(patch_file).read_text()
        except OSError as e:
            raise CliError(
                f"unable to read patch file: open {patch_file}: {(e.strerror or str(e)).lower()}"
            ) from e
    if not patch:
        raise CliError("must specify --patch or --patch-file containing the contents of the patch")
    return patch


def patch_body(text: str) -> bytes:
    """The body to send, as kubectl's yaml.ToJSON makes it: text that starts like JSON goes
    as written (the server's JSON error then names the problem), YAML becomes JSON."""
    if text.lstrip().startswith("{"):
        return text.encode()
    import yaml  # already loaded by the kubeconfig reader; imported here to keep it local

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        raise CliError(f'unable to parse "{one_line(text)}": {one_line(problem)}') from e
    return json.dumps(value).encode()


def apply_locally(obj: dict[str, Any], body: bytes, patch_type: str) -> dict[str, Any]:
    """``obj`` with the patch applied here, as ``--dry-run=client`` shows it (the server's
    own patch functions, so the answer is the one a real patch would give)."""
    from api.patch import PatchError, json_patch, merge_patch, strategic_merge_patch

    try:
        patch = json.loads(body)
    except ValueError as e:
        raise CliError(f"unable to parse the patch: {e}") from e
    try:
        if patch_type == "json":
            if not isinstance(patch, list):
                raise CliError("a JSON patch (--type json) must be a list of operations")
            return json_patch(obj, patch)
        if not isinstance(patch, dict):
            raise CliError(f"a {patch_type} patch must be an object, got {type(patch).__name__}")
        if patch_type == "merge":
            return merge_patch(obj, patch)
        return strategic_merge_patch(obj, patch, str(obj.get("kind", "")))
    except PatchError as e:
        raise CliError(f"the patch cannot be applied: {e.message}") from e


def _without_version(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def patch_outcome(before: dict[str, Any], after: dict[str, Any]) -> str:
    """``patched`` or ``patched (no change)``, as kubectl compares the object before and
    after. The resourceVersion is left out of the comparison: Kubernetes keeps it on a
    patch that changes nothing, kubelab's apiserver writes a new one."""
    if _without_version(before) == _without_version(after):
        return "patched (no change)"
    return "patched"
