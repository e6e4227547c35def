"""The official Python ``kubernetes`` client (v37, pydantic models) against a kubelab cluster.

Every call deserialises the reply into the client's strict models, so a missing
required field or a wrong JSON type in what kubelab serves fails the test here
(API-COMPAT §11 and Appendix A). What each call changed is read back through
kubelab's own client.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch
from kubernetes.client.exceptions import ApiException

from api.errors import ApiError
from tests.compat.conftest import Cluster
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def api_client(cluster: Cluster) -> Iterator[k8s.ApiClient]:
    """An ApiClient configured by ``config.load_kube_config`` from kubelab's kubeconfig."""
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(cluster.api.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        yield api


@pytest.fixture
def core(api_client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api_client)


@pytest.fixture
def batch(api_client: k8s.ApiClient) -> k8s.BatchV1Api:
    return k8s.BatchV1Api(api_client)


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data,
    }


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.26") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def gone(cluster: Cluster, resource: str, name: str, ns: str | None) -> bool:
    try:
        cluster.api.client().get(resource, name, ns)
    except ApiError as exc:
        return exc.code == 404
    return False


def retry_on_conflict(write: Any, attempts: int = 5) -> Any:
    for _ in range(attempts - 1):
        try:
            return write()
        except ApiException as exc:
            if exc.status != 409:
                raise
    return write()


# ---------------------------------------------------------------- discovery


def test_version_and_discovery(api_client: k8s.ApiClient, core: k8s.CoreV1Api) -> None:
    info = k8s.VersionApi(api_client).get_code()
    assert (info.major, info.minor) == ("1", "35")
    assert info.git_version.startswith("v1.35.")
    versions = k8s.CoreApi(api_client).get_api_versions()
    assert versions.versions == ["v1"]
    groups = k8s.ApisApi(api_client).get_api_versions()
    assert {"apps", "batch"} <= {g.name for g in groups.groups}
    resources = {r.name: r for r in core.get_api_resources().resources}
    assert resources["pods"].singular_name == "pod"
    assert resources["pods/eviction"].group == "policy"
    apps_resources = {r.name for r in k8s.AppsV1Api(api_client).get_api_resources().resources}
    assert {"deployments", "deployments/scale", "replicasets"} <= apps_resources


# ---------------------------------------------------------------- core/v1


def test_configmap_create_read_list_patch_replace_delete(
    core: k8s.CoreV1Api, cluster: Cluster, namespace: str
) -> None:
    created = core.create_namespaced_config_map(namespace, cm("one", {"tier": "db"}, a="1"))
    assert created.metadata.uid and isinstance(created.metadata.resource_version, str)
    assert created.metadata.creation_timestamp is not None
    core.create_namespaced_config_map(namespace, cm("two", {"tier": "web"}, a="2"))

    got = core.read_namespaced_config_map("one", namespace)
    assert got.data == {"a": "1"} and got.metadata.labels == {"tier": "db"}

    listed = core.list_namespaced_config_map(namespace, label_selector="tier=db")
    assert [i.metadata.name for i in listed.items] == ["one"]
    assert isinstance(listed.metadata.resource_version, str)
    by_field = core.list_namespaced_config_map(namespace, field_selector="metadata.name=two")
    assert [i.metadata.name for i in by_field.items] == ["two"]
    set_based = core.list_namespaced_config_map(namespace, label_selector="tier in (db,web)")
    assert {i.metadata.name for i in set_based.items} == {"one", "two"}

    # A dict body is sent as a strategic merge patch.
    patched = core.patch_namespaced_config_map("one", namespace, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}

    # replace with the current resourceVersion succeeds; with a stale one, 409.
    current = core.read_namespaced_config_map("one", namespace)
    stale_rv = created.metadata.resource_version
    current.data = {"only": "this"}
    replaced = core.replace_namespaced_config_map("one", namespace, current)
    assert replaced.data == {"only": "this"}
    current.metadata.resource_version = stale_rv
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("one", namespace, current)
    assert exc.value.status == 409
    assert cluster.api.client().get("configmaps", "one", namespace)["data"] == {"only": "this"}

    core.delete_namespaced_config_map("one", namespace)
    assert gone(cluster, "configmaps", "one", namespace)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("one", namespace)
    assert exc.value.status == 404 and "NotFound" in exc.value.body


def test_json_patch_with_a_list_body(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, cm("jp", a="1"))
    out = core.patch_namespaced_config_map(
        "jp",
        namespace,
        [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}],
    )
    assert out.data == {"b": "2"}


def test_secret_service_serviceaccount_endpoints(
    core: k8s.CoreV1Api, cluster: Cluster, namespace: str
) -> None:
    sec = core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "pw"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}},
    )
    assert sec.data == {"password": "aHVudGVyMg=="}
    assert [s.metadata.name for s in core.list_namespaced_secret(namespace).items] == ["pw"]

    svc = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    assert svc.spec.ports[0].port == 80
    assert core.read_namespaced_service("web", namespace).spec.selector == {"app": "web"}

    sa = core.create_namespaced_service_account(namespace, {"metadata": {"name": "runner"}})
    assert sa.metadata.name == "runner"
    assert "runner" in {
        s.metadata.name for s in core.list_namespaced_service_account(namespace).items
    }

    ep = core.create_namespaced_endpoints(
        namespace,
        {
            "metadata": {"name": "manual"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 8080}]}],
        },
    )
    assert ep.subsets[0].ports[0].port == 8080
    core.list_namespaced_endpoints(namespace)
    core.list_service_for_all_namespaces()
    assert cluster.api.client().get("serviceaccounts", "runner", namespace)


def test_pods_nodes_events_and_logs(core: k8s.CoreV1Api, cluster: Cluster, namespace: str) -> None:
    pod = core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "talker", "labels": {"app": "talker"}},
            "spec": {
                "containers": [
                    {"name": "first", "image": "busybox"},
                    {"name": "second", "image": "busybox"},
                ]
            },
        },
    )
    assert pod.spec.containers[0].name == "first"
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod(namespace, label_selector="app=talker").items
    ] == ["talker"]
    assert core.list_pod_for_all_namespaces(field_selector="metadata.name=talker").items

    patched = core.patch_namespaced_pod("talker", namespace, {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.labels == {"app": "talker", "x": "y"}

    # Every node deserialises (nodeInfo has ten required fields in the client's model).
    nodes = core.list_node().items
    if cluster.has("scheduler", "kubelet"):
        assert cluster.node_name in {n.metadata.name for n in nodes}
        node = core.read_node(cluster.node_name)
        assert node.status.node_info.kubelet_version
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)

        def running() -> Any:
            p = core.read_namespaced_pod("talker", namespace)
            return p if p.status.phase == "Running" else None

        p = wait_for(running, "talker Running")
        assert p.spec.node_name == cluster.node_name
        assert {s.name for s in p.status.container_statuses} == {"first", "second"}
        assert all(s.ready for s in p.status.container_statuses)
        log = core.read_namespaced_pod_log("talker", namespace, container="second")
        assert "second" in log and "first" not in log
        tail = core.read_namespaced_pod_log("talker", namespace, container="first", tail_lines=1)
        assert len(tail.splitlines()) == 1
        evs = core.list_namespaced_event(
            namespace,
            field_selector=f"involvedObject.name=talker,involvedObject.uid={pod.metadata.uid}",
        )
        for e in evs.items:
            assert e.involved_object.name == "talker"

    deleted = core.delete_namespaced_pod("talker", namespace)
    assert isinstance(deleted, k8s.V1Pod)
    wait_for(lambda: gone(cluster, "pods", "talker", namespace), "talker deleted", 60)


def test_events_with_field_selectors(core: k8s.CoreV1Api, namespace: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name, obj in [("e1", "alpha"), ("e2", "beta")]:
        core.create_namespaced_event(
            namespace,
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": obj, "namespace": namespace},
                "reason": "Tested",
                "message": f"about {obj}",
                "type": "Normal",
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )
    evs = core.list_namespaced_event(namespace, field_selector="involvedObject.name=alpha")
    assert [e.message for e in evs.items] == ["about alpha"]
    assert evs.items[0].last_timestamp is not None


# ---------------------------------------------------------------- apps/v1, batch/v1


def test_deployment_create_scale_replace_delete(
    apps: k8s.AppsV1Api, cluster: Cluster, namespace: str
) -> None:
    dep = apps.create_namespaced_deployment(namespace, deployment("web"))
    assert dep.spec.replicas == 1 and dep.metadata.generation == 1
    assert dep.spec.strategy.type == "RollingUpdate"

    scale = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment_scale("web", namespace).spec.replicas == 3
    assert cluster.api.client().get("deployments", "web", namespace)["spec"]["replicas"] == 3

    def new_image() -> Any:
        current = apps.read_namespaced_deployment("web", namespace)
        current.spec.template.spec.containers[0].image = "nginx:1.27"
        return apps.replace_namespaced_deployment("web", namespace, current)

    # The deployment controller writes status concurrently; as with any client, a
    # read-modify-replace may meet a 409 and is retried from a fresh read.
    replaced = retry_on_conflict(new_image)
    assert replaced.spec.template.spec.containers[0].image == "nginx:1.27"
    assert replaced.metadata.generation > dep.metadata.generation

    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items] == ["web"]
    apps.list_deployment_for_all_namespaces(label_selector="nothing-has-this")

    if cluster.has("controllers"):

        def replicasets() -> list[Any]:
            return apps.list_namespaced_replica_set(namespace, label_selector="app=web").items

        rs = wait_for(replicasets, "ReplicaSets of web")
        assert all(r.metadata.owner_references[0].kind == "Deployment" for r in rs)
    if cluster.has("controllers", "scheduler", "kubelet"):

        def available() -> bool:
            d = apps.read_namespaced_deployment_status("web", namespace)
            return (d.status.available_replicas or 0) == 3 and d.status.updated_replicas == 3

        wait_for(available, "3 available replicas", 90)

    # Foreground deletion needs the garbage collector to remove the dependents first.
    policy = "Foreground" if cluster.has("controllers") else "Background"
    apps.delete_namespaced_deployment("web", namespace, propagation_policy=policy)
    wait_for(lambda: gone(cluster, "deployments", "web", namespace), "web deleted", 60)


def test_job_create_list_delete(batch: k8s.BatchV1Api, cluster: Cluster, namespace: str) -> None:
    job = batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "once", "labels": {"kind": "batch"}},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "c", "image": "busybox", "command": ["echo", "hi"]}
                        ],
                    }
                }
            },
        },
    )
    assert job.spec.backoff_limit == 6
    assert [
        j.metadata.name
        for j in batch.list_namespaced_job(namespace, label_selector="kind=batch").items
    ] == ["once"]
    got = batch.read_namespaced_job("once", namespace)
    assert got.spec.template.spec.containers[0].command == ["echo", "hi"]
    if cluster.has("controllers", "scheduler", "kubelet"):
        # `echo hi` ends at once on the fake runtime too, so the job completes.
        def succeeded() -> bool:
            return batch.read_namespaced_job_status("once", namespace).status.succeeded == 1

        wait_for(succeeded, "the job's pod succeeded", 60)
    batch.delete_namespaced_job("once", namespace, propagation_policy="Background")
    wait_for(lambda: gone(cluster, "jobs", "once", namespace), "job deleted")


# ---------------------------------------------------------------- watch


def test_watch_stream_sees_added_modified_deleted(
    core: k8s.CoreV1Api, cluster: Cluster, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("existing", a="0"))
    start_rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    events: list[tuple[str, str]] = []
    w = watch.Watch()

    def writer() -> None:
        cl = cluster.api.client()
        # A head start for the watch so the writes arrive live; made earlier they would be
        # replayed from start_rv, so this picks the path under test, never the outcome.
        time.sleep(0.3)
        cl.create("configmaps", cm("w1", a="1"), namespace)
        cl.patch("configmaps", "w1", {"data": {"a": "2"}}, namespace)
        cl.delete("configmaps", "w1", namespace)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for ev in w.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=start_rv,
            timeout_seconds=20,
        ):
            obj = ev["object"]
            events.append((ev["type"], obj.metadata.name))
            if ev["type"] == "DELETED":
                assert obj.data == {"a": "2"}  # DELETED carries the last state
                w.stop()
    finally:
        t.join()
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_without_resource_version_replays_current_state(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("here", a="1"))
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_config_map, namespace, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["object"].metadata.name == "here":
            w.stop()
    assert ("ADDED", "here") in seen


def test_namespace_lifecycle(core: k8s.CoreV1Api, cluster: Cluster) -> None:
    name = "py-" + uuid.uuid4().hex[:6]
    ns = core.create_namespace({"metadata": {"name": name}})
    assert ns.status.phase == "Active"
    assert name in {n.metadata.name for n in core.list_namespace().items}
    with pytest.raises(ApiException) as exc:
        core.create_namespace({"metadata": {"name": name}})
    assert exc.value.status == 409
    core.delete_namespace(name)
    if cluster.has("controllers"):
        wait_for(lambda: gone(cluster, "namespaces", name, None), "namespace gone", 60)


# ---------------------------------------------------------------- delete replies


def test_delete_replies_are_what_the_client_types_them_as(
    core: k8s.CoreV1Api, apps: k8s.AppsV1Api, cluster: Cluster, namespace: str
) -> None:
    """The client types a Service's and a Pod's DELETE reply as the object and others as a
    Status: deleting a Service that answered a Status raised inside the client."""
    svc = core.create_namespaced_service(
        namespace, {"metadata": {"name": "gone"}, "spec": {"ports": [{"port": 80}]}}
    )
    deleted_svc = core.delete_namespaced_service("gone", namespace)
    assert isinstance(deleted_svc, k8s.V1Service)
    assert deleted_svc.metadata.uid == svc.metadata.uid
    assert deleted_svc.spec.ports[0].port == 80
    assert gone(cluster, "services", "gone", namespace)

    pod = core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "bye"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
        },
    )
    assert pod.spec.security_context is not None  # kubectl debug reads it
    assert pod.spec.service_account_name == "default"
    deleted_pod = core.delete_namespaced_pod("bye", namespace)
    assert isinstance(deleted_pod, k8s.V1Pod)
    assert deleted_pod.metadata.uid == pod.metadata.uid

    core.create_namespaced_config_map(namespace, cm("old", a="b"))
    status = core.delete_namespaced_config_map("old", namespace)
    assert status["status"] == "Success" and status["details"]["name"] == "old"
    assert status["details"]["kind"] == "configmaps"

    apps.create_namespaced_deployment(namespace, deployment("retire"))
    status = apps.delete_namespaced_deployment("retire", namespace)
    assert status["status"] == "Success" and status["details"]["group"] == "apps"
    held = apps.create_namespaced_deployment(namespace, deployment("held"))
    answer = apps.delete_namespaced_deployment("held", namespace, propagation_policy="Foreground")
    # Kept by its foregroundDeletion finalizer: answered as it now is, being deleted.
    assert answer["kind"] == "Deployment" and answer["metadata"]["deletionTimestamp"]
    assert answer["metadata"]["uid"] == held.metadata.uid
