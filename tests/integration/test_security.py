"""Authorization (roles, built-in identities, node rule) and Pod Security admission."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from apiserver.auth import add_token
from apiserver.authz import add_binding
from client import Client
from tests.harness import ApiServer


def _client_as(
    srv: ApiServer,
    user: str,
    groups: list[str] | None = None,
    role: str | None = None,
    namespaces: list[str] | None = None,
) -> Client:
    token = add_token(srv.home / "tokens.csv", user, groups or [])
    if role:
        add_binding(srv.home / "rbac.yaml", user, role, namespaces or [])
    return Client(srv.url, token=token, ca_file=str(srv.ca_file))


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def test_roles_edit_view_and_namespaces(apiserver: ApiServer) -> None:
    admin = apiserver.client()
    admin.create("namespaces", {"metadata": {"name": "team-a"}})
    admin.create("namespaces", {"metadata": {"name": "team-b"}})
    admin.create("secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, "team-a")
    alice = _client_as(apiserver, "alice", role="edit", namespaces=["team-a"])
    bob = _client_as(apiserver, "bob", role="view")
    nobody = _client_as(apiserver, "carol")

    alice.create("pods", _pod("mine"), "team-a")
    assert alice.get("pods", "mine", "team-a")["metadata"]["name"] == "mine"
    with pytest.raises(ApiError) as err:
        alice.create("pods", _pod("theirs"), "team-b")
    e = err.value
    assert e.code == 403 and e.reason == "Forbidden"
    assert 'User "alice"' in e.message and "create" in e.message and '"team-b"' in e.message
    with pytest.raises(ApiError) as err:  # edit does not cordon nodes
        alice.create("nodes", {"metadata": {"name": "n9"}})
    assert err.value.code == 403

    assert [p["metadata"]["name"] for p in bob.list("pods", "team-a")["items"]] == ["mine"]
    with pytest.raises(ApiError) as err:
        bob.delete("pods", "mine", "team-a")
    assert err.value.code == 403 and 'cannot delete resource "pods"' in err.value.message
    with pytest.raises(ApiError) as err:  # view never reads secrets
        bob.get("secrets", "s", "team-a")
    assert err.value.code == 403
    with pytest.raises(ApiError) as err:
        nobody.list("pods", "team-a")
    assert err.value.code == 403
    # Nothing was written by the refused requests.
    assert [p["metadata"]["name"] for p in admin.list("pods", "team-b")["items"]] == []


def test_node_identity_writes_only_its_own_objects(apiserver: ApiServer) -> None:
    admin = apiserver.client()
    n1 = _client_as(apiserver, "system:node:n1", ["system:nodes"])
    n2 = _client_as(apiserver, "system:node:n2", ["system:nodes"])
    n1.create("nodes", {"metadata": {"name": "n1"}})
    with pytest.raises(ApiError) as err:
        n1.create("nodes", {"metadata": {"name": "n3"}})
    assert err.value.code == 403
    n2.create("nodes", {"metadata": {"name": "n2"}})
    with pytest.raises(ApiError) as err:
        n2.patch("nodes", "n1", {"metadata": {"labels": {"x": "y"}}})
    assert err.value.code == 403 and 'User "system:node:n2"' in err.value.message
    n1.patch("nodes", "n1", {"metadata": {"labels": {"x": "y"}}})
    # A node reads Services and their endpoints (its proxy, the pods' variables) and
    # writes none of them.
    for resource in ("services", "endpoints", "endpointslices"):
        assert n1.list(resource, "default")["items"], resource  # the kubernetes Service's
    with pytest.raises(ApiError) as err:
        n1.delete("endpointslices", "kubernetes", "default")
    assert err.value.code == 403

    admin.create(
        "pods", {**_pod("p1"), "spec": {**_pod("p1")["spec"], "nodeName": "n1"}}, "default"
    )
    n1.patch("pods", "p1", {"status": {"phase": "Running"}}, "default", subresource="status")
    with pytest.raises(ApiError) as err:
        n2.patch("pods", "p1", {"status": {"phase": "Failed"}}, "default", subresource="status")
    assert err.value.code == 403
    with pytest.raises(ApiError) as err:
        n2.delete("pods", "p1", "default")
    assert err.value.code == 403
    assert admin.get("pods", "p1", "default")["status"]["phase"] == "Running"

    # Secrets: only those a pod bound to the node refers to.
    admin.create("secrets", {"metadata": {"name": "used"}, "stringData": {"a": "b"}}, "default")
    admin.create("secrets", {"metadata": {"name": "other"}, "stringData": {"a": "b"}}, "default")
    spec = {
        "nodeName": "n1",
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "used", "key": "a"}}}],
            }
        ],
    }
    admin.create("pods", {"metadata": {"name": "p2"}, "spec": spec}, "default")
    assert n1.get("secrets", "used", "default")["metadata"]["name"] == "used"
    with pytest.raises(ApiError) as err:
        n1.get("secrets", "other", "default")
    assert err.value.code == 403
    with pytest.raises(ApiError) as err:
        n2.get("secrets", "used", "default")
    assert err.value.code == 403


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"hostNetwork": True}, "spec.hostNetwork"),
        ({"hostPID": True}, "spec.hostPID"),
        ({"hostIPC": True}, "spec.hostIPC"),
        (
            {"volumes": [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]},
            "spec.volumes[0].hostPath",
        ),
        (
            {"containers": [{"name": "c", "image": "b", "securityContext": {"privileged": True}}]},
            "spec.containers[0].securityContext.privileged",
        ),
        (
            {
                "containers": [
                    {
                        "name": "c",
                        "image": "b",
                        "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}},
                    }
                ]
            },
            "spec.containers[0].securityContext.capabilities.add",
        ),
    ],
)
def test_pod_security_baseline(
    shared_apiserver: ApiServer, spec: dict[str, Any], field: str
) -> None:
    c = shared_apiserver.client()
    rv = c.list("pods")["metadata"]["resourceVersion"]
    body = _pod("risky")
    body["spec"].update(spec)
    with pytest.raises(ApiError) as err:
        c.create("pods", body, "default")
    assert err.value.code == 403
    assert (
        field in err.value.message
        and "pod-security.kubernetes.io/enforce=privileged" in err.value.message
    )
    assert c.list("pods")["metadata"]["resourceVersion"] == rv
    # The same pod in a namespace labelled privileged is admitted.
    ns = "priv-" + field.replace(".", "-").replace("[", "").replace("]", "").lower()[:40].strip("-")
    c.create(
        "namespaces",
        {"metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
    )
    c.create("pods", body, ns)


def test_pod_security_checks_workload_templates(shared_apiserver: ApiServer) -> None:
    c = shared_apiserver.client()
    d = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hn"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    with pytest.raises(ApiError) as err:
        c.create("deployments", d, "default")
    assert err.value.code == 403 and "spec.template.spec.hostNetwork" in err.value.message
