"""The kubelet's real NVML path (kubelet/gpu.py through the real ``pynvml``), run against the
stand-in ``libnvidia-ml.so.1`` built from tests/nvml/standin.c: inventory, sensors a consumer
card lacks, a lost GPU, one that falls off the bus, driver/library mismatch, and a kubelet
process that reports what NVML says in its Node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.nvml import Device, StandIn
from tests.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
H100 = "GPU-11111111-2222-3333-4444-555555555555"
RTX = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

# What the kubelet's node status loop calls: discover_gpus(None) = nvml_gpus().
READ_GPUS = (
    "import json, logging, sys; logging.basicConfig(stream=sys.stderr, level=logging.INFO);"
    "from kubelet.gpu import discover_gpus;"
    "print(json.dumps([d.as_dict() for d in discover_gpus(None, 'n')]))"
)


def read_gpus(standin: StandIn) -> tuple[list[dict[str, Any]], str]:
    """The devices a fresh process reads through pynvml, and what it logged."""
    out = subprocess.run(
        [sys.executable, "-c", READ_GPUS],
        env=standin.env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout), out.stderr


@pytest.fixture
def standin(tmp_path: Path) -> StandIn:
    return StandIn(
        tmp_path,
        devices=[
            Device(H100, used_mib=1024, util=37, temp=41, power_mw=123_400),
            Device(RTX, name="NVIDIA GeForce RTX 4090", memory_mib=24564, temp=None, power_mw=None),
        ],
    )


def test_inventory_through_pynvml(standin: StandIn) -> None:
    gpus, _ = read_gpus(standin)
    assert [(g["index"], g["uuid"], g["model"]) for g in gpus] == [
        (0, H100, "NVIDIA H100 80GB HBM3"),
        (1, RTX, "NVIDIA GeForce RTX 4090"),
    ]
    h100, rtx = gpus
    assert (h100["memory_mib"], h100["memory_used_mib"]) == (81559, 1024)
    assert (h100["utilization"], h100["temperature"], h100["power_w"]) == (37, 41, 123.4)
    assert h100["healthy"] and not h100["simulated"]
    # A consumer card answers NOT_SUPPORTED for these sensors: missing, not a fault.
    assert rtx["healthy"] and rtx["memory_mib"] == 24564


def test_lost_gpu_is_unhealthy_and_the_others_are_not(standin: StandIn) -> None:
    standin.devices[0].lost = True
    standin.write()
    gpus, log = read_gpus(standin)
    assert [g["healthy"] for g in gpus] == [False, True]
    assert "GPU is lost" in log
    assert gpus[1]["uuid"] == RTX


def test_a_gpu_that_falls_off_the_bus_leaves_the_inventory(standin: StandIn) -> None:
    standin.devices[0].present = False
    standin.write()
    gpus, _ = read_gpus(standin)
    assert [(g["index"], g["uuid"]) for g in gpus] == [(0, RTX)]


@pytest.mark.parametrize(
    ("code", "words"),
    [(18, "version mismatch"), (9, "Driver Not Loaded")],
)
def test_driver_problems_mean_no_gpus_with_a_log_line(
    standin: StandIn, code: int, words: str
) -> None:
    standin.init_error = code
    standin.write()
    gpus, log = read_gpus(standin)
    assert gpus == []
    assert "no NVIDIA driver found" in log and words in log


def test_without_the_library_the_node_has_no_gpus(standin: StandIn) -> None:
    env = standin.env()
    env.pop("LD_LIBRARY_PATH")
    out = subprocess.run(
        [sys.executable, "-c", READ_GPUS],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_kubelet_reports_what_nvml_sees_and_follows_a_lost_gpu(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kubelet is a child process: it inherits the environment that finds the stand-in.
    for key, value in standin.env().items():
        monkeypatch.setenv(key, value)
    with Cluster(tmp_path / "home") as cl:
        cl.add_kubelet("gpu-box", "--status-report-period", "1")
        cl.wait_nodes_ready()
        api = cl.api.client()
        node = api.get("Node", "gpu-box")
        assert node["status"]["capacity"]["nvidia.com/gpu"] == "2"
        assert [(g["uuid"], g["health"]) for g in node["status"]["gpus"]] == [
            (H100, "Healthy"),
            (RTX, "Healthy"),
        ]
        assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
        standin.devices[1].lost = True
        standin.write()

        def rtx_unhealthy() -> dict[str, Any] | None:
            got = api.get("Node", "gpu-box")["status"]
            healthy = [g["health"] for g in got["gpus"]]
            return got if healthy == ["Healthy", "Unhealthy"] else None

        status = wait_for(rtx_unhealthy, "the lost GPU reported Unhealthy", timeout=30)
        assert status["allocatable"]["nvidia.com/gpu"] == "1"


def events_of(api: Any, namespace: str, name: str, reason: str) -> list[dict[str, Any]]:
    got = api.list("Event", namespace=namespace).get("items") or []
    return [
        e
        for e in got
        if e.get("reason") == reason and (e.get("involvedObject") or {}).get("name") == name
    ]


def gpu_health(api: Any, node: str) -> list[str]:
    return [g["health"] for g in api.get("Node", node)["status"]["gpus"]]


@contextmanager
def gpu_box(
    standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *kubelet_flags: str,
    controllers: bool = False,
) -> Iterator[Cluster]:
    """A cluster whose one kubelet, ``gpu-box``, reads its GPUs through the stand-in."""
    for key, value in standin.env().items():
        monkeypatch.setenv(key, value)
    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        if controllers:
            cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.add_kubelet("gpu-box", *kubelet_flags)
        cl.wait_nodes_ready()
        yield cl


def test_xids_take_a_gpu_out_and_a_recheck_brings_it_back(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The periodic status write is far off: only the event can make the GPU leave fast.
    flags = ("--status-report-period", "300", "--gpu-recheck-period", "1")
    with gpu_box(standin, tmp_path, monkeypatch, *flags) as cl:
        api = cl.api.client()
        api.create(
            "Pod",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "trainer", "namespace": "default"},
                "spec": {
                    "containers": [
                        {
                            "name": "t",
                            "image": "busybox",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
            namespace="default",
        )

        def bound() -> str:
            pod = api.get("Pod", "trainer", namespace="default")
            return str(pod["metadata"].get("annotations", {}).get("kubelab.io/gpu-uuids", ""))

        assert wait_for(bound, "the trainer pod bound to a GPU", timeout=30) == H100
        wait_for(
            lambda: (
                api.get("Pod", "trainer", namespace="default")["status"].get("phase") == "Running"
            ),
            "the trainer pod running",
        )

        # An application's Xid: recorded on the pod holding the GPU, the GPU stays in service.
        standin.events.append("xid 0 13")
        standin.write()
        wait_for(
            lambda: events_of(api, "default", "trainer", "GPUApplicationError"),
            "the application Xid recorded on the pod",
        )
        assert gpu_health(api, "gpu-box") == ["Healthy", "Healthy"]

        # A hardware Xid with a leftover process on the GPU: out, and it stays out while the
        # process holds it (the re-check says why), then comes back once it is gone.
        standin.processes.append((1, 4242, 2048))
        standin.events.append("xid 1 79")
        standin.write()
        wait_for(
            lambda: gpu_health(api, "gpu-box") == ["Healthy", "Unhealthy"],
            "the GPU with a hardware Xid out of service",
        )
        assert api.get("Node", "gpu-box")["status"]["allocatable"]["nvidia.com/gpu"] == "1"
        failed = wait_for(
            lambda: events_of(api, "default", "gpu-box", "GPURecheckFailed"),
            "a failed re-check recorded",
        )
        assert "pid 4242" in failed[0]["message"]
        assert "Xid 79" in events_of(api, "default", "gpu-box", "GPUUnhealthy")[0]["message"]
        standin.processes.clear()
        standin.write()
        wait_for(
            lambda: gpu_health(api, "gpu-box") == ["Healthy", "Healthy"],
            "the GPU back in service after its re-check",
        )
        assert events_of(api, "default", "gpu-box", "GPUHealthy")


def test_a_hardware_fault_fails_the_pod_on_that_gpu_and_its_replacement_runs_on_another(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = ("--status-report-period", "300", "--gpu-recheck-period", "60")
    with gpu_box(standin, tmp_path, monkeypatch, *flags, controllers=True) as cl:
        api = cl.api.client()
        labels = {"app": "trainer"}
        api.create(
            "replicasets",
            {
                "metadata": {"name": "trainer"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "terminationGracePeriodSeconds": 1,
                            "containers": [
                                {
                                    "name": "t",
                                    "image": "busybox",
                                    "command": ["sleep", "3600"],
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                                }
                            ],
                        },
                    },
                },
            },
            namespace="default",
        )

        def running() -> list[dict[str, Any]]:
            items = api.list("pods", "default", label_selector="app=trainer")["items"]
            return [p for p in items if (p.get("status") or {}).get("phase") == "Running"]

        (first,) = wait_for(running, "the trainer running", timeout=30)
        held = first["metadata"]["annotations"]["kubelab.io/gpu-uuids"]
        index = [H100, RTX].index(held)
        standin.events.append(f"xid {index} 79")  # fell off the bus: hardware
        standin.write()
        failed = wait_for(
            lambda: (
                (p := api.get("pods", first["metadata"]["name"], "default"))["status"].get("phase")
                == "Failed"
                and p
            ),
            "the pod on the broken GPU failed",
            timeout=10,
        )
        assert failed["status"]["reason"] == "GPUUnhealthy"
        assert held in failed["status"]["message"] and "Xid 79" in failed["status"]["message"]
        # Its ReplicaSet replaces it, on the GPU still in service, within the 10 s.
        (second,) = wait_for(running, "the replacement running", timeout=10)
        assert second["metadata"]["name"] != first["metadata"]["name"]
        assert second["metadata"]["annotations"]["kubelab.io/gpu-uuids"] != held
        # The failed pod stays Failed: nothing of it is started again on the broken GPU.
        assert api.get("pods", first["metadata"]["name"], "default")["status"]["phase"] == "Failed"


def test_a_finished_jobs_leftover_process_keeps_its_gpu_from_the_next_pod(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.devices.pop()  # one GPU, so the next pod can only wait for it
    standin.write()
    for key, value in standin.env().items():
        monkeypatch.setenv(key, value)

    def gpu_pod(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "containers": [
                    {
                        "name": "t",
                        "image": "busybox",
                        "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    }
                ]
            },
        }

    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        cl.add_kubelet("gpu-box", "--status-report-period", "1")
        cl.wait_nodes_ready()
        api = cl.api.client()
        api.create("Pod", gpu_pod("first"), namespace="default")
        wait_for(
            lambda: (
                api.get("Pod", "first", namespace="default")["status"].get("phase") == "Running"
            ),
            "the first GPU pod running",
        )
        # Its process outlives it on the GPU.
        standin.processes.append((0, 4242, 2048))
        standin.write()
        api.delete("Pod", "first", namespace="default")
        wait_for(lambda: gpu_health(api, "gpu-box") == ["Unhealthy"], "the GPU gated as unclean")
        reason = api.get("Node", "gpu-box")["status"]["gpus"][0]["reason"]
        assert reason == "LeftoverProcess: pid 4242 (2048 MiB)"
        note = wait_for(
            lambda: events_of(api, "default", "gpu-box", "GPUNotClean"), "the gate's event"
        )
        assert "pid 4242" in note[0]["message"]
        api.create("Pod", gpu_pod("second"), namespace="default")
        wait_for(
            lambda: events_of(api, "default", "second", "FailedScheduling"),
            "the second pod waiting while the GPU is not clean",
        )
        assert not api.get("Pod", "second", namespace="default")["spec"].get("nodeName")
        standin.processes.clear()
        standin.write()
        wait_for(
            lambda: (
                api.get("Pod", "second", namespace="default")["spec"].get("nodeName") == "gpu-box"
            ),
            "the second pod bound once the GPU is idle",
        )


def test_a_gpu_split_by_mig_is_handed_out_as_its_mig_devices(standin: StandIn) -> None:
    standin.devices[0].migs = [
        ("MIG-aaaa0000-0000-0000-0000-000000000001", "NVIDIA H100 80GB HBM3 MIG 3g.40gb", 40192),
        ("MIG-aaaa0000-0000-0000-0000-000000000002", "NVIDIA H100 80GB HBM3 MIG 3g.40gb", 40192),
    ]
    standin.write()
    gpus, _ = read_gpus(standin)
    assert [(g["index"], g["uuid"], g["memory_mib"]) for g in gpus] == [
        (0, "MIG-aaaa0000-0000-0000-0000-000000000001", 40192),
        (1, "MIG-aaaa0000-0000-0000-0000-000000000002", 40192),
        (2, RTX, 24564),
    ]
    assert all(g["healthy"] for g in gpus)  # no utilisation sensor on a MIG device: fine


def test_half_gpu_pods_pack_onto_one_device_through_the_scheduler(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.devices[1] = Device(RTX.replace("aaaa", "bbbb"))  # two H100s
    standin.write()
    for key, value in standin.env().items():
        monkeypatch.setenv(key, value)

    def sharer(name: str) -> dict[str, Any]:
        limits = {"kubelab.io/gpu-memory": "30Gi"}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "containers": [{"name": "t", "image": "busybox", "resources": {"limits": limits}}]
            },
        }

    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        cl.add_kubelet("gpu-box")
        cl.wait_nodes_ready()
        api = cl.api.client()
        node = api.get("Node", "gpu-box")
        assert node["status"]["allocatable"]["kubelab.io/gpu-memory"] == "163118Mi"
        placed = {}
        for name in ("a", "b", "c"):
            api.create("Pod", sharer(name), namespace="default")

            def gpu_of(name: str = name) -> str:
                meta = api.get("Pod", name, namespace="default")["metadata"]
                return str((meta.get("annotations") or {}).get("kubelab.io/gpu-uuids", ""))

            placed[name] = wait_for(gpu_of, f"pod {name} given a GPU")
        assert placed["a"] == placed["b"] == H100
        assert placed["c"] == standin.devices[1].uuid


# The kubelet's memory-budget loop (GpuMonitor.enforce_memory_budgets) with its real
# inventory (nvml_gpus through pynvml and the stand-in): per-process memory as NVML reports
# it. The process is this test's own child, a host process, so which container it is comes
# from the test (the kubelet reads /proc/PID/cgroup; tests/unit covers that part).
BUDGET = """
import asyncio, json, sys
from kubelet.gpu_health import GpuHealth
from kubelet.gpu_monitor import GpuMonitor, Sharer

pid = int(sys.argv[1])
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "llm", "namespace": "lab"}}
seen, killed = [], []

class Recorder:
    def record(self, obj, kind, reason, message, *a):
        seen.append([reason, message])

async def kill(cid):
    killed.append(cid)

monitor = GpuMonitor(
    GpuHealth(), Recorder(), lambda: {}, lambda: asyncio.sleep(0), lambda uuid: [],
    sharers=lambda: {"cid-llm": Sharer(pod, "server", 10 * 2**30)},
    kill=kill, owner_of=lambda p: "cid-llm" if p == pid else None,
)
asyncio.run(monitor.enforce_memory_budgets())
asyncio.run(monitor.enforce_memory_budgets())
print(json.dumps({"events": seen, "killed": killed}))
"""


def test_a_sharer_over_its_gpu_memory_is_warned_then_stopped_from_what_nvml_reports(
    standin: StandIn,
) -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        standin.processes = [(0, child.pid, 12288), (0, 1, 500)]
        standin.write()
        out = subprocess.run(
            [sys.executable, "-c", BUDGET, str(child.pid)],
            env=standin.env(), cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    finally:
        child.kill()
        child.wait()
    got = json.loads(out.stdout)
    reasons = [r for r, _ in got["events"]]
    assert reasons == ["GPUMemoryOverBudget", "GPUMemoryExceeded"], got
    assert "12288 MiB" in got["events"][0][1] and "10240 MiB" in got["events"][0][1]
    assert got["killed"] == ["cid-llm"]
