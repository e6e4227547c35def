"""The ServiceAccounts controller in a real controller manager (its own identity, so RBAC
is exercised too): every namespace gets its ``default`` account, a deleted one comes back,
the real kubectl lists and creates accounts, and the official Python client's wait for the
default account after creating a namespace succeeds; a deleted namespace is not held up."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch

from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.harness import ApiServer
from tests.wait import wait_for

KUBECTL = Path("/usr/bin/kubectl")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(shared_apiserver: ApiServer) -> Iterator[Cluster]:
    with Cluster.on(shared_apiserver) as cl:
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        yield cl


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = "sa-" + uuid.uuid4().hex[:8]
    cluster.client.create("namespaces", {"metadata": {"name": name}})
    return name


def default_account(cluster: Cluster, ns: str) -> Any:
    """The namespace's default ServiceAccount (raises 404 while there is none)."""
    return cluster.client.get("serviceaccounts", "default", ns)


def kubectl(cluster: Cluster, tmp_path: Path, *args: str) -> str:
    env = {"KUBECONFIG": str(cluster.api.kubeconfig), "HOME": str(tmp_path)}
    env["PATH"] = os.environ.get("PATH", "/usr/bin")
    p = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
    return p.stdout


def test_every_namespace_gets_default_and_it_comes_back(cluster: Cluster, ns: str) -> None:
    first = wait_for(lambda: default_account(cluster, ns), f"{ns}/default created", 15)
    # The namespaces the apiserver makes at first start get theirs too.
    for builtin in ("default", "kube-system"):
        wait_for(partial(default_account, cluster, builtin), f"{builtin}/default created", 15)

    cluster.client.delete("serviceaccounts", "default", ns)

    def recreated() -> bool:
        return bool(default_account(cluster, ns)["metadata"]["uid"] != first["metadata"]["uid"])

    wait_for(recreated, f"{ns}/default created again", 15)


@pytest.mark.skipif(not KUBECTL.exists(), reason="the real kubectl is /usr/bin/kubectl")
def test_kubectl_lists_and_creates_service_accounts(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    wait_for(lambda: default_account(cluster, ns), f"{ns}/default created", 15)
    # kubectl create sends protobuf: the apiserver must decode a ServiceAccount.
    out = kubectl(cluster, tmp_path, "create", "serviceaccount", "robot", "-n", ns)
    assert out.strip() == "serviceaccount/robot created"
    rows = [line.split() for line in kubectl(cluster, tmp_path, "get", "sa", "-n", ns).splitlines()]
    assert rows[0] == ["NAME", "SECRETS", "AGE"]
    assert sorted(r[:2] for r in rows[1:]) == [["default", "0"], ["robot", "0"]]


def test_python_client_waits_for_the_default_account(cluster: Cluster) -> None:
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(cluster.api.kubeconfig), client_configuration=cfg)
    name = "py-" + uuid.uuid4().hex[:8]
    with k8s.ApiClient(cfg) as api:
        core = k8s.CoreV1Api(api)
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        # What test frameworks do before using a new namespace (Kubernetes' e2e
        # WaitForDefaultServiceAccountInNamespace): watch for the account by name.
        seen = None
        for event in watch.Watch().stream(
            core.list_namespaced_service_account,
            name,
            field_selector="metadata.name=default",
            timeout_seconds=30,
        ):
            seen = event["object"]
            break
        assert seen is not None, "no default ServiceAccount within 30 s"
        assert (seen.metadata.name, seen.metadata.namespace) == ("default", name)


def test_deleted_namespace_goes_with_its_account(cluster: Cluster, ns: str) -> None:
    wait_for(lambda: default_account(cluster, ns), f"{ns}/default created", 15)
    cluster.client.delete("namespaces", ns)

    def gone() -> bool:
        names = {n["metadata"]["name"] for n in cluster.client.list("namespaces")["items"]}
        return ns not in names

    # Not recreated into the terminating namespace, which would keep it from going.
    wait_for(gone, f"namespace {ns} removed", 30)
    assert cluster.client.list("serviceaccounts", ns)["items"] == []
