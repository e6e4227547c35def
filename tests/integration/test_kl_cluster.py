"""`kl` against a whole cluster: apiserver, scheduler, controller manager and one kubelet
(fake runtime, two simulated H100 GPUs), each its own process. Covers the verbs that need
them: rollout status/history/undo, logs, exec, top, why, describe of a pending GPU pod,
and drain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from api.errors import ApiError
from tests.cluster import Cluster
from tests.integration.kl_helpers import WEB, Kl, kl, namespaced_kl, pod_manifest, write
from tests.wait import wait_for

NODE = "gpu-1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("klcluster") / "home") as c:
        c.add_scheduler()
        c.add_controllers()
        c.add_kubelet(NODE, "--status-report-period", "1", fake_gpus="2xH100-80GB")
        c.wait_nodes_ready(timeout=30)
        yield c


@pytest.fixture
def k(cluster: Cluster, request: pytest.FixtureRequest) -> Kl:
    return namespaced_kl(cluster.api, request.node.name)


def phase(k: Kl, name: str) -> str:
    return str((k.c.get("pods", name, k.ns).get("status") or {}).get("phase") or "")


def test_rollout_status_history_undo(k: Kl, tmp_path: Path) -> None:
    deployment = WEB.split("---\n")[0]
    k("apply", "-f", write(tmp_path, "web.yaml", deployment)).ok()
    res = k("rollout", "status", "deploy/web", "--timeout", "60").ok()
    lines = res.out.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert all(line.startswith(("Waiting for", 'deployment "web"')) for line in lines)

    k("set", "image", "deploy/web", "nginx=nginx:1.27").ok()
    assert (
        k("rollout", "status", "deploy/web", "--timeout", "60")
        .ok()
        .out.endswith('deployment "web" successfully rolled out\n')
    )
    history = k("rollout", "history", "deploy/web").ok().out
    assert history == (
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    )
    rev1 = k("rollout", "history", "deploy/web", "--revision=1").ok().out
    assert "nginx:1.25" in rev1 and "pod-template-hash" not in rev1

    assert k("rollout", "undo", "deploy/web").ok().out == "deployment.apps/web rolled back\n"
    dep = k.c.get("deployments", "web", k.ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    k("rollout", "status", "deploy/web", "--timeout", "60").ok()
    wait_for(lambda: "3 " in k("rollout", "history", "deploy/web").out, "revision 3")
    assert k("rollout", "undo", "deploy/web", "--to-revision=3").ok().out == (
        "deployment.apps/web skipped rollback (current template already matches revision 3)\n"
    )
    assert k("rollout", "undo", "deploy/web", "--to-revision=9").one_error_line() == (
        "error: unable to find specified revision 9 in history"
    )
    table = k("get", "deploy", "web").ok().out.splitlines()
    assert table[1].split()[:4] == ["web", "2/2", "2", "2"]


def test_rollout_status_fails_on_progress_deadline(k: Kl) -> None:
    stuck = yaml.safe_load(WEB.split("---\n")[0])
    stuck["metadata"]["name"] = "stuck"
    stuck["spec"]["progressDeadlineSeconds"] = 1
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-label": "x"}
    k("apply", "-f", "-", stdin=yaml.safe_dump(stuck)).ok()
    res = k("rollout", "status", "deploy/stuck", "--timeout", "60")
    assert res.one_error_line() == 'error: deployment "stuck" exceeded its progress deadline'
    # Progress lines may or may not come first, depending on how fast the deadline passes.
    assert all(line.startswith("Waiting for") for line in res.out.splitlines())


def test_gpu_pods_top_why_describe(k: Kl) -> None:
    k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest("trainer", gpus=2))).ok()
    wait_for(lambda: phase(k, "trainer") == "Running", "trainer to run")
    pod = k.c.get("pods", "trainer", k.ns)
    uuids = pod["metadata"]["annotations"]["kubelab.io/gpu-uuids"].split(",")
    assert len(uuids) == 2

    wide = k("get", "pod", "trainer", "-o", "wide").ok().out.splitlines()
    assert wide[0].split()[-7:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES", "GPUS"]
    assert wide[1].split()[-4:] == [NODE, "<none>", "<none>", ",".join(uuids)]

    gpus = [line.split() for line in k("top", "gpus", "-o", "wide").ok().out.splitlines()]
    assert gpus[0] == [
        "NODE",
        "INDEX",
        "UUID",
        "MODEL",
        "MEMORY(used/total)",
        "UTIL",
        "HEALTH",
        "POD",
    ]
    holders = {row[2]: row[-1] for row in gpus[1:]}
    assert holders == {u: f"{k.ns}/trainer" for u in uuids}
    nodes = k("top", "nodes").ok().out.splitlines()
    gpus_column = nodes[0].split().index("GPUS")  # WATTS follows it once usage is reported
    assert nodes[1].split()[0] == NODE and nodes[1].split()[gpus_column] == "2/2"

    why = k("why", "trainer").ok().out
    assert why.startswith(f"pod {k.ns}/trainer is Running on node {NODE}\n")
    assert all(u in why for u in uuids)

    # No GPU left: the next one waits, and kl says why, node by node.
    k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest("waiter", gpus=1))).ok()
    reasons = wait_for(
        lambda: (k.c.get("pods", "waiter", k.ns)["metadata"].get("annotations") or {}).get(
            "kubelab.io/scheduling-reasons"
        ),
        "the scheduler's reasons",
    )
    assert NODE in json.loads(reasons)["nodes"]
    why = k("why", "waiter").ok().out
    assert why.startswith(f"pod {k.ns}/waiter is Pending: not scheduled yet\n")
    assert "Insufficient nvidia.com/gpu" in why and f"  {NODE}: " in why
    page = k("describe", "pod", "waiter").ok().out
    assert "Scheduling:" in page and "FailedScheduling" in page
    node_page = k("describe", "node", NODE).ok().out
    assert f"{k.ns}/trainer" in node_page and "nvidia.com/gpu" in node_page

    assert k("logs", "trainer").ok().out.startswith("fake runtime: container")
    assert k("logs", "trainer", "--tail=1", "--timestamps").rc == 0
    assert k("exec", "trainer", "--", "nvidia-smi", "-L").rc == 0
    k("delete", "pod", "trainer", "waiter", "--timeout", "30").ok()


def test_drain_evicts_and_waits(k: Kl, cluster: Cluster) -> None:
    k("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest("lonely"))).ok()
    k("create", "deployment", "kept", "--image=busybox", "--replicas=2").ok()
    wait_for(lambda: phase(k, "lonely") == "Running", "pods to run")
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in k.c.list("pods", k.ns, label_selector="app=kept")["items"]
                    if (p.get("status") or {}).get("phase") == "Running"
                ]
            )
            == 2
        ),
        "2 deployment pods",
    )
    cfg = cluster.api.kubeconfig
    try:
        res = k("drain", NODE)
        assert "no controller" in res.one_error_line() and f"{k.ns}/lonely" in res.err
        assert res.out == f"node/{NODE} cordoned\n"
        res = k("drain", NODE, "--force", "--timeout", "60").ok()
        lines = res.out.splitlines()
        assert lines[0] == f"node/{NODE} already cordoned"
        assert f"evicting pod {k.ns}/lonely" in lines and "pod/lonely evicted" in lines
        assert lines[-1] == f"node/{NODE} drained"
        with pytest.raises(ApiError) as gone:
            k.c.get("pods", "lonely", k.ns)
        assert gone.value.code == 404
        assert k.c.get("nodes", NODE)["spec"]["unschedulable"] is True
    finally:
        kl(cfg, "uncordon", NODE).ok()
