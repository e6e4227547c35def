"""HPA reaction (issue 20): from the start of load to the HorizontalPodAutoscaler's first
scale-up decision, and to the new replica Ready, beside the bound the two periods in the
path allow, in the same run.

The cluster is ``tests/e2e/hpa_lab.py``'s: one Docker kubelet reporting its containers'
cgroup usage every ``--metrics-report-period`` (15 s, kubelab up's default), the HPA
controller looking at each HPA every ``--horizontal-pod-autoscaler-sync-period`` (15 s,
Kubernetes' and kubelab's default). The Deployment runs one busybox pod requesting 100m of
CPU with an autoscaling/v2 HPA at 50 % utilisation, max 2. Each sample: the HPA is made
again at one replica (a fresh one, so the 300 s downscale window of the last sample is not
waited out), its first look at the idle pod awaited, then a wait spread evenly over one sync
period (so the load starts at every phase of the HPA's timer, as real load does; the
kubelet's report timer runs free), then ``docker exec`` starts the spinning loop: the
clock runs from there to
``spec.replicas`` 2 on the Deployment (the decision written through the scale
subresource) and to 2 pods Ready (no readiness probe: Ready once started).

Goal: decision p95 <= 20 s (Kubernetes with metrics-server takes 30-90 s: its kubelet
summary and metrics-server scrape every 15-60 s, then the HPA's 15 s). Needs Docker.
"""

from __future__ import annotations

import argparse
import shutil
import time
from typing import Any

from api.errors import ApiError
from api.quantity import cpu_millis
from tests.bench.common import QUICK, Results, percentiles, workdir
from tests.e2e.hpa_lab import NS, HpaLab, hpa_lab
from tests.wait import wait_for

SYNC = 15.0  # HPA sync period and kubelet metrics report period, as kubelab up runs them
REPORT = 15.0
NAME = "burn"
METRICS = "/apis/metrics.k8s.io/v1beta1"


def hpa_exists(lab: HpaLab) -> bool:
    try:
        lab.api.get("horizontalpodautoscalers", NAME, NS)
    except ApiError as e:
        if e.code == 404:
            return False
        raise
    return True


def idle_reading(lab: HpaLab, pod: str) -> bool:
    try:
        got = lab.api.request("GET", f"{METRICS}/namespaces/{NS}/pods/{pod}").json()
    except ApiError:
        return False
    containers = got.get("containers") or []
    return bool(containers) and all(cpu_millis(c["usage"]["cpu"]) < 20 for c in containers)


def reset(lab: HpaLab) -> str:
    """One idle replica under a fresh HPA that has looked at it once; the pod's name."""
    for p in lab.pods(NAME):
        lab.load(str(p["metadata"]["name"]), on=False)
    if hpa_exists(lab):
        lab.api.delete("horizontalpodautoscalers", NAME, NS)
    wait_for(lambda: not hpa_exists(lab), "the old HPA gone", 30)
    lab.api.patch("deployments", NAME, {"spec": {"replicas": 1}}, NS)
    wait_for(lambda: len(lab.pods(NAME)) == 1 and lab.ready_pods(NAME) == 1, "one pod", 60)
    pod = str(lab.pods(NAME)[0]["metadata"]["name"])
    # The last report may still hold the previous sample's load: a fresh HPA would scale
    # on it. Wait for a reading of the idle pod first.
    wait_for(lambda: idle_reading(lab, pod), "an idle reading of the pod", 3 * REPORT + 10)
    lab.hpa(NAME, max_replicas=2)

    def looked() -> bool:
        st = lab.api.get("horizontalpodautoscalers", NAME, NS).get("status") or {}
        return bool(st.get("currentMetrics")) and st.get("desiredReplicas") == 1

    wait_for(looked, "the new HPA's first look at the idle pod", 60)
    return pod


def sample(lab: HpaLab, pod: str) -> tuple[float, float]:
    """Seconds from load start to the scale-up decision and to the new replica Ready."""
    t0 = time.monotonic()
    lab.load(pod, on=True)
    wait_for(lambda: lab.replicas(NAME) == 2, "the scale-up decision", 120, interval=0.1)
    decided = time.monotonic() - t0
    wait_for(lambda: lab.ready_pods(NAME) == 2, "the new replica Ready", 120, interval=0.1)
    return decided, time.monotonic() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    rounds = 3 if quick else 5
    res = Results("hpa")
    wd = workdir("hpa")
    controller_flags = ("--horizontal-pod-autoscaler-sync-period", str(SYNC))
    try:
        with hpa_lab(wd, controller_flags, ("--metrics-report-period", str(REPORT))) as lab:
            lab.burner(NAME, cpu_request="100m")
            wait_for(lambda: lab.ready_pods(NAME) == 1, "the burner's pod Ready", 60)
            decisions: list[float] = []
            readies: list[float] = []
            for i in range(rounds):
                pod = reset(lab)
                # Phases spread evenly over one sync period after the HPA's last look (a
                # few random draws can all land late in it and flatter the figure).
                time.sleep((i + 0.5) * SYNC / rounds)
                d, r = sample(lab, pod)
                decisions.append(d)
                readies.append(r)
                print(f"[hpa] decision {d:.1f} s, ready {r:.1f} s", flush=True)
            dp, rp = percentiles(decisions), percentiles(readies)
            # nearest-rank p95 of a handful of samples is their max: say so by the name
            p95_d, p95_r = dp["max"], rp["max"]
            res.add(
                "HPA reaction: load start to the first scale-up decision, p95 (max of samples)",
                round(p95_d, 1),
                "s",
                peer=SYNC + REPORT,
                peer_label="the bound the path allows: HPA sync period 15 s + kubelet metrics "
                "report period 15 s (kubelab up's defaults), same run",
                target="<= 20 s",
                met=p95_d <= 20.0,
                higher_is_better=False,
                stats={
                    "decision_s": [round(x, 2) for x in decisions],
                    "decision_p50_s": round(dp["p50"], 2),
                },
            )
            res.add(
                "HPA reaction: load start to the new replica Ready, p95 (max of samples)",
                round(p95_r, 1),
                "s",
                peer=round(p95_d, 1),
                peer_label="load start to the scale-up decision (the line above), same samples",
                higher_is_better=False,
                stats={
                    "ready_s": [round(x, 2) for x in readies],
                    "ready_p50_s": round(rp["p50"], 2),
                    "decision_to_ready_s": [
                        round(r - d, 2) for d, r in zip(decisions, readies, strict=True)
                    ],
                },
            )
            res.note(
                f"{rounds} samples, each with a fresh HPA and the load started at phases "
                "spread evenly over one sync period; one Docker kubelet; every component and the "
                "spinning container share the box's cores"
            )
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        res.write()
        shutil.rmtree(wd, ignore_errors=True)
    return res.as_dict()


if __name__ == "__main__":
    print(run(argparse.Namespace(quick=True, out=None)))
