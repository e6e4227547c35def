"""What the kubelet's usage metrics cost (issue 20's first figure): CPU of one node's usage
report and one scrape of ``/metrics/resource`` per period for 100 containers, as a share
of one core at the 15 s period (metrics-server scrapes every 15 to 60 s).

- Figure: the kubelet's own code (``UsageReporter.collect``: the cgroup counters of each
  container found from its main process, then the report body encoded as the client sends
  it, and ``resource_metrics.render`` for one scrape) over 100 running processes, each
  standing for a container's main process, and 8 simulated GPUs held by 8 of the pods. The
  files read per container are a container's: ``/proc/PID/cgroup``, then its CPU and memory
  counters, so the kernel work is the same; the processes here share one cgroup.
- Peer: the same report of the fake runtime (the usage from the pods' annotation, no file
  read), which is the cost of the reporter's bookkeeping alone; the difference is reading
  the kernel. Target ≤ 2 % of one core.

No cluster: the reporter runs in this process, as it does in the kubelet.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from types import SimpleNamespace
from typing import Any

import orjson

from kubelet.gpu import fake_gpus
from kubelet.resource_metrics import render
from kubelet.runtime.base import ContainerInfo
from kubelet.usage_reporter import UsageReporter
from tests.bench.common import QUICK, Results, median

CONTAINERS = 100
GPU_PODS = 8
PERIOD = 15.0


def workers(pids: list[int], gpu_uuids: list[str]) -> list[Any]:
    out = []
    for i, pid in enumerate(pids):
        annotations = {"kubelab.io/simulated-usage": "cpu=100m,memory=64Mi,gpu=50"}
        containers = [{"name": "c"}]
        if i < len(gpu_uuids):
            annotations["kubelab.io/gpu-uuids"] = gpu_uuids[i]
            containers = [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]
        pod = {
            "metadata": {
                "name": f"p{i}",
                "namespace": "bench",
                "labels": {"app": "bench"},
                "annotations": annotations,
            },
            "status": {"phase": "Running"},
        }
        info = ContainerInfo(id=f"{i:064x}", name="c", labels={}, state="running", pid=pid)
        out.append(
            SimpleNamespace(
                pod=pod,
                tracks={"c": SimpleNamespace(current=info)},
                app_containers=lambda c=containers: c,
            )
        )
    return out


def cpu_per_period(reporter: UsageReporter, rounds: int) -> tuple[float, list[float]]:
    """Median CPU seconds of one report and one scrape (after two warm-up rounds)."""
    for _ in range(2):
        reporter.collect()
    samples = []
    for _ in range(rounds):
        t0 = time.process_time()
        orjson.dumps(reporter.collect())
        render(reporter.readings)
        samples.append(time.process_time() - t0)
    return median(samples), samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    res = Results("usage")
    rounds = 5 if QUICK or getattr(args, "quick", False) else 40
    procs = [subprocess.Popen(["sleep", "600"]) for _ in range(CONTAINERS)]
    try:
        gpus = fake_gpus(f"{GPU_PODS}xH100-80GB", "bench")
        pods = workers([p.pid for p in procs], [g.uuid for g in gpus])

        def reporter(simulated: bool) -> UsageReporter:
            return UsageReporter(
                None,  # type: ignore[arg-type]  # collect() never sends
                "bench",
                lambda: pods,
                simulated=simulated,
                node_from_host=not simulated,
                gpus=lambda: gpus,
            )

        real = reporter(False)
        real.collect()
        real.collect()  # CPU is a rate: a container has readings from its second sample on
        if real.readings is None or len(real.readings.containers) != CONTAINERS:
            got = len(real.readings.containers) if real.readings else 0
            res.fail(f"only {got} of {CONTAINERS} containers had cgroup readings")
        # Alternate the two so a load change on the machine falls on both.
        real_s: list[float] = []
        fake_s: list[float] = []
        for _ in range(4):
            real_s += cpu_per_period(real, rounds // 4 or 1)[1]
            fake_s += cpu_per_period(reporter(True), rounds // 4 or 1)[1]
        figure = median(real_s) / PERIOD * 100
        peer = median(fake_s) / PERIOD * 100
        res.add(
            f"kubelet usage metrics, {CONTAINERS} containers (8 with a GPU), one report and "
            "one /metrics/resource scrape per 15 s",
            round(figure, 3),
            "% of one core",
            target="<= 2 %",
            met=figure <= 2.0,
            peer=round(peer, 3),
            peer_label="the same report from the fake runtime's annotations (no kernel reads)",
            higher_is_better=False,
            stats={
                "cgroup_ms_per_period": round(median(real_s) * 1000, 2),
                "simulated_ms_per_period": round(median(fake_s) * 1000, 2),
                "rounds": len(real_s),
            },
        )
        res.note(
            f"{CONTAINERS} `sleep` processes stand for the containers' main processes: the "
            "reporter reads /proc/PID/cgroup and that cgroup's CPU and memory files for each, "
            f"as for a container; CPU is time.process_time() of this process, pid {os.getpid()}"
        )
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    return res.as_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    out = run(args)
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
