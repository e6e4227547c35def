"""Controllers against a real apiserver, scheduler, fake-runtime kubelets and a real
controller manager process (timings shortened by flags)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster, start_cluster
from tests.integration.ctrl_cluster import deployment, is_ready, live_pods, rollout_done
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("ctrl") / "home", nodes=2)
    try:
        c.wait_nodes_ready(timeout=30)
        yield c
    finally:
        c.stop()


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-").lower()[:50].strip("-")
    cluster.client.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def set_image(client: Any, ns: str, name: str, image: str) -> None:
    client.patch(
        "deployments",
        name,
        {"spec": {"template": {"spec": {"containers": [{"name": "srv", "image": image}]}}}},
        ns,
        patch_type="strategic",
    )


def images(pods: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pods:
        img = p["spec"]["containers"][0]["image"]
        out[img] = out.get(img, 0) + 1
    return out


def test_rolling_update_invariants_sampled_every_100ms(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("deployments", deployment("web", 10), ns)
    wait_for(lambda: rollout_done(c.get("deployments", "web", ns)), "initial rollout", 60)
    set_image(c, ns, "web", "nginx:2")
    samples = 0

    def rolled_out() -> bool:
        nonlocal samples
        pods = live_pods(c, ns, "app=web")
        ready = [p for p in pods if is_ready(p)]
        samples += 1
        # replicas + maxSurge (25 % of 10 rounded up = 3); replicas − maxUnavailable (rounded down = 2)
        assert len(pods) <= 13, f"sample {samples}: {len(pods)} pods > 13"
        assert len(ready) >= 8, f"sample {samples}: {len(ready)} ready < 8"
        return (
            images(pods) == {"nginx:2": 10}
            and len(ready) == 10
            and rollout_done(c.get("deployments", "web", ns))
        )

    # Every sample is checked against the bounds: a broken bound fails at once.
    wait_for(
        rolled_out,
        "the rollout to nginx:2",
        90,
        give_up_on=(AssertionError,),
        diagnostics=cluster.logs,
    )
    assert samples >= 3
    d = c.get("deployments", "web", ns)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    conds = {x["type"]: x for x in d["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Available"]["status"] == "True"
    rss = c.list("replicasets", ns)["items"]
    assert sorted(rs["spec"]["replicas"] for rs in rss) == [0, 10]
    for rs in rss:
        assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
        assert "pod-template-hash" in rs["metadata"]["labels"]
    reasons = {e["reason"] for e in c.list("events", ns)["items"]}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "SuccessfulDelete"} <= reasons


def test_replicaset_replaces_deleted_pods_and_adopts_orphans(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stray", "labels": {"app": "rs"}},
            "spec": {"containers": [{"name": "srv", "image": "nginx:1"}]},
        },
        ns,
    )
    c.create(
        "replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "rs"}},
                "template": {
                    "metadata": {"labels": {"app": "rs"}},
                    "spec": {
                        "containers": [{"name": "srv", "image": "nginx:1"}],
                        "terminationGracePeriodSeconds": 0,
                    },
                },
            },
        },
        ns,
    )
    wait_for(
        lambda: c.get("replicasets", "rs", ns).get("status", {}).get("readyReplicas") == 3,
        "3 ready",
    )
    stray = c.get("pods", "stray", ns)
    assert stray["metadata"]["ownerReferences"][0]["name"] == "rs"  # adopted, not duplicated
    assert len(live_pods(c, ns)) == 3
    victim = live_pods(c, ns)[0]["metadata"]["name"]
    c.delete("pods", victim, ns)
    wait_for(
        lambda: (
            len(live_pods(c, ns)) == 3
            and victim not in {p["metadata"]["name"] for p in live_pods(c, ns)}
        ),
        "replacement",
    )

    def full_status() -> dict[str, Any] | None:
        s = c.get("replicasets", "rs", ns)["status"]
        return s if s.get("availableReplicas") == 3 and s.get("replicas") == 3 else None

    st = wait_for(full_status, "status")
    assert st["replicas"] == 3 and st["fullyLabeledReplicas"] == 3 and st["observedGeneration"] == 1
    # Relabel a pod: it is released and replaced.
    name = live_pods(c, ns)[0]["metadata"]["name"]
    c.patch("pods", name, {"metadata": {"labels": {"app": "other"}}}, ns)
    wait_for(lambda: not c.get("pods", name, ns)["metadata"].get("ownerReferences"), "release")
    wait_for(lambda: len(live_pods(c, ns, "app=rs")) == 3, "replacement after release")
    # Scale through the scale subresource.
    c.patch("replicasets", "rs", {"spec": {"replicas": 1}}, ns, subresource="scale")
    wait_for(lambda: len(live_pods(c, ns, "app=rs")) == 1, "scale down")


def test_unpullable_image_deadline_then_undo(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("deployments", deployment("model", 4, progressDeadlineSeconds=3), ns)
    wait_for(lambda: rollout_done(c.get("deployments", "model", ns)), "initial rollout", 60)
    set_image(c, ns, "model", "registry.invalid/does-not-exist:1")

    def timed_out() -> bool:
        d = c.get("deployments", "model", ns)
        p = next((x for x in d["status"].get("conditions", []) if x["type"] == "Progressing"), {})
        return p.get("status") == "False" and p.get("reason") == "ProgressDeadlineExceeded"

    wait_for(timed_out, "ProgressDeadlineExceeded")
    time.sleep(1)  # a while after the deadline, to prove no automatic rollback happens
    d = c.get("deployments", "model", ns)
    assert (
        "does-not-exist" in d["spec"]["template"]["spec"]["containers"][0]["image"]
    )  # no auto rollback
    assert len([p for p in live_pods(c, ns) if is_ready(p)]) >= 3  # 4 − maxUnavailable(1)
    # `kubectl rollout undo`: the RS of the previous revision, template copied back by json-patch.
    rss = c.list("replicasets", ns)["items"]
    prev = next(
        rs
        for rs in rss
        if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    )
    tmpl = copy.deepcopy(prev["spec"]["template"])
    del tmpl["metadata"]["labels"]["pod-template-hash"]
    c.patch(
        "deployments",
        "model",
        [{"op": "replace", "path": "/spec/template", "value": tmpl}],
        ns,
        patch_type="json",
    )
    wait_for(
        lambda: (
            rollout_done(c.get("deployments", "model", ns))
            and images(live_pods(c, ns)) == {"nginx:1": 4}
        ),
        "undo rollout",
        60,
    )
    back = c.get("replicasets", prev["metadata"]["name"], ns)
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def _job(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    # No node has this label: the pods stay unbound and the test plays the kubelet.
                    "nodeSelector": {"kubelab.io/test-only": "none"},
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }
    body["spec"].update(spec)
    return body


def _finish_pods(c: Any, ns: str, job: str, phase: str) -> int:
    n = 0
    for p in c.list("pods", ns, label_selector=f"job-name={job}")["items"]:
        if (p.get("status") or {}).get("phase") in (None, "Pending") and not p["metadata"].get(
            "deletionTimestamp"
        ):
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            c.patch(
                "pods",
                p["metadata"]["name"],
                {
                    "status": {
                        "phase": phase,
                        "containerStatuses": [
                            {
                                "name": "c",
                                "image": "busybox",
                                "imageID": "",
                                "ready": False,
                                "restartCount": 0,
                                "state": {
                                    "terminated": {
                                        "exitCode": 0 if phase == "Succeeded" else 1,
                                        "finishedAt": now,
                                    }
                                },
                            }
                        ],
                    }
                },
                ns,
                subresource="status",
            )
            n += 1
    return n


def test_job_fails_after_backoff_limit_and_succeeds_with_completions(
    cluster: Cluster, ns: str
) -> None:
    c = cluster.client
    c.create("jobs", _job("bad", backoffLimit=2), ns)
    c.create("jobs", _job("good", completions=3, parallelism=2), ns)

    def cond(job: str, ctype: str) -> dict[str, Any] | None:
        j = c.get("jobs", job, ns)
        return next(
            (
                x
                for x in (j.get("status") or {}).get("conditions") or []
                if x["type"] == ctype and x["status"] == "True"
            ),
            None,
        )

    def finished() -> bool:
        if cond("bad", "Failed") and cond("good", "Complete"):
            return True
        _finish_pods(c, ns, "bad", "Failed")
        _finish_pods(c, ns, "good", "Succeeded")
        return False

    wait_for(finished, "job bad Failed and job good Complete", 60, interval=0.2)
    failed = cond("bad", "Failed")
    assert failed and failed["reason"] == "BackoffLimitExceeded", c.get("jobs", "bad", ns).get(
        "status"
    )
    bad = c.get("jobs", "bad", ns)["status"]
    assert bad["failed"] == 3 and bad.get("active", 0) == 0
    assert len(c.list("pods", ns, label_selector="job-name=bad")["items"]) == 3
    good = c.get("jobs", "good", ns)
    assert cond("good", "Complete") and good["status"]["succeeded"] == 3
    assert good["status"]["completionTime"] and good["status"]["startTime"]
    reasons = {e["reason"] for e in c.list("events", ns)["items"]}
    assert {"BackoffLimitExceeded", "Completed", "SuccessfulCreate"} <= reasons


def test_endpoints_follow_ready_pods(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("deployments", deployment("api", 2), ns)
    c.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api"},
            "spec": {
                "selector": {"app": "api"},
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            },
        },
        ns,
    )

    def ready_addresses() -> list[dict[str, Any]]:
        ep = c.get("endpoints", "api", ns)
        return [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    wait_for(lambda: len(ready_addresses()) == 2, "2 endpoint addresses")
    ep = c.get("endpoints", "api", ns)
    import ipaddress

    # podIP:containerPort (issue 15): each pod's own address, from its node's podCIDR
    # (the fake runtime hands them out too), and no port published on the node.
    pods = live_pods(c, ns, "app=api")
    ips = set()
    for p in pods:
        node = c.get("nodes", p["spec"]["nodeName"])
        ip = p["status"]["podIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(node["spec"]["podCIDR"])
        assert "kubelab.io/host-ports" not in (p["metadata"].get("annotations") or {})
        ips.add(ip)
    assert {s["ports"][0]["port"] for s in ep["subsets"]} == {8080}
    assert {a["ip"] for a in ready_addresses()} == ips and len(ips) == 2
    assert {a["targetRef"]["name"] for a in ready_addresses()} == {
        p["metadata"]["name"] for p in live_pods(c, ns, "app=api")
    }
    c.delete("services", "api", ns)
    wait_for(lambda: _gone(c, "endpoints", "api", ns), "endpoints deleted with the service")


def _gone(c: Any, resource: str, name: str, ns: str | None) -> bool:
    try:
        c.get(resource, name, ns)
        return False
    except ApiError as e:
        return e.code == 404


def test_delete_deployment_with_each_propagation_policy(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    for name in ("bg", "fg", "orphan"):
        c.create("deployments", deployment(name, 2), ns)
    for name in ("bg", "fg", "orphan"):
        wait_for(lambda n=name: rollout_done(c.get("deployments", n, ns)), f"{name} rollout", 60)
    c.delete("deployments", "bg", ns, propagation_policy="Background")
    c.delete("deployments", "fg", ns, propagation_policy="Foreground")
    c.delete("deployments", "orphan", ns, propagation_policy="Orphan")
    fg = c.get("deployments", "fg", ns)  # waits for its dependents
    assert "foregroundDeletion" in fg["metadata"].get("finalizers", [])
    wait_for(
        lambda: (
            not live_pods(c, ns, "app=bg")
            and not c.list("replicasets", ns, label_selector="app=bg")["items"]
        ),
        "background cascade",
    )
    wait_for(
        lambda: (
            _gone(c, "deployments", "fg", ns)
            and not c.list("pods", ns, label_selector="app=fg")["items"]
        ),
        "foreground cascade",
    )
    wait_for(lambda: _gone(c, "deployments", "orphan", ns), "orphaning owner removed")
    time.sleep(1)  # to prove the orphaned ReplicaSet is not collected and keeps its pods
    (rs,) = c.list("replicasets", ns, label_selector="app=orphan")["items"]
    assert not rs["metadata"].get("ownerReferences")
    assert len(live_pods(c, ns, "app=orphan")) == 2  # the RS keeps its pods


def test_background_delete_collects_what_daemonsets_rcs_and_cronjobs_own(
    cluster: Cluster, ns: str
) -> None:
    """Helm deletes its hooks (a DaemonSet of jupyterhub's, say) with Background
    propagation: the collector must see every owning kind go, not only Deployments."""
    c = cluster.client
    template = deployment("x", 1)["spec"]["template"]
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
    }
    ds["spec"]["template"] = copy.deepcopy(template)
    ds["spec"]["template"]["metadata"]["labels"] = {"app": "agent"}
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 1, "selector": {"app": "legacy"}, "template": copy.deepcopy(template)},
    }
    rc["spec"]["template"]["metadata"]["labels"] = {"app": "legacy"}
    cj = c.create(
        "cronjobs",
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 0 1 1 *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "run", "image": "busybox:1"}],
                            }
                        }
                    }
                },
            },
        },
        ns,
    )
    c.create("daemonsets", ds, ns)
    c.create("replicationcontrollers", rc, ns)
    # What `kubectl create job --from=cronjob/nightly` makes: a Job the CronJob owns.
    job_template = copy.deepcopy(cj["spec"]["jobTemplate"])
    owner = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "nightly",
        "uid": cj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    c.create(
        "jobs",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "nightly-manual", "ownerReferences": [owner]},
            "spec": job_template["spec"],
        },
        ns,
    )
    wait_for(lambda: len(live_pods(c, ns, "app=agent")) == 2, "one DaemonSet pod a node", 60)
    wait_for(lambda: len(live_pods(c, ns, "app=legacy")) == 1, "the RC's pod", 60)
    c.delete("daemonsets", "agent", ns, propagation_policy="Background")
    c.delete("replicationcontrollers", "legacy", ns, propagation_policy="Background")
    c.delete("cronjobs", "nightly", ns, propagation_policy="Background")
    wait_for(
        lambda: (
            not c.list("pods", ns, label_selector="app=agent")["items"]
            and not c.list("pods", ns, label_selector="app=legacy")["items"]
            and _gone(c, "jobs", "nightly-manual", ns)
        ),
        "the DaemonSet's and RC's pods and the CronJob's Job collected",
        60,
    )


def test_namespace_deletion_removes_everything(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("deployments", deployment("app", 2), ns)
    c.create(
        "configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}},
        ns,
    )
    wait_for(lambda: len(live_pods(c, ns)) == 2, "pods")
    c.delete("namespaces", ns)
    wait_for(lambda: _gone(c, "namespaces", ns, None), "namespace removed", 60)
    assert c.list("pods", ns)["items"] == []
    assert c.list("configmaps", ns)["items"] == []


def test_leader_election_standby_takes_over(cluster: Cluster) -> None:
    c = cluster.client
    holder = c.get("leases", "kubelab-controller-manager", "kube-system")["spec"]["holderIdentity"]
    standby = cluster.add_controllers(*FAST_CONTROLLER_FLAGS)
    time.sleep(2)  # to prove a second manager stands by instead of taking the lease
    assert (
        c.get("leases", "kubelab-controller-manager", "kube-system")["spec"]["holderIdentity"]
        == holder
    )
    assert "standing by" in standby.log()
    cluster.kill("controllers")

    def new_holder() -> str | None:
        h = c.get("leases", "kubelab-controller-manager", "kube-system")["spec"]["holderIdentity"]
        return h if h and h != holder else None

    new = wait_for(new_holder, "standby takes the lease", 20)
    assert new
    # The new leader works: a ReplicaSet gets its pods.
    c.create(
        "replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "after-failover"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "fo"}},
                "template": {
                    "metadata": {"labels": {"app": "fo"}},
                    "spec": {"containers": [{"name": "srv", "image": "x"}]},
                },
            },
        },
        "default",
    )
    wait_for(lambda: len(live_pods(c, "default", "app=fo")) == 2, "pods after failover")


def test_stopped_kubelet_node_unknown_and_pods_recreated(tmp_path: Path) -> None:
    cl = start_cluster(tmp_path / "home", nodes=2)
    try:
        cl.wait_nodes_ready(timeout=30)
        c = cl.client
        c.create("deployments", deployment("svc", 4), "default")
        wait_for(lambda: rollout_done(c.get("deployments", "svc", "default")), "rollout", 60)
        on = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in live_pods(c, "default")}
        victim = next(iter(sorted(set(on.values()))))
        survivor = next(n for n in cl.node_names() if n != victim)
        cl.kill(f"kubelet/{victim}")

        def tainted() -> bool:
            node = c.get("nodes", victim)
            ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
            keys = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
            return (
                ready["status"] == "Unknown"
                and ("node.kubernetes.io/unreachable", "NoExecute") in keys
            )

        wait_for(tainted, "node Unknown and tainted")
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in live_pods(c, "default")
                        if p["spec"].get("nodeName") == survivor and is_ready(p)
                    ]
                )
                == 4
            ),
            "pods recreated on the surviving node",
            60,
        )
        assert any(e["reason"] == "NodeNotReady" for e in c.list("events", "default")["items"])
        cl.start(f"kubelet/{victim}")
        wait_for(
            lambda: (
                not [
                    t
                    for t in c.get("nodes", victim)["spec"].get("taints") or []
                    if t["key"] == "node.kubernetes.io/unreachable"
                ]
            ),
            "taint removed",
        )
    finally:
        cl.stop()


def test_kill_controllers_and_apiserver_mid_rollout(tmp_path: Path) -> None:
    cl = start_cluster(tmp_path / "home", nodes=2)
    try:
        cl.wait_nodes_ready(timeout=30)
        c = cl.client
        c.create("deployments", deployment("roll", 8), "default")
        wait_for(lambda: rollout_done(c.get("deployments", "roll", "default")), "rollout", 60)
        set_image(c, "default", "roll", "nginx:2")
        wait_for(lambda: "nginx:2" in images(live_pods(c, "default")), "rollout started")
        cl.kill("controllers")
        cl.kill("apiserver")
        cl.start("apiserver")
        c = cl.client = cl.api.client()
        cl.start("controllers")
        wait_for(
            lambda: (
                rollout_done(c.get("deployments", "roll", "default"))
                and images(live_pods(c, "default")) == {"nginx:2": 8}
            ),
            "rollout after restarts",
            90,
        )
        time.sleep(1.5)  # to prove nothing more is created or removed once it has settled
        pods = live_pods(c, "default")
        assert images(pods) == {"nginx:2": 8}  # nothing lost, nothing doubled
        rss = c.list("replicasets", "default")["items"]
        assert sorted(rs["spec"]["replicas"] for rs in rss) == [0, 8]
        new_rs = next(rs for rs in rss if rs["spec"]["replicas"] == 8)
        assert all(
            p["metadata"]["ownerReferences"][0]["uid"] == new_rs["metadata"]["uid"] for p in pods
        )
    finally:
        cl.stop()
