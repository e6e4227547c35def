"""Usage readings (kubelet/usage.py): a container's cgroup found from its process under
cgroup v1 and v2, CPU as a rate between readings, the working set, the fake runtime's
simulated usage, and the report body the kubelet sends (kubelet/usage_reporter.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kubelet.runtime.base import ContainerInfo
from kubelet.usage import Sample, UsageTracker, cgroup_paths, read_sample, simulated_usage
from kubelet.usage_reporter import UsageReporter

V1 = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n"
V2 = "0::/system.slice/docker-abc.scope\n"


def test_cgroup_paths_v1_and_v2() -> None:
    p = cgroup_paths(V1)
    assert p["memory"] == p["cpuacct"] == p["cpu"] == "/docker/abc"
    assert cgroup_paths(V2)[""] == "/system.slice/docker-abc.scope"


def fake_proc(tmp: Path, pid: int, text: str) -> Path:
    proc = tmp / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(text)
    return proc


def test_read_sample_cgroup_v1(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    (root / "cpuacct/docker/abc").mkdir(parents=True)
    (root / "cpuacct/docker/abc/cpuacct.usage").write_text("2500000000\n")
    (root / "memory/docker/abc").mkdir(parents=True)
    (root / "memory/docker/abc/memory.usage_in_bytes").write_text("10485760\n")
    (root / "memory/docker/abc/memory.stat").write_text("cache 1\ntotal_inactive_file 2097152\n")
    assert read_sample(7, root, fake_proc(tmp_path, 7, V1)) == Sample(2_500_000_000, 8 * 2**20)


def test_read_sample_cgroup_v2(tmp_path: Path) -> None:
    d = tmp_path / "cg/system.slice/docker-abc.scope"
    d.mkdir(parents=True)
    (d / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    (d / "memory.current").write_text("4194304\n")
    (d / "memory.stat").write_text("anon 1\ninactive_file 1048576\n")
    assert read_sample(8, tmp_path / "cg", fake_proc(tmp_path, 8, V2)) == Sample(
        1_500_000_000, 3 * 2**20
    )


def test_a_process_that_is_gone_has_no_sample(tmp_path: Path) -> None:
    assert read_sample(9, tmp_path, tmp_path) is None


def test_cpu_is_a_rate_between_readings() -> None:
    t = UsageTracker()
    assert t.observe("c", 10.0, Sample(1_000_000_000, 5)) is None  # first: no rate yet
    u = t.observe("c", 12.0, Sample(2_000_000_000, 7))
    assert u is not None and (u.cpu_nanocores, u.memory_bytes) == (500_000_000, 7)
    assert t.observe("c", 13.0, Sample(10, 7)) is None  # the counter began again: restarted


def test_simulated_usage_is_split_over_containers() -> None:
    u = simulated_usage("cpu=500m,memory=256Mi", 2)
    assert (u.cpu_nanocores, u.memory_bytes) == (250_000_000, 128 * 2**20)
    assert simulated_usage("", 1).cpu_nanocores == 0
    assert simulated_usage("cpu=lots", 1).cpu_nanocores == 0


def worker(name: str, annotation: str = "", state: str = "running") -> Any:
    pod = {
        "metadata": {
            "name": name,
            "namespace": "lab",
            "labels": {"app": "llm"},
            "annotations": {"kubelab.io/simulated-usage": annotation} if annotation else {},
        },
        "status": {"phase": "Running"},
    }
    info = ContainerInfo(id=f"id-{name}", name="c", labels={}, state=state)
    return SimpleNamespace(
        pod=pod,
        tracks={"c": SimpleNamespace(current=info)},
        app_containers=lambda: [{"name": "c"}],
    )


def test_the_report_of_a_fake_node() -> None:
    pods = [worker("a", "cpu=250m,memory=64Mi"), worker("b", state="exited")]
    rep = UsageReporter(
        None,  # type: ignore[arg-type]
        "n1",
        lambda: pods,
        simulated=True,
        node_from_host=False,
    )
    body = rep.collect()
    assert body["usage"] == {"cpu": "250000000n", "memory": "64Mi"}
    (pod,) = body["pods"]  # b runs no container: not reported
    assert (pod["namespace"], pod["name"], pod["labels"]) == ("lab", "a", {"app": "llm"})
    assert pod["containers"] == [{"name": "c", "usage": {"cpu": "250000000n", "memory": "64Mi"}}]
