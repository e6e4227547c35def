"""The pure parts of ``kl patch``, ``kl edit`` and ``kl replace``: reading the patch the
user gave, applying it locally for ``--dry-run=client``, wording the outcome, and the
edit file's header and comments (kubectl/patches.py, kubectl/editbuffer.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl.cmd.edit import editor_command
from kubectl.editbuffer import (
    HEADER,
    edit_objects,
    for_editing,
    invalid_reason,
    is_empty,
    match_edited,
    render_header,
    strip_comments,
    syntax_reason,
)
from kubectl.errors import CliError
from kubectl.patches import (
    apply_locally,
    check_patch_type,
    parse_dry_run,
    patch_body,
    patch_outcome,
    patch_text,
)

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "uid": "u1", "resourceVersion": "7"},
    "spec": {
        "replicas": 2,
        "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}},
    },
}


def test_patch_types_are_kubectls_three_with_its_message() -> None:
    for t in ("json", "merge", "strategic"):
        assert check_patch_type(t) == t
    with pytest.raises(CliError) as e:
        check_patch_type("apply")
    assert e.value.message == '--type must be one of [json merge strategic], not "apply"'


def test_dry_run_values() -> None:
    assert parse_dry_run("server") == "server"
    assert parse_dry_run("client") == "client"
    assert parse_dry_run(None) == "client"  # bare --dry-run
    assert parse_dry_run("none") == "none"
    with pytest.raises(CliError, match="Must be"):
        parse_dry_run("all")


def test_the_patch_comes_from_exactly_one_of_p_and_patch_file(tmp_path: Path) -> None:
    f = tmp_path / "fix.yaml"
    f.write_text("spec: {replicas: 3}\n")
    assert patch_text(None, str(f)) == "spec: {replicas: 3}\n"
    assert patch_text("{}", None) == "{}"
    with pytest.raises(CliError, match="cannot specify --patch and --patch-file together"):
        patch_text("{}", str(f))
    with pytest.raises(CliError, match="must specify --patch or --patch-file"):
        patch_text(None, None)
    with pytest.raises(CliError, match="no such file or directory"):
        patch_text(None, str(tmp_path / "missing"))


def test_json_goes_as_written_and_yaml_becomes_json() -> None:
    # As kubectl's yaml.ToJSON: a body starting with '{' is sent untouched, so the
    # server's JSON error names the problem.
    assert patch_body('{"spec": {bad') == b'{"spec": {bad'
    assert json.loads(patch_body("spec:\n  replicas: 3\n")) == {"spec": {"replicas": 3}}
    assert json.loads(patch_body("- op: remove\n  path: /x\n")) == [{"op": "remove", "path": "/x"}]
    with pytest.raises(CliError, match="unable to parse"):
        patch_body("spec: [unclosed")


def test_client_dry_run_applies_each_patch_type_locally() -> None:
    merged = apply_locally(DEPLOY, b'{"spec":{"replicas":5}}', "merge")
    assert merged["spec"]["replicas"] == 5
    ops = b'[{"op":"replace","path":"/spec/replicas","value":1}]'
    assert apply_locally(DEPLOY, ops, "json")["spec"]["replicas"] == 1
    # strategic: containers merge by name (a merge patch would replace the list)
    smp = b'{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"y"}]}}}}'
    names = [
        c["name"]
        for c in apply_locally(DEPLOY, smp, "strategic")["spec"]["template"]["spec"]["containers"]
    ]
    assert names == ["a", "b"]
    assert DEPLOY["spec"]["replicas"] == 2  # the input is not changed
    with pytest.raises(CliError, match="list of operations"):
        apply_locally(DEPLOY, b'{"op":"x"}', "json")
    with pytest.raises(CliError, match="cannot be applied"):
        apply_locally(DEPLOY, b'[{"op":"replace","path":"/spec/nope/x","value":1}]', "json")


def test_no_change_ignores_only_the_resource_version() -> None:
    after = json.loads(json.dumps(DEPLOY))
    after["metadata"]["resourceVersion"] = "8"
    assert patch_outcome(DEPLOY, after) == "patched (no change)"
    after["spec"]["replicas"] = 3
    assert patch_outcome(DEPLOY, after) == "patched"


def test_header_lists_each_failure_as_kubectl_writes_it() -> None:
    assert render_header([]) == HEADER
    reason = invalid_reason(
        "deployments.apps", "web", [("spec.replicas", "Invalid value: -1: must be >= 0")]
    )
    assert render_header([reason]) == HEADER + (
        '# deployments.apps "web" was not valid:\n'
        "# * spec.replicas: Invalid value: -1: must be >= 0\n"
        "#\n"
    )
    syntax = render_header([syntax_reason("did not find expected key\nline 3")])
    assert syntax.endswith(
        "# The edited file had a syntax error: did not find expected key line 3\n#\n"
    )


def test_comments_are_stripped_and_an_all_comment_file_is_empty() -> None:
    text = HEADER + "# note\napiVersion: v1\n  # indented comment\nkind: Pod\n"
    assert strip_comments(text) == "apiVersion: v1\nkind: Pod\n"
    assert is_empty(HEADER + "\n  \n")
    assert not is_empty(text)


def test_several_objects_are_edited_as_a_list_and_managed_fields_are_hidden() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{"manager": "kl"}]}}
    assert "managedFields" not in for_editing(obj)["metadata"]
    assert "managedFields" in obj["metadata"]
    assert edit_objects([obj]) is obj
    assert edit_objects([obj, obj])["kind"] == "List"


def test_an_edit_may_not_change_kind_or_name() -> None:
    renamed = json.loads(json.dumps(DEPLOY))
    renamed["metadata"]["name"] = "other"
    with pytest.raises(ValueError, match="apiVersion, kind and name"):
        match_edited([DEPLOY], [renamed])
    same = json.loads(json.dumps(DEPLOY))
    same["spec"]["replicas"] = 9
    assert match_edited([DEPLOY], [same]) == [(DEPLOY, same)]


def test_editor_is_kube_editor_then_editor_then_vi() -> None:
    assert editor_command("/t/f.yaml", {"KUBE_EDITOR": "nano", "EDITOR": "vim"}) == [
        "nano",
        "/t/f.yaml",
    ]
    assert editor_command("/t/f.yaml", {"EDITOR": "vim"}) == ["vim", "/t/f.yaml"]
    assert editor_command("/t/f.yaml", {}) == ["vi", "/t/f.yaml"]
    # an editor with arguments runs through the shell, as kubectl runs it
    assert editor_command("/t/a b.yaml", {"EDITOR": "code --wait", "SHELL": "/bin/bash"}) == [
        "/bin/bash",
        "-c",
        "code --wait '/t/a b.yaml'",
    ]
