"""`kl apply/create/delete -f` against a real apiserver: unknown fields refused by default
(``--validate``), the server's warnings printed, every object tried when one is refused,
and a re-applied stringData Secret unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.errors import ApiError
from apiserver.auth import add_token
from apiserver.authz import add_binding
from tests.harness import ApiServer
from tests.integration.kl_helpers import Kl, namespaced_kl, write

TYPO = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers:
      - name: c
        image: busybox
        comand: [sleep, "1000"]
"""
FIELD = "spec.template.spec.containers[0].comand"


@pytest.fixture(scope="module")
def srv(shared_apiserver: ApiServer) -> ApiServer:
    return shared_apiserver


@pytest.fixture
def k(srv: ApiServer, request: pytest.FixtureRequest) -> Kl:
    return namespaced_kl(srv, request.node.name)


def _container(k: Kl, name: str = "typo") -> dict[str, object]:
    dep = k.c.get("deployments", name, k.ns)
    return dict(dep["spec"]["template"]["spec"]["containers"][0])


def test_apply_refuses_a_misspelled_field_by_default(k: Kl, tmp_path: Path) -> None:
    f = write(tmp_path, "typo.yaml", TYPO)
    res = k("apply", "-f", f)
    assert res.rc == 1 and res.out == ""
    assert res.err == (
        f'Error from server (BadRequest): error when creating "{f}": Deployment in version '
        f'"v1" cannot be handled as a Deployment: strict decoding error: unknown field "{FIELD}"\n'
    )
    with pytest.raises(ApiError):
        k.c.get("deployments", "typo", k.ns)
    # The same through create -f, and on an object that exists (a patch): nothing changes.
    assert 'unknown field "' + FIELD in k("create", "-f", f).err
    k("apply", "-f", write(tmp_path, "ok.yaml", TYPO.replace("        comand", "        #"))).ok()
    res = k("apply", "-f", f)
    assert res.rc == 1
    assert f'error when patching "{f}"' in res.err and "strict decoding error" in res.err
    assert "comand" not in _container(k)


def test_validate_warn_prints_the_servers_warning_and_ignore_is_silent(
    k: Kl, tmp_path: Path
) -> None:
    f = write(tmp_path, "typo.yaml", TYPO)
    res = k("apply", "--validate=warn", "-f", f).ok()
    assert res.out == "deployment.apps/typo created\n"
    assert res.err == f'Warning: unknown field "{FIELD}"\n'
    assert "comand" not in _container(k)
    k("delete", "-f", f).ok()
    res = k("create", "--validate=false", "-f", f).ok()
    assert res.err == ""
    assert "comand" not in _container(k)
    # A generator validates too, and a bad value is a usage error.
    assert k("create", "namespace", "x", "--validate=sometimes").rc == 1


def test_apply_tries_every_object_and_reports_each_refusal(
    srv: ApiServer, k: Kl, tmp_path: Path
) -> None:
    user = f"editor-{k.ns}"
    token = add_token(srv.home / "tokens.csv", user, [])
    add_binding(srv.home / "rbac.yaml", user, "edit", [k.ns])

    def cm(name: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}

    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{k.ns}"}}
    typo = yaml.safe_load(TYPO)
    docs = [cm("first"), node, typo, cm("last")]
    f = write(tmp_path, "many.yaml", yaml.safe_dump_all(docs))
    res = k("apply", "--token", token, "-f", f)
    assert res.rc == 1
    assert res.out == "configmap/first created\nconfigmap/last created\n"
    lines = res.err.splitlines()
    assert len(lines) == 2, res.err
    assert lines[0].startswith("Error from server (Forbidden): error when ")
    assert f'"{f}": ' in lines[0] and user in lines[0]
    assert lines[1].startswith(f'Error from server (BadRequest): error when creating "{f}": ')
    assert {c["metadata"]["name"] for c in k.c.list("configmaps", k.ns)["items"]} >= {
        "first",
        "last",
    }

    # create -f and delete -f go on past a refusal the same way.
    k.c.delete("configmaps", "first", k.ns)
    k.c.delete("configmaps", "last", k.ns)
    res = k("create", "--token", token, "-f", f)
    assert res.rc == 1 and res.out == "configmap/first created\nconfigmap/last created\n"
    assert len(res.err.splitlines()) == 2
    res = k("delete", "--token", token, "--wait=false", "-f", f)
    assert res.rc == 1
    assert 'configmap "first" deleted' in res.out and 'configmap "last" deleted' in res.out
    assert f'Error from server (Forbidden): error when deleting "{f}": ' in res.err


def test_reapplied_string_data_secret_is_unchanged(k: Kl, tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        "stringData: {user: alice, password: s3cr3t}\ndata: {other: eA==}\n"
    )
    f = write(tmp_path, "secret.yaml", text)
    assert k("apply", "-f", f).ok().out == "secret/creds created\n"
    assert k("apply", "-f", f).ok().out == "secret/creds unchanged\n"
    # A changed value, and a key taken out, are still changes.
    write(tmp_path, "secret.yaml", text.replace("alice", "bob"))
    assert k("apply", "-f", f).ok().out == "secret/creds configured\n"
    write(tmp_path, "secret.yaml", text.replace("alice", "bob").replace(", password: s3cr3t", ""))
    assert k("apply", "-f", f).ok().out == "secret/creds configured\n"
    assert k.c.get("secrets", "creds", k.ns)["data"] == {"other": "eA==", "user": "Ym9i"}
    assert k("apply", "-f", f).ok().out == "secret/creds unchanged\n"
