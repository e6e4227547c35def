"""The lab autoscaler on a real cluster: an apiserver, the scheduler and the autoscaler
(its own identity and bootstrap role), with five boxes powered by the ``fake`` driver (a
box "boots" as a hollow kubelet the autoscaler starts, and is "off" once it stops).

Every box starts asleep, as the autoscaler leaves one it powered off: in the API with its
last reported capacity and GPUs, the asleep taint, and Asleep/Ready=False conditions.

- a GPU pod wakes exactly one of the two GPU boxes and runs there;
- a CPU pod wakes a CPU box, never a GPU box;
- two pods that fit one box wake one box;
- an idle box (a DaemonSet pod only) stays on for its idle window, then is drained
  through an eviction and powered off;
- a box that never boots goes back to asleep after its resume timeout, with an event
  on the box and the pod, and is retried after a backoff that grows.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.power import (
    ASLEEP,
    ASLEEP_TAINT,
    DRIVER_ANNOTATION,
    GROUP_ANNOTATION,
    RESUME_TIMEOUT_ANNOTATION,
    asleep_condition,
    power_state,
)
from autoscaler.drivers.fake import BOOTS, KUBELET_ARGS
from autoscaler.marks import asleep_status_patch
from kubelet.gpu import fake_gpus
from kubelet.node import NodeFacts, build_node
from tests.cluster import Cluster
from tests.harness import free_port
from tests.wait import wait_for

NS = "default"
Obj = dict[str, Any]
IDLE_WINDOW = 3.0
BROKEN_TAINT = {"key": "lab.test/broken", "effect": "NoSchedule"}
BOXES = {  # name -> (group, fake GPUs)
    "a100-0": ("gpu", "2"),
    "a100-1": ("gpu", "2"),
    "cpu-0": ("cpu", ""),
    "cpu-1": ("cpu", ""),
    "dead-0": ("dead", ""),
}
KUBELET = "--port 0 --scheme http --lease-renew 1 --status-report-period 1"
METRICS_PORT = free_port()


def sleeping_box(c: Any, name: str, group: str, gpus: str) -> None:
    """Create ``name`` as a box the autoscaler powered off (its last report kept)."""
    facts = NodeFacts(name, "127.0.0.1", 0, scheme="http", cpu="2", memory="4Gi", hollow=True)
    node = build_node(facts, fake_gpus(gpus, name) if gpus else [])
    ann = {
        DRIVER_ANNOTATION: "fake",
        GROUP_ANNOTATION: group,
        KUBELET_ARGS: KUBELET + (f" --fake-gpus {gpus}" if gpus else ""),
    }
    taints = [dict(ASLEEP_TAINT)]
    if group == "dead":  # a box that accepts power-on and never comes up
        ann |= {BOOTS: "false", RESUME_TIMEOUT_ANNOTATION: "2"}
        taints.append(dict(BROKEN_TAINT))
    node["metadata"]["annotations"] |= ann
    node["spec"] = {"taints": taints}
    status = node.pop("status")
    c.create("nodes", node)
    c.patch("nodes", name, {"status": status}, subresource="status")
    mark = asleep_status_patch({"status": status}, "True", ASLEEP, "test: asleep", time.time())
    c.patch("nodes", name, mark, subresource="status")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home: Path = tmp_path_factory.mktemp("autoscaler") / "home"
    cl = Cluster(home)
    try:
        for name, (group, gpus) in BOXES.items():
            sleeping_box(cl.client, name, group, gpus)
        cl.add_scheduler()
        cl.add_autoscaler(
            "--interval", "0.5", "--idle-window", str(IDLE_WINDOW), "--resume-timeout", "30",
            "--drain-timeout", "10", "--wake-backoff", "2", "--log-level", "INFO",
            "--metrics-port", str(METRICS_PORT),
        )  # fmt: skip
        yield cl
    finally:
        cl.stop()


def metric(name: str, group: str) -> float:
    """One of the autoscaler's Prometheus series for ``group`` (0 until it exists)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10).read()
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            if s.name == name and s.labels.get("group") == group:
                return float(s.value)
    return 0.0


def states(c: Any) -> dict[str, str]:
    return {n["metadata"]["name"]: power_state(n) for n in c.list("nodes")["items"]}


def awake(c: Any) -> set[str]:
    return {name for name, s in states(c).items() if s != ASLEEP}


def node_events(c: Any, reason: str, node: str | None = None) -> list[Obj]:
    out = []
    for e in c.list("events", NS)["items"]:
        obj = e.get("involvedObject") or {}
        if obj.get("kind") == "Node" and e.get("reason") == reason:
            if node is None or obj.get("name") == node:
                out.append(e)
    return out


def wakes(c: Any) -> dict[str, int]:
    """How often each box was powered on (an Event's count: repeats are aggregated)."""
    out: dict[str, int] = {}
    for e in node_events(c, "WakingUp"):
        name = e["involvedObject"]["name"]
        out[name] = out.get(name, 0) + int(e.get("count") or 1)
    return out


def woken_since(c: Any, before: dict[str, int]) -> dict[str, int]:
    now = wakes(c)
    return {n: k - before.get(n, 0) for n, k in now.items() if k > before.get(n, 0)}


def up_boxes(c: Any) -> set[str]:
    """Boxes awake with the asleep taint lifted (booted and schedulable)."""
    out = set()
    for n in c.list("nodes")["items"]:
        taints = n.get("spec", {}).get("taints") or []
        if power_state(n) != ASLEEP and not any(t["key"] == ASLEEP_TAINT["key"] for t in taints):
            out.add(n["metadata"]["name"])
    return out


def pod_events(c: Any, pod: str) -> list[Obj]:
    items = c.list("events", NS)["items"]
    return [e for e in items if (e.get("involvedObject") or {}).get("name") == pod]


def pod(name: str, *, gpus: int = 0, cpu: str = "100m", **spec: Any) -> Obj:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    res = {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": limits}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"test": "autoscaler"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "busybox", "resources": res}],
            **spec,
        },
    }


def running_on(c: Any, name: str) -> str:
    p = c.get("pods", name, NS)
    if (p.get("status") or {}).get("phase") == "Running":
        return str(p["spec"]["nodeName"])
    return ""


@pytest.fixture
def c(cluster: Cluster) -> Iterator[Any]:
    """Every box but the dead one asleep at the start; the test's pods gone at the end."""
    client = cluster.client
    cluster.check_alive()
    wait_for(
        lambda: not awake(client),
        "every box asleep",
        30,
        diagnostics=lambda: f"{states(client)}\n{cluster.logs()}",
    )
    yield client
    for p in client.list("pods", NS, label_selector="test=autoscaler")["items"]:
        client.delete("pods", p["metadata"]["name"], NS, grace_period_seconds=0)
    wait_for(
        lambda: not client.list("pods", NS, label_selector="test=autoscaler")["items"],
        "the test's pods gone",
        30,
    )
    cluster.check_alive()


def test_nothing_is_woken_for_a_pod_that_could_never_fit(cluster: Cluster, c: Any) -> None:
    c.create("pods", pod("huge", gpus=8), NS)

    def said() -> str:
        for e in pod_events(c, "huge"):
            if e.get("reason") == "NotTriggerScaleUp":
                return str(e.get("message"))
        return ""

    msg = wait_for(said, "a NotTriggerScaleUp event for huge", 20, diagnostics=cluster.logs)
    assert "a100-0" in msg and "nvidia.com/gpu" in msg, msg
    assert not awake(c), states(c)
    assert not wakes(c)
    # kl why says it, beside the scheduler's reasons.
    import subprocess
    import sys

    why = subprocess.run(
        [sys.executable, "-m", "kubectl.main", "--kubeconfig", str(cluster.api.kubeconfig),
         "why", "pod/huge", "-n", NS],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "autoscaler: NotTriggerScaleUp" in why and "a100-0" in why, why


def test_a_gpu_pod_wakes_exactly_one_gpu_box_and_runs_there(cluster: Cluster, c: Any) -> None:
    c.create("pods", pod("train", gpus=1), NS)
    where = wait_for(lambda: running_on(c, "train"), "train running", 45, diagnostics=cluster.logs)
    assert where in ("a100-0", "a100-1")
    assert awake(c) == {where}, states(c)
    assert wakes(c) == {where: 1}
    gpu_uuids = c.get("pods", "train", NS)["metadata"]["annotations"]["kubelab.io/gpu-uuids"]
    assert gpu_uuids.split(",")[0] in {g.uuid for g in fake_gpus("2", where)}


def test_a_cpu_pod_wakes_a_cpu_box_not_a_gpu_box(cluster: Cluster, c: Any) -> None:
    before = wakes(c)
    c.create("pods", pod("web"), NS)
    where = wait_for(lambda: running_on(c, "web"), "web running", 45, diagnostics=cluster.logs)
    assert where in ("cpu-0", "cpu-1")
    assert awake(c) == {where}, states(c)
    assert woken_since(c, before) == {where: 1}


def test_two_pods_that_fit_one_box_wake_one_box(cluster: Cluster, c: Any) -> None:
    before = wakes(c)
    c.create("pods", pod("pair-1", cpu="500m"), NS)
    c.create("pods", pod("pair-2", cpu="500m"), NS)
    both = wait_for(
        lambda: {running_on(c, "pair-1"), running_on(c, "pair-2")} - {""},
        "both pods running",
        45,
        diagnostics=cluster.logs,
    )
    assert len(both) == 1, both  # on one box
    assert awake(c) == both, states(c)
    assert woken_since(c, before) == {next(iter(both)): 1}


def test_a_group_at_its_max_wakes_no_further_box(cluster: Cluster, c: Any) -> None:
    limits = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kubelab-power-groups", "namespace": "kube-system"},
              "data": {"gpu": "min=0,max=1"}}  # fmt: skip
    c.create("configmaps", limits, "kube-system")
    try:
        time.sleep(1.0)  # the autoscaler reads its groups again once an interval (0.5 s)
        before = wakes(c)
        c.create("pods", pod("big-1", gpus=2), NS)
        c.create("pods", pod("big-2", gpus=2), NS)

        def one_runs_one_told() -> tuple[str, str] | None:
            on = {n: running_on(c, n) for n in ("big-1", "big-2")}
            told = [
                n
                for n in ("big-1", "big-2")
                if any("at its max" in str(e.get("message")) for e in pod_events(c, n))
            ]
            running = [n for n, where in on.items() if where]
            return (running[0], told[0]) if len(running) == 1 and told else None

        ran, told = wait_for(one_runs_one_told, "one pod running, the other told why", 45)
        assert ran != told
        assert len(woken_since(c, before)) == 1
        assert len(awake(c) & {"a100-0", "a100-1"}) == 1, states(c)
    finally:
        c.delete("configmaps", "kubelab-power-groups", "kube-system")


def test_a_group_below_its_min_wakes_a_box_with_no_pod_waiting(cluster: Cluster, c: Any) -> None:
    import subprocess
    import sys

    before = wakes(c)
    limits = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kubelab-power-groups", "namespace": "kube-system"},
              "data": {"cpu": "min=1"}}  # fmt: skip
    c.create("configmaps", limits, "kube-system")
    try:
        wait_for(lambda: "cpu-0" in awake(c), "cpu-0 woken for the min", 30)
        wait_for(
            lambda: any(
                "at its min of 1" in str(e.get("message")) for e in node_events(c, "WakingUp")
            ),
            "the wake's event naming the min",
            10,
            diagnostics=lambda: str([e.get("message") for e in node_events(c, "WakingUp")]),
        )
        up = wait_for(lambda: sorted(up_boxes(c)), "cpu-0 up (its asleep taint lifted)", 30)
        assert up == ["cpu-0"], states(c)
        time.sleep(IDLE_WINDOW + 1.0)  # idle past its window, but the min keeps it on
        assert awake(c) == {"cpu-0"} and woken_since(c, before) == {"cpu-0": 1}, states(c)
        table = subprocess.run(
            [sys.executable, "-m", "kubectl.main", "--kubeconfig", str(cluster.api.kubeconfig),
             "get", "nodes"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
        assert rows["cpu-0"] == "Ready" and rows["a100-0"] == "NotReady,Asleep", table
    finally:
        c.delete("configmaps", "kubelab-power-groups", "kube-system")
    # Without the min it idles out like any box (the next test's fixture waits for it).
    wait_for(lambda: not awake(c), "cpu-0 powered off once the min is gone", 30)


def test_an_idle_box_is_drained_and_powered_off_after_its_window(cluster: Cluster, c: Any) -> None:
    c.create("pods", pod("job"), NS)
    box = wait_for(lambda: running_on(c, "job"), "job running", 45, diagnostics=cluster.logs)
    # A DaemonSet's pod does not keep a box on, but is evicted before it powers off.
    daemon = pod("agent", nodeName=box)
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
             "uid": str(uuid.uuid4()), "controller": True}  # fmt: skip
    daemon["metadata"]["ownerReferences"] = [owner]
    c.create("pods", daemon, NS)
    wait_for(lambda: running_on(c, "agent"), "the DaemonSet pod running", 30)
    c.delete("pods", "job", NS, grace_period_seconds=0)
    idle_from = time.time()
    wait_for(lambda: box not in awake(c), f"{box} powered off", 30, diagnostics=cluster.logs)
    off_after = time.time() - idle_from
    assert off_after >= IDLE_WINDOW - 0.5, f"powered off {off_after:.1f}s after it went idle"
    node = c.get("nodes", box)
    cond = asleep_condition(node) or {}
    assert (cond.get("status"), cond.get("reason")) == ("True", ASLEEP)
    assert any(t["key"] == ASLEEP_TAINT["key"] for t in node["spec"].get("taints") or [])
    assert not node["spec"].get("unschedulable")  # asleep, not cordoned: it may wake again
    with pytest.raises(Exception, match="404|not found|NotFound"):
        c.get("pods", "agent", NS)  # evicted
    assert node_events(c, "PoweredOff", box)
    assert not [p for p in Path("/proc").glob("[0-9]*") if _kubelet_of(p, box)]
    group = BOXES[box][0]
    assert metric("kubelab_autoscaler_power_offs_total", group) >= 1
    assert metric("kubelab_autoscaler_wakeups_total", group) >= 1
    assert metric("kubelab_autoscaler_powered_on_node_seconds_total", group) >= IDLE_WINDOW


def _kubelet_of(proc: Path, node: str) -> bool:
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kubelet" in argv and node.encode() in argv


def test_a_box_that_never_boots_goes_back_to_asleep_with_growing_backoff(
    cluster: Cluster, c: Any
) -> None:
    spec: dict[str, Any] = {
        "nodeSelector": {"kubernetes.io/hostname": "dead-0"},
        "tolerations": [{"key": BROKEN_TAINT["key"], "operator": "Exists"}],
    }
    c.create("pods", pod("stuck", **spec), NS)

    def failures() -> list[str]:
        msgs = [str(e.get("message")) for e in node_events(c, "WakeFailed", "dead-0")]
        return sorted(msgs) if len(msgs) >= 2 else []

    msgs = wait_for(failures, "two failed wakes of dead-0", 30, diagnostics=cluster.logs)
    assert "attempt 1" in msgs[0] and "next try in 2s" in msgs[0], msgs
    assert "attempt 2" in msgs[1] and "next try in 4s" in msgs[1], msgs
    # Back to asleep each time, never to a state that needs an admin; the pod says why.
    wait_for(lambda: states(c)["dead-0"] == ASLEEP, "dead-0 asleep again", 10)
    assert not c.get("nodes", "dead-0")["spec"].get("unschedulable")
    reasons = {e.get("reason") for e in pod_events(c, "stuck")}
    assert {"TriggeredScaleUp", "WakeFailed"} <= reasons, reasons
    assert c.get("pods", "stuck", NS)["spec"].get("nodeName") is None
    assert metric("kubelab_autoscaler_failed_wakes_total", "dead") >= 2


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--interval", "0"], "--interval must be more than 0 seconds, not '0'"),
        (["--idle-window", "ten"], "--idle-window must be 0 or more seconds, not 'ten'"),
        (["--resume-timeout", "-1"], "--resume-timeout must be more than 0 seconds"),
        (["--drain-timeout", "nan"], "--drain-timeout must be 0 or more seconds"),
        (["--log-level", "loud"], "--log-level must be one of DEBUG, INFO, WARNING, ERROR"),
        (["--kubeconfig", "/nonexistent/kc"], "kubeconfig /nonexistent/kc does not exist"),
    ],
)
def test_a_bad_flag_is_one_readable_line(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from autoscaler.main import main

    assert main(flags) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kubelab autoscaler: "), err
    assert says in err
