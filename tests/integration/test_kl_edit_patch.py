"""``kl patch``, ``kl edit`` and ``kl replace`` as a user runs them (a subprocess) against
a real apiserver; ``kl edit`` runs a scripted editor (a shell script editing with sed)."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
import yaml

from tests.harness import ApiServer
from tests.integration.kl_helpers import Kl, write

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""


@pytest.fixture(scope="module")
def srv(shared_apiserver: ApiServer) -> ApiServer:
    return shared_apiserver


@pytest.fixture
def k(srv: ApiServer, tmp_path: Path) -> Kl:
    kl = Kl(srv, "t-ep-" + uuid.uuid4().hex[:8])  # parametrized names would collide
    kl("create", "namespace", kl.ns).ok()
    kl("apply", "-f", write(tmp_path, "web.yaml", WEB)).ok()
    return kl


def replicas(k: Kl) -> int:
    return int(k.c.get("deployments", "web", k.ns)["spec"]["replicas"])


def editor(tmp_path: Path, body: str) -> dict[str, str]:
    """An EDITOR that keeps a copy of every file it is given (seen/1.yaml, 2.yaml, ...)
    and then runs ``body`` on it ($1 is the file, $n the how-many-th call); temp files go
    to tmp_path/tmp, so the test can tell which ones kl kept."""
    seen = tmp_path / "seen"
    seen.mkdir()
    (tmp_path / "tmp").mkdir()
    script = tmp_path / "editor.sh"
    script.write_text(
        f'#!/bin/sh\nn=$(( $(ls {seen} | wc -l) + 1 ))\ncp "$1" {seen}/$n.yaml\n{body}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"EDITOR": str(script), "KUBE_EDITOR": "", "TMPDIR": str(tmp_path / "tmp")}


def seen(tmp_path: Path) -> list[str]:
    files = sorted((tmp_path / "seen").iterdir(), key=lambda p: int(p.stem))
    return [p.read_text() for p in files]


def kept(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("kl-edit-*"))


# -- patch ---------------------------------------------------------------------------------


def test_patch_each_type_and_no_change(k: Kl) -> None:
    r = k("patch", "deploy", "web", "-p", '{"spec":{"replicas":3}}').ok()
    assert r.out == "deployment.apps/web patched\n"
    assert replicas(k) == 3
    r = k("patch", "deploy/web", "-p", '{"spec":{"replicas":3}}').ok()
    assert r.out == "deployment.apps/web patched (no change)\n"
    k("patch", "deploy", "web", "--type", "merge", "-p", "spec: {replicas: 4}").ok()
    assert replicas(k) == 4
    ops = '[{"op":"replace","path":"/spec/replicas","value":5}]'
    k("patch", "deploy", "web", "--type", "json", "-p", ops).ok()
    assert replicas(k) == 5


def test_strategic_patch_merges_containers_by_name(k: Kl) -> None:
    p = '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}'
    k("patch", "deploy", "web", "-p", p).ok()
    spec = k.c.get("deployments", "web", k.ns)["spec"]["template"]["spec"]
    assert sorted(c["name"] for c in spec["containers"]) == ["nginx", "side"]


def test_patch_file_subresource_and_output(k: Kl, tmp_path: Path) -> None:
    f = write(tmp_path, "fix.yaml", "spec:\n  replicas: 6\n")
    r = k("patch", "deploy", "web", "--patch-file", f, "-o", "name").ok()
    assert r.out == "deployment.apps/web\n"
    assert replicas(k) == 6
    r = k(
        "patch",
        "deploy",
        "web",
        "--subresource",
        "scale",
        "--type",
        "merge",
        "-p",
        '{"spec":{"replicas":1}}',
        "-o",
        "yaml",
    ).ok()
    assert yaml.safe_load(r.out)["kind"] == "Scale"
    assert replicas(k) == 1


def test_patch_dry_runs_store_nothing(k: Kl) -> None:
    r = k(
        "patch",
        "deploy",
        "web",
        "--dry-run=server",
        "-p",
        '{"spec":{"replicas":7}}',
        "-o",
        "jsonpath={.spec.replicas}",
    ).ok()
    assert r.out == "7"
    r = k(
        "patch",
        "deploy",
        "web",
        "--dry-run=client",
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":8}]',
        "-o",
        "jsonpath={.spec.replicas}",
    ).ok()
    assert r.out == "8"
    assert replicas(k) == 2


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--type", "foo", "-p", "{}"],
            'error: --type must be one of [json merge strategic], not "foo"',
        ),
        ([], "error: must specify --patch or --patch-file containing the contents of the patch"),
        (["-p", '{"spec":{"replicas":-1}}'], "spec.replicas"),
        (["--type", "json", "-p", '{"op":"x"}'], "array of operations"),
        (["--subresource", "foo", "-p", "{}"], 'no subresource "foo"'),
    ],
)
def test_patch_refusals_are_one_line_and_change_nothing(k: Kl, args: list[str], line: str) -> None:
    err = k("patch", "deploy", "web", *args).one_error_line()
    assert line in err
    assert replicas(k) == 2


def test_patch_without_a_name_or_of_a_missing_object(k: Kl) -> None:
    assert k("patch", "deploy", "-p", "{}").one_error_line() == (
        "error: resource(s) were provided, but no name was specified"
    )
    assert (
        'deployments.apps "nope" not found'
        in k("patch", "deploy", "nope", "-p", "{}").one_error_line()
    )


# -- edit ----------------------------------------------------------------------------------


def test_edit_patches_what_the_editor_changed(k: Kl, tmp_path: Path) -> None:
    env = editor(tmp_path, "sed -i 's/^  replicas: 2$/  replicas: 4/' \"$1\"")
    env["KUBE_EDITOR"], env["EDITOR"] = env["EDITOR"], "false"  # KUBE_EDITOR comes first
    r = k("edit", "deploy", "web", env=env).ok()
    assert r.out == "deployment.apps/web edited\n"
    assert replicas(k) == 4
    (opened,) = seen(tmp_path)
    assert opened.startswith("# Please edit the object below. Lines beginning with a '#'")
    assert "managedFields" not in opened
    assert kept(tmp_path) == []  # a successful edit leaves no file behind


def test_edit_without_a_change_is_cancelled(k: Kl, tmp_path: Path) -> None:
    r = k("edit", "deploy/web", env=editor(tmp_path, "true")).ok()
    assert r.err == "Edit cancelled, no changes made.\n"
    assert kept(tmp_path) == []


def test_edit_as_json(k: Kl, tmp_path: Path) -> None:
    env = editor(tmp_path, 'sed -i \'s/"replicas": 2/"replicas": 3/\' "$1"')
    k("edit", "deploy", "web", "-o", "json", env=env).ok()
    assert replicas(k) == 3


def test_an_invalid_edit_reopens_with_the_reason_then_gives_up(k: Kl, tmp_path: Path) -> None:
    env = editor(tmp_path, "sed -i 's/^  replicas: [0-9]*$/  replicas: -1/' \"$1\"")
    r = k("edit", "deploy", "web", env=env)
    assert r.rc == 1 and "Traceback" not in r.err
    first, second = seen(tmp_path)  # reopened once, then the same text again: give up
    assert "was not valid" not in first
    reason = second.split("#\n")[1]
    assert reason.startswith('# deployments.apps "web" was not valid:\n# * spec.replicas: ')
    assert "replicas: -1" in second  # the user's edit, kept
    (copy,) = kept(tmp_path)
    assert r.err.splitlines() == [
        'error: deployments.apps "web" is invalid',
        f'A copy of your changes has been stored to "{copy}"',
        "error: Edit cancelled, no valid changes were saved.",
    ]
    assert "replicas: -1" in copy.read_text()
    assert replicas(k) == 2


def test_an_invalid_edit_fixed_on_the_second_try_is_saved(k: Kl, tmp_path: Path) -> None:
    body = (
        'if [ "$n" = 1 ]; then sed -i "s/^  replicas: 2$/  replicas: -1/" "$1"; '
        'else sed -i "s/^  replicas: -1$/  replicas: 5/" "$1"; fi'
    )
    r = k("edit", "deploy", "web", env=editor(tmp_path, body)).ok()
    assert r.out == "deployment.apps/web edited\n"
    assert replicas(k) == 5
    assert "was not valid" in seen(tmp_path)[1]
    assert kept(tmp_path) == []


def test_a_syntax_error_reopens_the_file(k: Kl, tmp_path: Path) -> None:
    body = (
        'if [ "$n" = 1 ]; then sed -i "s/^spec:$/spec: [/" "$1"; '
        'else sed -i "s/^spec: \\[$/spec:/; s/^  replicas: 2$/  replicas: 3/" "$1"; fi'
    )
    k("edit", "deploy", "web", env=editor(tmp_path, body)).ok()
    assert "# The edited file had a syntax error: " in seen(tmp_path)[1]
    assert replicas(k) == 3


def test_an_unknown_field_is_refused_strictly_and_the_file_kept(k: Kl, tmp_path: Path) -> None:
    env = editor(tmp_path, "sed -i 's/^  replicas: 2$/  replicas: 3\\n  replicaz: 4/' \"$1\"")
    r = k("edit", "deploy", "web", env=env)
    assert r.rc == 1
    (copy,) = kept(tmp_path)
    assert r.err.splitlines() == [
        'error: deployments.apps "web" could not be patched: Deployment in version "v1" '
        'cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz"',
        f"You can run `kl replace -f {copy}` to try this update again.",
    ]
    assert replicas(k) == 2
    r = k("edit", "deploy", "web", "--validate=warn", env={**env, "TMPDIR": str(tmp_path)}).ok()
    assert 'Warning: unknown field "spec.replicaz"' in r.err
    assert replicas(k) == 3


def test_a_failing_editor_is_one_line(k: Kl, tmp_path: Path) -> None:
    env = {"EDITOR": "false", "KUBE_EDITOR": "", "TMPDIR": str(tmp_path)}
    assert k("edit", "deploy", "web", env=env).one_error_line() == (
        'error: there was a problem with the editor "false"'
    )
    assert list(tmp_path.glob("kl-edit-*")) == []


# -- replace -------------------------------------------------------------------------------


def test_replace_puts_the_file_in_place(k: Kl, tmp_path: Path) -> None:
    f = write(tmp_path, "web2.yaml", WEB.replace("replicas: 2", "replicas: 3"))
    assert k("replace", "-f", f).ok().out == "deployment.apps/web replaced\n"
    assert replicas(k) == 3
    r = k(
        "replace",
        "-f",
        write(tmp_path, "w4.yaml", WEB.replace("replicas: 2", "replicas: 4")),
        "--dry-run=server",
    ).ok()
    assert r.out == "deployment.apps/web replaced (server dry run)\n"
    assert replicas(k) == 3


def test_replace_force_recreates_the_object(k: Kl, tmp_path: Path) -> None:
    uid = k.c.get("deployments", "web", k.ns)["metadata"]["uid"]
    r = k("replace", "--force", "-f", write(tmp_path, "w.yaml", WEB)).ok()
    assert r.out == 'deployment.apps "web" deleted\ndeployment.apps/web replaced\n'
    assert k.c.get("deployments", "web", k.ns)["metadata"]["uid"] != uid
    assert k(
        "replace", "--force", "--dry-run=server", "-f", write(tmp_path, "x.yaml", WEB)
    ).one_error_line() == ("error: --dry-run can not be used when --force is set")


def test_replace_refusals_name_the_file(k: Kl, tmp_path: Path) -> None:
    f = write(tmp_path, "nope.yaml", WEB.replace("name: web", "name: nope"))
    r = k("replace", "-f", f)
    assert r.rc == 1
    assert r.err == (
        f'Error from server (NotFound): error when replacing "{f}": '
        'deployments.apps "nope" not found\n'
    )
    f = write(tmp_path, "unk.yaml", WEB.replace("replicas: 2", "replicaz: 2"))
    assert 'unknown field "spec.replicaz"' in k("replace", "-f", f).err


def test_several_objects_are_edited_as_one_list(k: Kl, tmp_path: Path) -> None:
    for name in ("a", "b"):
        k("create", "configmap", name, "--from-literal=mode=slow", "--from-literal=level=1").ok()
    # a's level goes (a removed key is deleted on the server); b is left as it was
    body = 'sed -i \'0,/level: "1"/{/level: "1"/d}\' "$1"'
    r = k("edit", "configmap", "a", "b", env=editor(tmp_path, body)).ok()
    assert r.out == "configmap/a edited\nconfigmap/b skipped\n"
    assert "kind: List" in seen(tmp_path)[0]
    assert k.c.get("configmaps", "a", k.ns)["data"] == {"mode": "slow"}
    assert k.c.get("configmaps", "b", k.ns)["data"] == {"mode": "slow", "level": "1"}
