"""The autoscaler's Prometheus metrics: boxes per power state and group, and powered-on
time summed over the boxes that are not asleep, read back with prometheus-client's parser."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from autoscaler.metrics import AutoscalerMetrics

Obj = dict[str, Any]


def box(name: str, group: str, asleep: tuple[str, str] | None, **spec: Any) -> Obj:
    conds = [] if asleep is None else [{"type": "Asleep", "status": asleep[0], "reason": asleep[1]}]
    return {
        "metadata": {"name": name, "annotations": {"kubelab.io/power-group": group}},
        "spec": spec,
        "status": {"conditions": conds},
    }


def samples(m: AutoscalerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(m.registry).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_states_are_counted_and_powered_on_time_accumulates() -> None:
    m = AutoscalerMetrics()
    taint = [{"key": "kubelab.io/asleep", "effect": "NoSchedule"}]
    boxes = [
        box("g0", "gpu", ("True", "Asleep")),
        box("g1", "gpu", ("True", "Waking")),
        box("c0", "cpu", None),
        box("c1", "cpu", ("False", "Awake"), taints=taint, unschedulable=True),  # draining
    ]
    m.observe(boxes, 100.0)
    m.observe(boxes, 110.0)  # 10 s: one gpu box and two cpu boxes on
    got = samples(m)
    assert got[("kubelab_autoscaler_nodes", (("group", "gpu"), ("state", "Asleep")))] == 1
    assert got[("kubelab_autoscaler_nodes", (("group", "gpu"), ("state", "Waking")))] == 1
    assert got[("kubelab_autoscaler_nodes", (("group", "cpu"), ("state", "Awake")))] == 1
    assert got[("kubelab_autoscaler_nodes", (("group", "cpu"), ("state", "Draining")))] == 1
    assert got[("kubelab_autoscaler_nodes", (("group", "cpu"), ("state", "Asleep")))] == 0
    on = "kubelab_autoscaler_powered_on_node_seconds_total"
    assert got[(on, (("group", "gpu"),))] == 10.0
    assert got[(on, (("group", "cpu"),))] == 20.0


def test_event_counters_are_per_group() -> None:
    m = AutoscalerMetrics()
    m.wakeups.labels(group="gpu").inc()
    m.failed_wakes.labels(group="dead").inc(2)
    m.power_offs.labels(group="cpu").inc()
    got = samples(m)
    assert got[("kubelab_autoscaler_wakeups_total", (("group", "gpu"),))] == 1
    assert got[("kubelab_autoscaler_failed_wakes_total", (("group", "dead"),))] == 2
    assert got[("kubelab_autoscaler_power_offs_total", (("group", "cpu"),))] == 1
