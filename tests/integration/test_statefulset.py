"""StatefulSets against a real apiserver, scheduler, controller manager and fake-runtime
kubelets: ordered start, stable names and claims across scale-down and back, rolling
update with a partition, a deleted pod coming back under its own name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dns.message
import dns.query
import pytest

from tests.cluster import Cluster, start_cluster
from tests.harness import Component, free_port
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("sts") / "home", nodes=2)
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


def statefulset(
    name: str, replicas: int, image: str = "nginx:1", claims: bool = True, **spec: Any
) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "srv",
                            "image": image,
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                },
            },
            **spec,
        },
    }
    if claims:
        obj["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Mi"}},
                },
            }
        ]
    else:
        del obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    return obj


def pods_of(client: Any, ns: str, app: str) -> dict[str, Obj]:
    items = client.list("pods", ns, label_selector=f"app={app}")["items"]
    return {p["metadata"]["name"]: p for p in items}


def ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return (pod.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conds
    )


def claims_of(client: Any, ns: str) -> dict[str, Obj]:
    return {c["metadata"]["name"]: c for c in client.list("persistentvolumeclaims", ns)["items"]}


def status_of(client: Any, ns: str, name: str) -> Obj:
    return client.get("statefulsets", name, ns).get("status") or {}


def wait_ready(client: Any, ns: str, name: str, n: int, timeout: float = 60) -> dict[str, Obj]:
    def check() -> dict[str, Obj] | None:
        st = status_of(client, ns, name)
        pods = pods_of(client, ns, name)
        live = {k: p for k, p in pods.items() if not p["metadata"].get("deletionTimestamp")}
        if st.get("readyReplicas") == n and len(live) == n and all(map(ready, live.values())):
            return live
        return None

    return wait_for(check, f"{name}: {n} pods ready", timeout=timeout)


def test_pods_come_up_in_order_with_their_identity_and_claims(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    listed = c.list("pods", ns)
    c.create("statefulsets", statefulset("web", 3), ns)
    # Every change to the pods, in order (a poll could miss a pod made too early): the pods
    # that exist are always web-0..k, and each exists only once every lower one is ready.
    pods: dict[str, Obj] = {}
    for ev in cluster.api.client().watch(
        "pods", ns, resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60
    ):
        obj = ev.get("object") or {}
        if ev.get("type") not in ("ADDED", "MODIFIED"):
            continue
        name = obj["metadata"]["name"]
        if name not in pods:
            assert sorted(pods) == [f"web-{i}" for i in range(len(pods))], sorted(pods)
            assert name == f"web-{len(pods)}", f"{name} made after {sorted(pods)}"
            assert all(map(ready, pods.values())), f"{name} made before its predecessors ran"
        pods[name] = obj
        if len(pods) == 3 and all(map(ready, pods.values())):
            break
    else:
        pytest.fail(f"web-0..2 did not all get ready: {sorted(pods)}")
    pods = pods_of(c, ns, "web")
    p = pods["web-1"]
    assert p["spec"]["hostname"] == "web-1"
    assert p["spec"]["subdomain"] == "web"
    labels = p["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    st = wait_for(
        lambda: (s := status_of(c, ns, "web")).get("availableReplicas") == 3 and s,
        "status of 3 available",
    )
    assert labels["controller-revision-hash"] == st["updateRevision"] == st["currentRevision"]
    assert st["observedGeneration"] == 1
    (volume,) = [v for v in p["spec"]["volumes"] if v["name"] == "data"]
    assert volume["persistentVolumeClaim"] == {"claimName": "data-web-1"}
    assert set(claims_of(c, ns)) == {"data-web-0", "data-web-1", "data-web-2"}
    revs = c.list("controllerrevisions", ns)["items"]
    assert [r["metadata"]["name"] for r in revs] == [st["updateRevision"]]


def test_scale_down_and_back_keeps_and_reuses_the_claims(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("statefulsets", statefulset("db", 3), ns)
    wait_ready(c, ns, "db", 3)
    uids = {n: cl["metadata"]["uid"] for n, cl in claims_of(c, ns).items()}
    assert set(uids) == {"data-db-0", "data-db-1", "data-db-2"}
    c.patch("statefulsets", "db", {"spec": {"replicas": 1}}, ns, subresource="scale")
    wait_for(lambda: set(pods_of(c, ns, "db")) == {"db-0"}, "scaled to db-0 alone")
    # Retain: the claims of db-1 and db-2 stay, untouched.
    assert {n: cl["metadata"]["uid"] for n, cl in claims_of(c, ns).items()} == uids
    c.patch("statefulsets", "db", {"spec": {"replicas": 3}}, ns, subresource="scale")
    pods = wait_ready(c, ns, "db", 3)
    assert {n: cl["metadata"]["uid"] for n, cl in claims_of(c, ns).items()} == uids
    for i in range(3):
        vols = {v["name"]: v for v in pods[f"db-{i}"]["spec"]["volumes"]}
        assert vols["data"]["persistentVolumeClaim"]["claimName"] == f"data-db-{i}"


def test_when_scaled_delete_removes_the_claims_of_removed_replicas(
    cluster: Cluster, ns: str
) -> None:
    c = cluster.client
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    c.create("statefulsets", statefulset("q", 2, persistentVolumeClaimRetentionPolicy=policy), ns)
    wait_ready(c, ns, "q", 2)
    c.patch("statefulsets", "q", {"spec": {"replicas": 1}}, ns, subresource="scale")
    wait_for(lambda: set(claims_of(c, ns)) == {"data-q-0"}, "data-q-1 removed with its pod")
    c.patch("statefulsets", "q", {"spec": {"replicas": 2}}, ns, subresource="scale")
    wait_ready(c, ns, "q", 2)
    assert set(claims_of(c, ns)) == {"data-q-0", "data-q-1"}  # a fresh claim for q-1


def test_when_deleted_delete_removes_the_claims_with_the_set(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    c.create("statefulsets", statefulset("d", 2, persistentVolumeClaimRetentionPolicy=policy), ns)
    wait_ready(c, ns, "d", 2)
    uid = c.get("statefulsets", "d", ns)["metadata"]["uid"]
    for claim in claims_of(c, ns).values():
        assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == [uid]
    c.delete("statefulsets", "d", ns)
    wait_for(lambda: not pods_of(c, ns, "d") and not claims_of(c, ns), "pods and claims gone")


def test_rolling_update_with_partition_updates_only_the_ordinals_at_or_above_it(
    cluster: Cluster, ns: str
) -> None:
    c = cluster.client
    c.create("statefulsets", statefulset("app", 3), ns)
    wait_ready(c, ns, "app", 3)
    first = status_of(c, ns, "app")["updateRevision"]
    c.patch(
        "statefulsets",
        "app",
        {
            "spec": {
                "updateStrategy": {"rollingUpdate": {"partition": 1}},
                "template": {"spec": {"containers": [{"name": "srv", "image": "nginx:2"}]}},
            }
        },
        ns,
        patch_type="strategic",
    )

    def partitioned() -> dict[str, str] | None:
        st = status_of(c, ns, "app")
        pods = pods_of(c, ns, "app")
        images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
        done = st.get("updatedReplicas") == 2 and st.get("readyReplicas") == 3
        return images if done and all(map(ready, pods.values())) else None

    images = wait_for(partitioned, "app-1 and app-2 updated", timeout=60)
    assert images == {"app-0": "nginx:1", "app-1": "nginx:2", "app-2": "nginx:2"}
    st = status_of(c, ns, "app")
    assert st["currentRevision"] == first != st["updateRevision"]
    assert len(c.list("controllerrevisions", ns)["items"]) == 2
    # Partition 0 finishes the roll-out: the update revision becomes the current one.
    c.patch(
        "statefulsets", "app", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, ns
    )
    wait_for(
        lambda: (
            (s := status_of(c, ns, "app")).get("currentRevision") == s.get("updateRevision")
            and s.get("updatedReplicas") == 3
        ),
        "roll-out complete",
        timeout=60,
    )
    pods = wait_ready(c, ns, "app", 3)
    assert {p["spec"]["containers"][0]["image"] for p in pods.values()} == {"nginx:2"}


def test_a_deleted_pod_comes_back_with_its_name_and_claim(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("statefulsets", statefulset("cache", 2), ns)
    old = wait_ready(c, ns, "cache", 2)["cache-1"]["metadata"]["uid"]
    claim = claims_of(c, ns)["data-cache-1"]["metadata"]["uid"]
    c.delete("pods", "cache-1", ns)

    def back() -> Obj | None:
        p = pods_of(c, ns, "cache").get("cache-1")
        return p if p and p["metadata"]["uid"] != old and ready(p) else None

    pod = wait_for(back, "cache-1 recreated", timeout=60)
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "data"]
    assert volume["persistentVolumeClaim"]["claimName"] == "data-cache-1"
    assert claims_of(c, ns)["data-cache-1"]["metadata"]["uid"] == claim


def test_kl_get_scale_describe_rollout_status_history_and_undo(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    kubeconfig = cluster.api.kubeconfig
    c.create("statefulsets", statefulset("kv", 2, claims=False), ns)
    out = kl(kubeconfig, "rollout", "status", "sts/kv", "-n", ns, "--timeout=60").ok().out
    assert out.splitlines()[-1] == "partitioned roll out complete: 2 new pods have been updated..."
    table = kl(kubeconfig, "get", "sts", "-n", ns).ok().out.splitlines()
    assert table[0].split() == ["NAME", "READY", "AGE"]
    assert table[1].split()[:2] == ["kv", "2/2"]
    wide = kl(kubeconfig, "get", "statefulsets", "-n", ns, "-o", "wide").ok().out.splitlines()
    assert wide[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert wide[1].split()[-2:] == ["srv", "nginx:1"]

    assert kl(kubeconfig, "scale", "sts/kv", "--replicas=1", "-n", ns).ok().out.strip() == (
        "statefulset.apps/kv scaled"
    )
    wait_ready(c, ns, "kv", 1)
    page = kl(kubeconfig, "describe", "statefulset", "kv", "-n", ns).ok().out
    for line in (
        "Replicas:           1 desired | 1 total",
        "Update Strategy:    RollingUpdate",
        "  Partition:        0",
        "Pods Status:        1 Running / 0 Waiting / 0 Succeeded / 0 Failed",
    ):
        assert line in page.splitlines(), f"{line!r} not in\n{page}"
    assert ["Volume", "Claims:", "<none>"] in [ln.split() for ln in page.splitlines()]

    out = kl(kubeconfig, "set", "image", "sts/kv", "srv=nginx:2", "-n", ns).ok().out
    assert out.strip() == "statefulset.apps/kv image updated"
    kl(kubeconfig, "rollout", "status", "statefulset/kv", "-n", ns, "--timeout=60").ok()
    hist = kl(kubeconfig, "rollout", "history", "sts/kv", "-n", ns).ok().out
    assert [ln.split()[0] for ln in hist.splitlines()[2:4]] == ["1", "2"]
    out = kl(kubeconfig, "rollout", "undo", "sts/kv", "-n", ns).ok().out
    assert out.strip() == "statefulset.apps/kv rolled back"
    pods = wait_for(
        lambda: (
            (p := wait_ready(c, ns, "kv", 1))["kv-0"]["spec"]["containers"][0]["image"] == "nginx:1"
            and p
        ),
        "kv-0 back on nginx:1",
        timeout=60,
    )
    assert set(pods) == {"kv-0"}


def test_the_headless_service_names_each_pod_by_its_hostname(cluster: Cluster, ns: str) -> None:
    # What cluster DNS answers web-0.web.<ns>.svc from: the Endpoints' hostnames.
    c = cluster.client
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hl"},
        "spec": {"clusterIP": "None", "selector": {"app": "hl"}, "ports": [{"port": 80}]},
    }
    c.create("services", svc, ns)
    c.create("statefulsets", statefulset("hl", 2, claims=False), ns)
    wait_ready(c, ns, "hl", 2)

    def hostnames() -> set[str] | None:
        ep = c.get("endpoints", "hl", ns)
        names = {
            a.get("hostname", "") for s in ep.get("subsets") or [] for a in s.get("addresses") or []
        }
        return names if names == {"hl-0", "hl-1"} else None

    wait_for(hostnames, "Endpoints with hostnames hl-0 and hl-1")

    # And cluster DNS answers each pod's stable name with its address.
    port = free_port()
    home = cluster.api.home
    args = ["dns", "--kubeconfig", str(home / "dns.kubeconfig"), "--listen", "127.0.0.1"]
    args += ["--port", str(port), "--upstream", f"127.0.0.1:{free_port()}"]
    dns_server = Component(args, home, home / "logs" / f"dns-{port}.log").start()
    try:
        wait_for(
            lambda: dns_server.check_alive() or "serving cluster.local" in dns_server.log(),
            "the DNS server serving",
            diagnostics=dns_server.tail,
        )
        for name in ("hl-0", "hl-1"):
            ip = c.get("pods", name, ns)["status"]["podIP"]
            fqdn = f"{name}.hl.{ns}.svc.cluster.local."

            def answer(fqdn: str = fqdn) -> list[str] | None:
                q = dns.message.make_query(fqdn, "A")
                reply = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
                found = [rd.to_text() for rr in reply.answer for rd in rr]
                return found or None

            assert wait_for(answer, f"an answer for {fqdn}") == [ip]
    finally:
        dns_server.stop()


def test_a_controller_manager_killed_mid_rollout_finishes_it_after_restart(
    cluster: Cluster, ns: str
) -> None:
    # Level-triggered: a crash at any moment leaves nothing a restarted controller cannot
    # finish, and it never makes a pod or claim outside web-0..2 / data-web-0..2.
    c = cluster.client
    c.create("statefulsets", statefulset("crash", 3), ns)
    wait_ready(c, ns, "crash", 3)
    claims = {n: cl["metadata"]["uid"] for n, cl in claims_of(c, ns).items()}
    c.patch(
        "statefulsets",
        "crash",
        {"spec": {"template": {"spec": {"containers": [{"name": "srv", "image": "nginx:2"}]}}}},
        ns,
        patch_type="strategic",
    )
    wait_for(
        lambda: (status_of(c, ns, "crash").get("updatedReplicas") or 0) >= 1,
        "the roll-out started",
    )
    cluster.kill("controllers")
    cluster.start("controllers")

    def done() -> bool:
        st = status_of(c, ns, "crash")
        pods = pods_of(c, ns, "crash")
        return (
            st.get("currentRevision") == st.get("updateRevision")
            and st.get("updatedReplicas") == st.get("readyReplicas") == 3
            and {p["spec"]["containers"][0]["image"] for p in pods.values()} == {"nginx:2"}
        )

    wait_for(done, "the roll-out finished by the restarted controller", timeout=90)
    assert sorted(pods_of(c, ns, "crash")) == ["crash-0", "crash-1", "crash-2"]
    assert {n: cl["metadata"]["uid"] for n, cl in claims_of(c, ns).items()} == claims
    assert len(c.list("controllerrevisions", ns)["items"]) == 2
