"""ResourceQuota and LimitRange through the in-process apiserver: each refusal in
Kubernetes' words, GPU and count/ quotas, creates racing for a quota's last unit, the
LimitRange defaults a new pod gets, and the kubectl table columns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

NS = "/api/v1/namespaces/default"
QUOTAS = f"{NS}/resourcequotas"
LIMITS = f"{NS}/limitranges"
PODS = f"{NS}/pods"


def quota(name: str, hard: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name},
        "spec": {"hard": hard, **spec},
    }


def pod(name: str, requests: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    limits = kw.pop("limits", None)
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    container: dict[str, Any] = {"name": "app", "image": "busybox"}
    if resources:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **kw},
    }


async def refused(api: InProcessApi, path: str, obj: dict[str, Any]) -> tuple[int, str]:
    code, body = await api.status_of("POST", path, json=obj)
    return code, str((body or {}).get("message"))


async def test_gpu_quota_refuses_past_hard_with_kubernetes_message(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(QUOTAS, quota("compute", {"requests.nvidia.com/gpu": 4}))
    gpu = {"nvidia.com/gpu": 3}
    await api.create(PODS, pod("a", limits=gpu))
    code, msg = await refused(api, PODS, pod("b", limits={"nvidia.com/gpu": 2}))
    assert code == 403
    assert msg == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.nvidia.com/gpu=2, '
        "used: requests.nvidia.com/gpu=3, limited: requests.nvidia.com/gpu=4"
    )
    # A dry run is refused the same way, and nothing was stored.
    code, _ = await api.status_of(
        "POST", PODS, json=pod("b", limits={"nvidia.com/gpu": 2}), params={"dryRun": "All"}
    )
    assert code == 403
    assert (await api.client.get(f"{PODS}/b")).status_code == 404
    # One GPU still fits; deleting the first pod frees its three.
    await api.create(PODS, pod("c", limits={"nvidia.com/gpu": 1}))
    assert (await api.client.delete(f"{PODS}/a", params={"gracePeriodSeconds": "0"})).is_success
    await api.create(PODS, pod("b", limits={"nvidia.com/gpu": 2}))


async def test_finished_pods_free_their_quota(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(QUOTAS, quota("pods", {"pods": 1}))
    done = await api.create(PODS, pod("done"))
    code, msg = await refused(api, PODS, pod("next"))
    assert code == 403 and "exceeded quota: pods, requested: pods=1, used: pods=1" in msg
    done["status"] = {"phase": "Succeeded"}
    r = await api.client.put(f"{PODS}/done/status", json=done)
    assert r.status_code == 200, r.text
    await api.create(PODS, pod("next"))


async def test_quota_on_limits_needs_every_container_to_set_them(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(QUOTAS, quota("compute", {"limits.cpu": "2", "requests.memory": "1Gi"}))
    code, msg = await refused(api, PODS, pod("bare", {"memory": "64Mi"}))
    assert code == 403
    assert (
        msg == 'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app'
    )
    await api.create(PODS, pod("ok", {"memory": "512Mi"}, limits={"cpu": "1500m"}))
    code, msg = await refused(api, PODS, pod("big", {"memory": "768Mi"}, limits={"cpu": "1"}))
    assert msg == (
        'pods "big" is forbidden: exceeded quota: compute, requested: limits.cpu=1,'
        "requests.memory=768Mi, used: limits.cpu=1500m,requests.memory=512Mi, "
        "limited: limits.cpu=2,requests.memory=1Gi"
    )


async def test_count_quotas_of_any_kind(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(
        QUOTAS,
        quota(
            "objects",
            {"count/deployments.apps": 1, "configmaps": 1, "services.nodeports": 1},
        ),
    )
    deploy: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    deploys = "/apis/apps/v1/namespaces/default/deployments"
    await api.create(deploys, deploy)
    deploy["metadata"]["name"] = "web2"
    code, msg = await refused(api, deploys, deploy)
    assert code == 403
    assert msg == (
        'deployments.apps "web2" is forbidden: exceeded quota: objects, requested: '
        "count/deployments.apps=1, used: count/deployments.apps=1, limited: "
        "count/deployments.apps=1"
    )
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}
    await api.create(f"{NS}/configmaps", cm)
    code, msg = await refused(api, f"{NS}/configmaps", {**cm, "metadata": {"name": "two"}})
    assert code == 403 and "requested: configmaps=1, used: configmaps=1" in msg
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np"},
        "spec": {
            "type": "NodePort",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}],
        },
    }
    code, msg = await refused(api, f"{NS}/services", svc)
    assert code == 403 and "services.nodeports=2" in msg
    # A ClusterIP Service fits, and turning it into a NodePort one grows usage: refused.
    svc["spec"] = {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}
    made = await api.create(f"{NS}/services", svc)
    made["spec"]["type"] = "NodePort"
    code, body = await api.status_of("PUT", f"{NS}/services/np", json=made)
    assert code == 403 and "exceeded quota: objects" in body["message"]


async def test_two_creates_racing_for_the_last_unit_never_both_pass(
    inprocess_api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = inprocess_api
    await api.create(QUOTAS, quota("gpus", {"requests.nvidia.com/gpu": 5}))
    await api.create(PODS, pod("held", limits={"nvidia.com/gpu": 4}))
    # Every create yields between its admission and its write, so all eight pass the
    # first look at quota before any is stored: only the write path's decision holds.
    objects = api.server.objects
    write = objects._write

    async def yielding_write(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        return await write(*args, **kwargs)

    monkeypatch.setattr(objects, "_write", yielding_write)
    results = await asyncio.gather(
        *(
            api.status_of("POST", PODS, json=pod(f"racer-{i}", limits={"nvidia.com/gpu": 1}))
            for i in range(8)
        )
    )
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [403] * 7
    listed = (await api.client.get(PODS)).json()["items"]
    assert len(listed) == 2


async def test_scoped_quotas(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(QUOTAS, quota("besteffort", {"pods": 1}, scopes=["BestEffort"]))
    high = {
        "scopeSelector": {
            "matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}
            ]
        }
    }
    await api.create(QUOTAS, quota("high", {"requests.cpu": "1"}, **high))
    await api.create(PODS, pod("be1"))
    code, msg = await refused(api, PODS, pod("be2"))
    assert code == 403 and "exceeded quota: besteffort" in msg
    # A pod with requests is not BestEffort: the first quota does not cover it.
    await api.create(PODS, pod("burst", {"cpu": "2"}))
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high"},
        "value": 1000,
    }
    await api.create("/apis/scheduling.k8s.io/v1/priorityclasses", pc)
    code, msg = await refused(api, PODS, pod("hi", {"cpu": "2"}, priorityClassName="high"))
    assert code == 403 and "exceeded quota: high, requested: requests.cpu=2" in msg


async def test_quota_validation_refuses_what_is_not_enforced(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    for hard, spec, needle in (
        ({"nvidia.com/gpu": 1}, {}, "use requests.nvidia.com/gpu"),
        ({"limits.nvidia.com/gpu": 1}, {}, "use requests.nvidia.com/gpu"),
        ({"count/widgets": 1}, {}, "kubelab serves no namespaced resource 'widgets'"),
        ({"pods": -1}, {}, "must be greater than or equal to 0"),
        ({"pods": 1}, {"scopes": ["CrossNamespacePodAffinity"]}, "does not enforce"),
        ({"pods": 1}, {"scopes": ["Terminating", "NotTerminating"]}, "conflicting scopes"),
        ({"services": 1}, {"scopes": ["NotTerminating"]}, "unsupported scope applied"),
        ({"cpu": 1}, {"scopes": ["BestEffort"]}, "unsupported scope applied"),
    ):
        code, msg = await refused(api, QUOTAS, quota("bad", hard, **spec))
        assert code == 422 and needle in msg, (hard, spec, msg)


async def test_limit_range_defaults_and_bounds(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    lr = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits"},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "max": {"cpu": "2"},
                    "defaultRequest": {"cpu": "250m", "memory": "128Mi"},
                    "default": {"memory": "256Mi"},
                },
                {"type": "PersistentVolumeClaim", "max": {"storage": "5Gi"}},
            ]
        },
    }
    stored = await api.create(LIMITS, lr)
    # The API's item defaults: the max becomes the default limit.
    assert stored["spec"]["limits"][0]["default"] == {"memory": "256Mi", "cpu": "2"}
    made = await api.create(PODS, pod("plain"))
    res = made["spec"]["containers"][0]["resources"]
    assert res == {
        "requests": {"cpu": "250m", "memory": "128Mi"},
        "limits": {"cpu": "2", "memory": "256Mi"},
    }
    assert made["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; "
        "cpu, memory limit for container app"
    )
    code, msg = await refused(api, PODS, pod("big", limits={"cpu": "4"}))
    assert code == 403
    assert msg == 'pods "big" is forbidden: maximum cpu usage per Container is 2, but limit is 4'
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    }
    code, msg = await refused(api, f"{NS}/persistentvolumeclaims", claim)
    assert code == 403
    assert msg == (
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
        "PersistentVolumeClaim is 5Gi, but request is 10Gi"
    )


async def test_limit_range_validation(inprocess_api: InProcessApi) -> None:
    api = inprocess_api

    def lr(*items: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "bad"},
            "spec": {"limits": list(items)},
        }

    for body, needle in (
        (
            lr({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}),
            "min value 2 is greater than max value 1",
        ),
        (lr({"type": "Pod", "default": {"cpu": "1"}}), "may not be specified when `type` is 'Pod'"),
        (
            lr({"type": "PersistentVolumeClaim"}),
            "either minimum or maximum storage value is required",
        ),
        (lr({"type": "Node", "max": {"cpu": "1"}}), "Unsupported value"),
        (lr({"type": "Container", "max": {"cpu": "1"}}, {"type": "Container"}), "Duplicate value"),
        (lr({"type": "Container", "maxLimitRequestRatio": {"cpu": "0.5"}}), "is less than 1"),
    ):
        code, msg = await refused(api, LIMITS, body)
        assert code == 422 and needle in msg, (body, msg)


async def test_table_columns_as_kubectl(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    q = await api.create(
        QUOTAS, quota("compute", {"requests.cpu": "1", "limits.cpu": "2", "pods": 4})
    )
    q["status"] = {
        "hard": {"requests.cpu": "1", "limits.cpu": "2", "pods": "4"},
        "used": {"requests.cpu": "500m", "limits.cpu": "0", "pods": "1"},
    }
    r = await api.client.put(f"{QUOTAS}/compute/status", json=q)
    assert r.status_code == 200, r.text
    table = (
        await api.client.get(
            QUOTAS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        )
    ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age", "Request", "Limit"]
    row = table["rows"][0]["cells"]
    assert row[0] == "compute"
    assert row[2:] == ["pods: 1/4, requests.cpu: 500m/1", "limits.cpu: 0/2"]


async def test_usage_is_reloaded_from_the_store(inprocess_api_any_db: InProcessApi) -> None:
    """After a restart (or a failed commit) the write path's usage is read back from the
    stored objects: pods whole, other kinds counted (on SQLite and PostgreSQL)."""
    api = inprocess_api_any_db
    await api.create(QUOTAS, quota("small", {"pods": 1, "count/configmaps": 2}))
    await api.create(PODS, pod("one"))
    for name in ("a", "b"):
        await api.create(
            f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
        )
    state = api.server.state
    state.rebuild(api.server.store)
    assert state.quotas.used(state.quotas.quotas["default"]["small"]) == {
        "pods": 1,
        "count/configmaps": 2,
    }
    code, msg = await refused(api, PODS, pod("two"))
    assert code == 403 and "used: pods=1" in msg
    code, msg = await refused(
        api,
        f"{NS}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
    )
    assert code == 403 and "exceeded quota: small" in msg


async def test_gpu_memory_quota(inprocess_api: InProcessApi) -> None:
    """kubelab's share of a GPU by memory is quota'd as any extended resource's request."""
    api = inprocess_api
    await api.create(QUOTAS, quota("vram", {"requests.kubelab.io/gpu-memory": "40Gi"}))
    await api.create(PODS, pod("llm", limits={"kubelab.io/gpu-memory": "30Gi"}))
    code, msg = await refused(api, PODS, pod("more", limits={"kubelab.io/gpu-memory": "20Gi"}))
    assert code == 403
    assert msg == (
        'pods "more" is forbidden: exceeded quota: vram, requested: '
        "requests.kubelab.io/gpu-memory=20Gi, used: requests.kubelab.io/gpu-memory=30Gi, "
        "limited: requests.kubelab.io/gpu-memory=40Gi"
    )
    await api.create(PODS, pod("small", limits={"kubelab.io/gpu-memory": "10Gi"}))


async def test_a_default_limit_below_the_pods_request_is_refused(
    inprocess_api: InProcessApi,
) -> None:
    """As in Kubernetes, where validation follows LimitRanger: the defaulted pod is checked."""
    api = inprocess_api
    lr = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "cpu"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]},
    }
    await api.create(LIMITS, lr)
    code, msg = await refused(api, PODS, pod("greedy", {"cpu": "2"}))
    assert code == 422
    assert "must be less than or equal to cpu limit of 1" in msg
    assert (await api.client.get(f"{PODS}/greedy")).status_code == 404


async def test_storage_quota_on_claims(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(
        QUOTAS, quota("storage", {"requests.storage": "5Gi", "persistentvolumeclaims": 2})
    )

    def claim(name: str, size: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            },
        }

    claims = f"{NS}/persistentvolumeclaims"
    await api.create(claims, claim("a", "4Gi"))
    code, msg = await refused(api, claims, claim("b", "2Gi"))
    assert code == 403
    assert msg == (
        'persistentvolumeclaims "b" is forbidden: exceeded quota: storage, requested: '
        "requests.storage=2Gi, used: requests.storage=4Gi, limited: requests.storage=5Gi"
    )
    await api.create(claims, claim("b", "1Gi"))
