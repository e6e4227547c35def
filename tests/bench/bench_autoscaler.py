"""The lab autoscaler: how soon it decides which boxes to wake, and what its simulation of
pending pods against sleeping boxes costs.

- Wake decision: a real apiserver with 100 sleeping boxes (20 with 8 GPUs, 80 CPU-only,
  their last reports kept, as the autoscaler leaves a box it powered off) and the
  autoscaler loop in this process, on its own informers, with a driver that records each
  power-on instead of booting a box. 1,000 pods (100 wanting a GPU) are created and
  marked Unschedulable as the scheduler would mark them, by 8 writer threads; per pod, the
  time from that write's acknowledgement to the end of the first step that planned the pod
  onto a box. p99 of the 1,000 (goal <= 2 s). Peer: the autoscaler's own 1 s interval,
  the longest it ever waits without an event.
- Simulation cost per pending pod: ``plan_wakeups`` of the same 1,000 pods against the same
  100 boxes, in process, median of 5; beside the same plan trying every box in every round
  (``by_shape=False``, the planner before it grouped alike boxes), which gives the same
  plan (a unit test checks that).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.power import ASLEEP, ASLEEP_TAINT, DRIVER_ANNOTATION, GROUP_ANNOTATION
from autoscaler.autoscaler import Autoscaler, Options
from autoscaler.drivers import Box
from autoscaler.marks import asleep_status_patch
from autoscaler.planner import Candidate, plan_wakeups
from kubelet.gpu import fake_gpus
from kubelet.node import NodeFacts, build_node
from scheduler.plugins import default_framework
from tests.bench.common import QUICK, Results, median, percentiles, workdir
from tests.cluster import Cluster

Obj = dict[str, Any]
NS = "default"
INTERVAL = 1.0


class RecordingDriver:
    """Powers nothing: notes when each box was asked to power on."""

    name = "bench"

    def __init__(self) -> None:
        self.on: dict[str, float] = {}

    def power_on(self, box: Box) -> None:
        self.on.setdefault(box.node, time.monotonic())

    def power_off(self, box: Box) -> None:
        pass


def sleeping_node(i: int, gpu_boxes: int) -> tuple[Obj, Obj]:
    """Box ``i`` as created, and its status (the last report plus the asleep mark)."""
    gpus = 8 if i < gpu_boxes else 0
    name = f"gpu-{i:03d}" if gpus else f"cpu-{i:03d}"
    facts = NodeFacts(name, "127.0.0.1", 0, scheme="http", cpu="32", memory="128Gi", hollow=True)
    node = build_node(facts, fake_gpus(str(gpus), name) if gpus else [])
    node["metadata"]["annotations"] |= {
        DRIVER_ANNOTATION: "bench",
        GROUP_ANNOTATION: "gpu" if gpus else "cpu",
    }
    node["spec"] = {"taints": [dict(ASLEEP_TAINT)]}
    status = node.pop("status")
    mark = asleep_status_patch({"status": status}, "True", ASLEEP, "bench: asleep", time.time())
    status["conditions"] = mark["status"]["conditions"]
    return node, status


def pending_pod(i: int, gpu_pods: int) -> Obj:
    limits = {"nvidia.com/gpu": "1"} if i < gpu_pods else {}
    res = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": limits}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"wait-{i:04d}", "namespace": NS, "uid": f"uid-{i}"},
        "spec": {"containers": [{"name": "main", "image": "busybox", "resources": res}]},
    }


UNSCHEDULABLE = {
    "status": {
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/100 nodes are available: 100 node(s) had untolerated taint "
                "{kubelab.io/asleep: }.",
            }
        ]
    }
}


def as_unschedulable(pod: Obj) -> Obj:
    out = dict(pod)
    out["status"] = UNSCHEDULABLE["status"]
    return out


def plan_cost(res: Results, boxes: int, pods: int) -> None:
    gpu_boxes, gpu_pods = boxes // 5, pods // 10
    cands = []
    for i in range(boxes):
        node, status = sleeping_node(i, gpu_boxes)
        cands.append(
            Candidate({**node, "status": status}, node["metadata"]["annotations"][GROUP_ANNOTATION])
        )
    pending = [as_unschedulable(pending_pod(i, gpu_pods)) for i in range(pods)]
    filters = default_framework().filters

    def timed(by_shape: bool, reps: int) -> list[float]:
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            plan_wakeups(filters, pending, cands, by_shape=by_shape)
            out.append(time.perf_counter() - t0)
        return out

    fast = timed(True, 5)
    every = timed(False, 1 if QUICK else 2)
    per_pod, peer = median(fast) / pods * 1000, median(every) / pods * 1000
    res.add(
        f"wake simulation per pending pod ({pods} pods, {boxes} sleeping boxes)",
        round(per_pod, 4),
        "ms",
        peer=round(peer, 4),
        peer_label="the same plan trying every box in every round",
        higher_is_better=False,
        stats={"plan_s_median": round(median(fast), 4), "every_box_s": round(median(every), 3)},
    )


async def _decide(cl: Cluster, boxes: int, pods: int) -> tuple[list[float], dict[str, int]]:
    driver = RecordingDriver()
    client = cl.api.async_client()
    scaler = Autoscaler(
        client, {"bench": driver}, Options(interval=INTERVAL, resume_timeout=3600.0)
    )
    decided: dict[str, float] = {}
    step = scaler.step

    async def step_and_note() -> None:
        await step()
        t = time.monotonic()
        for key in scaler.woken_for:
            decided.setdefault(key, t)

    scaler.step = step_and_note  # type: ignore[method-assign]
    await scaler.start(60)
    runner = asyncio.create_task(scaler.run())
    acked: dict[str, float] = {}
    lock = threading.Lock()
    gpu_pods = pods // 10

    def write(idx: list[int]) -> None:
        c = cl.api.client()
        for i in idx:
            p = pending_pod(i, gpu_pods)
            del p["metadata"]["uid"]
            c.create("pods", p, NS)
            c.patch("pods", p["metadata"]["name"], UNSCHEDULABLE, NS, subresource="status")
            with lock:
                acked[f"{NS}/{p['metadata']['name']}"] = time.monotonic()

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(8) as pool:
        await asyncio.gather(
            *(loop.run_in_executor(pool, write, list(range(k, pods, 8))) for k in range(8))
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(decided) < len(acked):
        await asyncio.sleep(0.1)
    runner.cancel()
    await scaler.stop()
    await client.close()
    lat = [decided[k] - acked[k] for k in acked if k in decided]
    woke: dict[str, int] = {"boxes": len(driver.on), "undecided": len(acked) - len(lat)}
    return lat, woke


def wake_decision(res: Results, boxes: int, pods: int) -> None:
    home = workdir("autoscaler") / "home"
    with Cluster(home) as cl:
        c = cl.client
        for i in range(boxes):
            node, status = sleeping_node(i, boxes // 5)
            c.create("nodes", node)
            c.patch("nodes", node["metadata"]["name"], {"status": status}, subresource="status")
        lat, woke = asyncio.run(_decide(cl, boxes, pods))
    if woke["undecided"]:
        res.fail(f"{woke['undecided']} of {pods} pods were never planned onto a box in 60 s")
    if not lat:
        return
    p = percentiles(lat)
    res.add(
        f"unschedulable pod to wake decision (p99 of {len(lat)} pods, {boxes} sleeping boxes)",
        round(p["p99"], 3),
        "s",
        target="<= 2 s",
        met=p["p99"] <= 2.0,
        peer=INTERVAL,
        peer_label="the autoscaler's interval (its longest wait without an event)",
        higher_is_better=False,
        stats={**{k: round(v, 3) for k, v in p.items()}, "boxes_woken": woke["boxes"]},
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("autoscaler")
    boxes, pods = (20, 200) if quick else (100, 1000)
    plan_cost(res, boxes, pods)
    wake_decision(res, boxes, pods)
    return res.as_dict()
