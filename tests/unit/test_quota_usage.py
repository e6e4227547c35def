"""Pure quota arithmetic (what objects charge, scopes, the refusal's wording) and LimitRange
defaulting and bounds, without a server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api import defaults
from api.limitrange import apply_container_defaults, claim_violations, pod_violations
from api.quota import (
    covers,
    exceeded,
    growth,
    missing_constraints,
    object_usage,
    pod_usage,
    quota_used,
)
from controllers.resourcequota import counted_kinds, quota_status

D = Decimal


def container(
    name: str, requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None
) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return {"name": name, "image": "x", "resources": res}


def pod(
    *containers: dict[str, Any], init: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers), **spec}
    if init:
        body["initContainers"] = init
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": body}


def test_pod_usage_sums_containers_and_takes_the_largest_init_container() -> None:
    p = pod(
        container("a", {"cpu": "500m", "memory": "1Gi"}, {"cpu": "1"}),
        container("b", {"cpu": "250m", "nvidia.com/gpu": "2"}),
        init=[container("setup", {"cpu": "2", "memory": "256Mi"})],
    )
    u = pod_usage(p)
    assert u["pods"] == 1 and u["count/pods"] == 1
    assert u["requests.cpu"] == u["cpu"] == D(2)  # the init container's 2 > 750m
    assert u["requests.memory"] == D(2**30)
    assert u["limits.cpu"] == D(1)
    assert u["requests.nvidia.com/gpu"] == D(2)
    assert "limits.nvidia.com/gpu" not in u  # extended resources are charged by request
    assert pod_usage({**p, "status": {"phase": "Failed"}}) == {}


def test_service_claim_and_count_usage() -> None:
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}, {"port": 2}]}}
    assert object_usage("services", "", lb) == {
        "services": 1,
        "count/services": 1,
        "services.loadbalancers": 1,
        "services.nodeports": 2,
    }
    claim = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    u = object_usage("persistentvolumeclaims", "", claim)
    assert u["requests.storage"] == D(2**30)
    assert u["fast.storageclass.storage.k8s.io/requests.storage"] == D(2**30)
    assert u["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] == 1
    assert object_usage("deployments", "apps", {}) == {"count/deployments.apps": 1}
    assert object_usage("configmaps", "", {}) == {"count/configmaps": 1, "configmaps": 1}


def test_scopes_pick_the_pods_they_cover() -> None:
    best_effort = pod(container("a"))
    burstable = pod(container("a", {"cpu": "1"}), activeDeadlineSeconds=60)
    q = {"spec": {"hard": {"pods": 5}, "scopes": ["BestEffort"]}}
    assert covers(q, "pods", "", best_effort) and not covers(q, "pods", "", burstable)
    assert not covers(q, "services", "", {})  # a scoped quota counts pods only
    term = {"spec": {"hard": {"cpu": 5}, "scopes": ["Terminating"]}}
    assert covers(term, "pods", "", burstable) and not covers(term, "pods", "", best_effort)
    sel = {
        "spec": {
            "hard": {"pods": 1},
            "scopeSelector": {
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["low"]}
                ]
            },
        }
    }
    assert covers(sel, "pods", "", pod(container("a"), priorityClassName="high"))
    assert not covers(sel, "pods", "", pod(container("a"), priorityClassName="low"))
    usages = [(p, pod_usage(p)) for p in (best_effort, burstable)]
    assert quota_used(term, usages, {}) == {"cpu": D(1)}
    assert quota_used({"spec": {"hard": {"pods": 9}}}, usages, {"pods": D(7)}) == {"pods": D(7)}


def test_refusal_names_only_what_exceeds_in_kubernetes_words() -> None:
    q = {"metadata": {"name": "compute"}, "spec": {"hard": {"requests.cpu": "2", "pods": "10"}}}
    used = {"requests.cpu": D("1.5"), "pods": D(3)}
    assert exceeded(q, {"requests.cpu": D("0.5"), "pods": D(1)}, used) is None
    assert exceeded(q, {"requests.cpu": D(1), "pods": D(1)}, used) == (
        "exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=1500m, "
        "limited: requests.cpu=2"
    )
    assert growth({"pods": D(1), "cpu": D(2)}, {"pods": D(1), "cpu": D(3)}) == {"cpu": D(1)}
    assert growth({"cpu": D(3)}, {"cpu": D(1)}) == {}


def test_must_specify_lists_each_resource_and_its_containers() -> None:
    q = {"spec": {"hard": {"limits.memory": "1Gi", "requests.cpu": "1", "pods": 3}}}
    p = pod(container("a", {"cpu": "1"}), container("b"))
    assert missing_constraints(q, p) == ("must specify limits.memory for: a,b; requests.cpu for: b")
    assert missing_constraints({"spec": {"hard": {"pods": 1}}}, p) is None


def test_limit_range_item_defaults_and_container_defaults() -> None:
    lr = {
        "spec": {
            "limits": [
                {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
            ]
        }
    }
    defaults.apply_defaults("LimitRange", lr)
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    p = pod(container("a", {"cpu": "1"}), container("b"))
    assert apply_container_defaults(p, [lr])
    a, b = p["spec"]["containers"]
    assert a["resources"] == {"requests": {"cpu": "1", "memory": "64Mi"}, "limits": {"cpu": "2"}}
    assert b["resources"] == {"requests": {"cpu": "2", "memory": "64Mi"}, "limits": {"cpu": "2"}}
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory request for container a; cpu limit for container a; "
        "cpu, memory request for container b; cpu limit for container b"
    )
    # Nothing left to set: no change, no annotation rewritten.
    assert not apply_container_defaults(p, [lr])


def test_limit_range_bounds_messages() -> None:
    lr = {
        "spec": {
            "limits": [
                {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "100Mi"}},
                {"type": "Pod", "maxLimitRequestRatio": {"cpu": "2"}},
            ]
        }
    }
    p = pod(container("a", {"cpu": "1", "memory": "64Mi"}, {"cpu": "4"}))
    assert pod_violations(p, [lr]) == [
        "minimum memory usage per Container is 100Mi, but request is 64Mi",
        "maximum cpu usage per Container is 2, but limit is 4",
        "cpu max limit to request ratio per Pod is 2, but provided ratio is 4.000000",
    ]
    assert pod_violations(pod(container("a", {"memory": "1Gi"})), [lr]) == [
        "maximum cpu usage per Container is 2.  No limit is specified",
        "cpu max limit to request ratio per Pod is 2, but no request is specified or request is 0",
    ]
    claims = {"spec": {"limits": [{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}}]}}
    small = {"spec": {"resources": {"requests": {"storage": "500Mi"}}}}
    assert claim_violations(small, [claims]) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    ]


def test_controller_status_follows_the_objects() -> None:
    q = {
        "metadata": {"name": "q", "namespace": "default"},
        "spec": {"hard": {"pods": "5", "requests.cpu": "4", "count/deployments.apps": "2"}},
    }
    running = pod(container("a", {"cpu": "1500m"}))
    done = {**pod(container("a", {"cpu": "1"})), "status": {"phase": "Succeeded"}}
    status = quota_status(q, {("", "pods"): [running, done], ("apps", "deployments"): [{}]})
    assert status == {
        "hard": {"count/deployments.apps": "2", "pods": "5", "requests.cpu": "4"},
        "used": {"count/deployments.apps": "1", "pods": "1", "requests.cpu": "1500m"},
    }
    assert counted_kinds(q) == [("apps", "deployments")]


def test_limit_range_defaulting_leaves_malformed_items_to_validation() -> None:
    from api import validation

    lr: dict[str, Any] = {
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"limits": [{"type": "Container", "max": ["2"]}]},
    }
    defaults.apply_defaults("LimitRange", lr)  # no crash: validation names the field
    fields = {c.field for c in validation.validate("LimitRange", lr)}
    assert fields == {"spec.limits[0].max"}
