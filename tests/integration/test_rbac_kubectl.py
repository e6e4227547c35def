"""RBAC objects through the real kubectl: a user's token bound to a namespaced Role may do
exactly what the Role says; the kinds round-trip through apply, get -o yaml, describe and
delete, and appear in api-resources."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from apiserver.auth import add_token
from apiserver.main import write_kubeconfig
from tests.harness import ApiServer

KUBECTL = Path("/usr/bin/kubectl")
pytestmark = [
    pytest.mark.skipif(not KUBECTL.exists(), reason="the real kubectl is /usr/bin/kubectl"),
    pytest.mark.timeout(180),
]

ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "pod-reader", "namespace": "team-a"},
    "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ],
}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "alice-reads-pods", "namespace": "team-a"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
    "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
}


def kubectl(
    cfg: Path, home: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"KUBECONFIG": str(cfg), "HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin")}
    return subprocess.run(
        [str(KUBECTL), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def ok(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 0, f"{p.args}: {p.stderr}"
    return p.stdout


def refused(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode != 0, f"{p.args} unexpectedly succeeded: {p.stdout}"
    # kubectl's generic verbs print "Error from server (Forbidden)", its create generators
    # "error: failed to create ...: ... is forbidden".
    assert "Error from server (Forbidden)" in p.stderr or " is forbidden: " in p.stderr, p.stderr
    return p.stderr


def user_kubeconfig(srv: ApiServer, user: str, groups: list[str] | None = None) -> Path:
    token = add_token(srv.home / "tokens.csv", user, groups or [])
    path = srv.home / f"{user}.kubeconfig"
    write_kubeconfig(path, srv.url, srv.ca_file.read_bytes(), token, user=user)
    return path


@pytest.fixture
def admin(apiserver: ApiServer, tmp_path: Path) -> tuple[Path, Path]:
    return apiserver.kubeconfig, tmp_path


def test_user_bound_to_a_role_can_do_exactly_what_it_says(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    adm, home = apiserver.kubeconfig, tmp_path
    ok(kubectl(adm, home, "create", "namespace", "team-a"))
    ok(kubectl(adm, home, "create", "namespace", "team-b"))
    ok(kubectl(adm, home, "apply", "-f", "-", stdin=yaml.safe_dump_all([ROLE, BINDING])))
    ok(kubectl(adm, home, "-n", "team-a", "run", "web", "--image=nginx"))
    alice = user_kubeconfig(apiserver, "alice")

    assert "web" in ok(kubectl(alice, home, "-n", "team-a", "get", "pods"))
    ok(kubectl(alice, home, "-n", "team-a", "create", "configmap", "c1", "--from-literal=a=b"))
    err = refused(kubectl(alice, home, "-n", "team-a", "delete", "configmap", "c1"))
    assert 'User "alice" cannot delete resource "configmaps" in API group ""' in err
    assert 'in the namespace "team-a"' in err
    refused(kubectl(alice, home, "-n", "team-a", "delete", "pod", "web"))
    refused(kubectl(alice, home, "-n", "team-a", "get", "secrets"))
    refused(kubectl(alice, home, "-n", "team-b", "get", "pods"))
    refused(kubectl(alice, home, "get", "pods", "--all-namespaces"))
    refused(kubectl(alice, home, "get", "nodes"))
    refused(kubectl(alice, home, "-n", "team-a", "get", "roles"))
    # The refused delete changed nothing.
    assert "c1" in ok(kubectl(adm, home, "-n", "team-a", "get", "configmaps"))

    # Round trips: get -o yaml, describe, delete; once unbound, alice reads nothing.
    got = yaml.safe_load(
        ok(kubectl(adm, home, "-n", "team-a", "get", "role", "pod-reader", "-o", "yaml"))
    )
    assert got["rules"] == ROLE["rules"]
    desc = ok(kubectl(adm, home, "-n", "team-a", "describe", "rolebinding", "alice-reads-pods"))
    assert "Role:" in desc and "pod-reader" in desc and "alice" in desc
    desc = ok(kubectl(adm, home, "-n", "team-a", "describe", "role", "pod-reader"))
    assert "pods" in desc and "[get list watch]" in desc
    table = ok(kubectl(adm, home, "-n", "team-a", "get", "rolebindings", "-o", "wide"))
    assert table.split("\n")[0].split() == [
        "NAME",
        "ROLE",
        "AGE",
        "USERS",
        "GROUPS",
        "SERVICEACCOUNTS",
    ]
    assert "Role/pod-reader" in table and "alice" in table
    ok(kubectl(adm, home, "-n", "team-a", "delete", "rolebinding", "alice-reads-pods"))
    refused(kubectl(alice, home, "-n", "team-a", "get", "pods"))


def test_bootstrap_roles_are_objects_a_user_can_read_and_change(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    adm, home = apiserver.kubeconfig, tmp_path
    names = ok(kubectl(adm, home, "get", "clusterroles", "-o", "name")).split()
    for role in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:node",
        "system:kube-scheduler",
        "system:kube-controller-manager",
    ):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names
    table = ok(kubectl(adm, home, "get", "clusterrolebindings"))
    assert "ClusterRole/cluster-admin" in table
    # Binding the bootstrap view role lets bob read pods everywhere, never secrets.
    bob = user_kubeconfig(apiserver, "bob")
    refused(kubectl(bob, home, "get", "pods", "-A"))
    ok(
        kubectl(
            adm,
            home,
            "create",
            "clusterrolebinding",
            "bob-views",
            "--clusterrole=view",
            "--user=bob",
        )
    )
    ok(kubectl(bob, home, "get", "pods", "-A"))
    refused(kubectl(bob, home, "get", "secrets", "-A"))
    # Changing the view role changes what bob may do.
    view = yaml.safe_load(ok(kubectl(adm, home, "get", "clusterrole", "view", "-o", "yaml")))
    view.pop("aggregationRule", None)
    view["rules"] = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    ok(kubectl(adm, home, "replace", "-f", "-", stdin=yaml.safe_dump(view)))
    ok(kubectl(bob, home, "get", "secrets", "-A"))
    refused(kubectl(bob, home, "get", "pods", "-A"))


def test_api_resources_lists_the_rbac_kinds(apiserver: ApiServer, tmp_path: Path) -> None:
    out = ok(
        kubectl(
            apiserver.kubeconfig, tmp_path, "api-resources", "--api-group=rbac.authorization.k8s.io"
        )
    )
    rows = {line.split()[0]: line.split() for line in out.strip().split("\n")[1:]}
    assert rows["roles"][1:] == ["rbac.authorization.k8s.io/v1", "true", "Role"]
    assert rows["clusterroles"][1:] == ["rbac.authorization.k8s.io/v1", "false", "ClusterRole"]
    assert rows["rolebindings"][1:] == ["rbac.authorization.k8s.io/v1", "true", "RoleBinding"]
    assert rows["clusterrolebindings"][1:] == [
        "rbac.authorization.k8s.io/v1",
        "false",
        "ClusterRoleBinding",
    ]
    out = ok(kubectl(apiserver.kubeconfig, tmp_path, "api-resources", "--verbs=create",
                     "-o", "name"))  # fmt: skip
    for name in (
        "selfsubjectreviews.authentication.k8s.io",
        "tokenreviews.authentication.k8s.io",
        "localsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
    ):
        assert name in out.split()
    # Create-only: they are not listed among what can be got.
    out = ok(kubectl(apiserver.kubeconfig, tmp_path, "api-resources", "--verbs=list", "-o", "name"))
    assert "tokenreviews.authentication.k8s.io" not in out.split()


def _role(name: str, rules: list[dict[str, list[str]]], ns: str = "team-a") -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": ns},
        "rules": rules,
    }


def test_escalation_is_refused_with_kubernetes_message(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    adm, home = apiserver.kubeconfig, tmp_path
    ok(kubectl(adm, home, "create", "namespace", "team-a"))
    maker = _role(
        "role-maker",
        [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
             "verbs": ["create", "get", "update", "patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        ],
    )  # fmt: skip
    bind = {
        **BINDING,
        "metadata": {"name": "carol-makes", "namespace": "team-a"},
        "roleRef": {**BINDING["roleRef"], "name": "role-maker"},  # type: ignore[dict-item]
        "subjects": [{"kind": "User", "name": "carol", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    ok(kubectl(adm, home, "apply", "-f", "-", stdin=yaml.safe_dump_all([maker, bind])))
    carol = user_kubeconfig(apiserver, "carol")

    # What she holds she may grant; what she does not, not.
    ok(kubectl(carol, home, "create", "-f", "-", stdin=yaml.safe_dump(_role(
        "reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))))  # fmt: skip
    too_much = _role(
        "too-much",
        [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]}],
    )
    err = refused(kubectl(carol, home, "create", "-f", "-", stdin=yaml.safe_dump(too_much)))
    assert (
        'roles.rbac.authorization.k8s.io "too-much" is forbidden: user "carol" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["delete" "get"]}'
    ) in err
    assert kubectl(adm, home, "-n", "team-a", "get", "role", "too-much").returncode != 0
    # Nor by updating a role she may update.
    grown = _role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}])
    refused(kubectl(carol, home, "apply", "-f", "-", stdin=yaml.safe_dump(grown)))
    # Binding a role she does not hold (edit) is refused; one she holds is not.
    ok(
        kubectl(
            carol,
            home,
            "-n",
            "team-a",
            "create",
            "rolebinding",
            "r",
            "--role=reader",
            "--user=dave",
        )
    )
    err = refused(kubectl(carol, home, "-n", "team-a", "create", "rolebinding", "e",
                          "--clusterrole=edit", "--user=dave"))  # fmt: skip
    assert 'rolebindings.rbac.authorization.k8s.io "e" is forbidden: user "carol"' in err
    assert "is attempting to grant RBAC permissions not currently held" in err

    # The bind and escalate verbs lift the checks, as in Kubernetes.
    lift = _role(
        "lifter",
        [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
             "verbs": ["bind"], "resourceNames": ["edit"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
             "verbs": ["escalate"]},
        ],
    )  # fmt: skip
    lift_binding = {**bind, "metadata": {"name": "carol-lifts", "namespace": "team-a"},
                    "roleRef": {**BINDING["roleRef"], "name": "lifter"}}  # type: ignore[dict-item]  # fmt: skip
    ok(kubectl(adm, home, "apply", "-f", "-", stdin=yaml.safe_dump_all([lift, lift_binding])))
    ok(kubectl(carol, home, "-n", "team-a", "create", "rolebinding", "e",
               "--clusterrole=edit", "--user=dave"))  # fmt: skip
    ok(kubectl(carol, home, "create", "-f", "-", stdin=yaml.safe_dump(too_much)))


def test_auth_can_i_and_whoami_answer_from_rbac(apiserver: ApiServer, tmp_path: Path) -> None:
    adm, home = apiserver.kubeconfig, tmp_path
    ok(kubectl(adm, home, "create", "namespace", "team-a"))
    ok(kubectl(adm, home, "apply", "-f", "-", stdin=yaml.safe_dump_all([ROLE, BINDING])))
    alice = user_kubeconfig(apiserver, "alice", ["ml"])

    def can(cfg: Path, *args: str) -> tuple[int, str]:
        p = kubectl(cfg, home, "auth", "can-i", *args)
        return p.returncode, p.stdout.strip()

    assert can(alice, "list", "pods", "-n", "team-a") == (0, "yes")
    assert can(alice, "create", "configmaps", "-n", "team-a") == (0, "yes")
    assert can(alice, "delete", "configmaps", "-n", "team-a") == (1, "no")
    assert can(alice, "list", "pods", "-n", "team-b") == (1, "no")
    assert can(alice, "get", "secrets", "-n", "team-a") == (1, "no")
    assert can(alice, "list", "pods", "--all-namespaces") == (1, "no")
    assert can(adm, "delete", "nodes") == (0, "yes")
    # Another user's rights, asked by the admin (a SubjectAccessReview).
    for verb, allowed in (("list", True), ("delete", False)):
        sar = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "alice",
                "resourceAttributes": {"namespace": "team-a", "verb": verb, "resource": "pods"},
            },
        }
        got = yaml.safe_load(
            ok(kubectl(adm, home, "create", "-f", "-", "-o", "yaml", stdin=yaml.safe_dump(sar)))
        )
        assert got["status"]["allowed"] is allowed
        if allowed:
            assert got["status"]["reason"] == (
                'RBAC: allowed by RoleBinding "alice-reads-pods/team-a" of Role "pod-reader" '
                'to User "alice"'
            )
    # kubelab does not impersonate: --as is refused, never silently answered as the admin.
    p = kubectl(adm, home, "auth", "can-i", "delete", "pods", "--as=alice")
    assert p.returncode != 0 and "impersonat" in p.stderr.lower(), p.stderr

    listed = ok(kubectl(alice, home, "auth", "can-i", "--list", "-n", "team-a"))
    rows = {line.split()[0]: line for line in listed.strip().split("\n")[1:]}
    assert "[get list watch]" in rows["pods"] and "[create]" in rows["configmaps"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    assert "secrets" not in rows

    who = ok(kubectl(alice, home, "auth", "whoami"))
    assert "alice" in who and "ml" in who and "system:authenticated" in who
    # Reviewing others needs its own permission.
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}}}  # fmt: skip
    refused(kubectl(alice, home, "create", "-f", "-", stdin=yaml.safe_dump(sar)))
