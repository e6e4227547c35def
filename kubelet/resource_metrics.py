"""``/metrics/resource``: the kubelet's resource metrics in the Prometheus text format
(rendered by prometheus-client), with the names and labels of Kubernetes' kubelet:

- ``node_cpu_usage_seconds_total``, ``node_memory_working_set_bytes``
- ``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``,
  ``container_start_time_seconds`` (labels ``container``, ``pod``, ``namespace``)
- ``pod_cpu_usage_seconds_total``, ``pod_memory_working_set_bytes``
- ``resource_scrape_error`` (1 until the first readings exist)

and, for a node with GPUs, the names and labels of NVIDIA's DCGM exporter, so a lab's
Prometheus rules and Grafana dashboards for it work unchanged:

- ``DCGM_FI_DEV_GPU_UTIL`` (percent), ``DCGM_FI_DEV_FB_USED`` and ``DCGM_FI_DEV_FB_FREE``
  (MiB), ``DCGM_FI_DEV_POWER_USAGE`` (W), with labels ``gpu`` (index), ``UUID``,
  ``device`` (``nvidia0``), ``modelName``, ``Hostname`` and the holder's ``container``,
  ``pod``, ``namespace`` (empty for a free GPU); a sensor the board lacks is left out

The values are the usage reporter's latest readings (kubelet/usage_reporter.py, every
``--metrics-report-period``), each sample stamped with the time it was read, so a scraper
sees how fresh they are. Pure: readings in, text out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubelet.gpu_usage import MIB, GpuReading

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class ContainerReading:
    namespace: str
    pod: str
    container: str
    cpu_seconds: float  # cumulative CPU time
    memory_bytes: int  # working set
    start_time: float | None = None  # Unix time the container started


@dataclass(frozen=True)
class Readings:
    at: float  # Unix time of the readings
    node_cpu_seconds: float | None = None
    node_memory_bytes: int | None = None
    containers: tuple[ContainerReading, ...] = ()
    gpus: tuple[GpuReading, ...] = ()
    node: str = ""  # the Hostname label of the GPU series


class _ReadingsCollector(Collector):
    def __init__(self, readings: Readings | None) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        r = self.readings
        error = GaugeMetricFamily(
            "resource_scrape_error", "1 if there was an error while getting container metrics"
        )
        error.add_metric([], 0 if r is not None else 1)
        yield error
        if r is None:
            return
        at = r.at
        node_cpu = CounterMetricFamily(
            "node_cpu_usage_seconds", "Cumulative cpu time consumed by the node in core-seconds"
        )
        node_mem = GaugeMetricFamily(
            "node_memory_working_set_bytes", "Current working set of the node in bytes"
        )
        if r.node_cpu_seconds is not None:
            node_cpu.add_metric([], r.node_cpu_seconds, timestamp=at)
        if r.node_memory_bytes is not None:
            node_mem.add_metric([], r.node_memory_bytes, timestamp=at)
        yield node_cpu
        yield node_mem
        labels = ["container", "pod", "namespace"]
        c_cpu = CounterMetricFamily(
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed by the container in core-seconds",
            labels=labels,
        )
        c_mem = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set of the container in bytes",
            labels=labels,
        )
        c_start = GaugeMetricFamily(
            "container_start_time_seconds",
            "Start time of the container since unix epoch in seconds",
            labels=labels,
        )
        pods: dict[tuple[str, str], tuple[float, int]] = {}
        for c in r.containers:
            values = [c.container, c.pod, c.namespace]
            c_cpu.add_metric(values, c.cpu_seconds, timestamp=at)
            c_mem.add_metric(values, c.memory_bytes, timestamp=at)
            if c.start_time is not None:
                c_start.add_metric(values, c.start_time, timestamp=at)
            cpu, mem = pods.get((c.pod, c.namespace), (0.0, 0))
            pods[(c.pod, c.namespace)] = (cpu + c.cpu_seconds, mem + c.memory_bytes)
        yield c_cpu
        yield c_mem
        yield c_start
        p_cpu = CounterMetricFamily(
            "pod_cpu_usage_seconds",
            "Cumulative cpu time consumed by the pod in core-seconds",
            labels=["pod", "namespace"],
        )
        p_mem = GaugeMetricFamily(
            "pod_memory_working_set_bytes",
            "Current working set of the pod in bytes",
            labels=["pod", "namespace"],
        )
        for (pod, ns), (cpu, mem) in sorted(pods.items()):
            p_cpu.add_metric([pod, ns], cpu, timestamp=at)
            p_mem.add_metric([pod, ns], mem, timestamp=at)
        yield p_cpu
        yield p_mem
        if r.gpus:
            yield from _gpu_families(r.gpus, r.node, at)


GPU_LABELS = ["gpu", "UUID", "device", "modelName", "Hostname", "container", "namespace", "pod"]


def _gpu_families(gpus: tuple[GpuReading, ...], node: str, at: float) -> Iterator[Metric]:
    """The DCGM exporter's gauges for each GPU (its values: kubelet/gpu_usage.py)."""
    util = GaugeMetricFamily("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", labels=GPU_LABELS)
    used = GaugeMetricFamily(
        "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", labels=GPU_LABELS
    )
    free = GaugeMetricFamily(
        "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", labels=GPU_LABELS
    )
    power = GaugeMetricFamily("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", labels=GPU_LABELS)
    for g in gpus:
        values = [
            str(g.index),
            g.uuid,
            f"nvidia{g.index}",
            g.model,
            node,
            g.container,
            g.namespace,
            g.pod,
        ]
        if g.utilization is not None:
            util.add_metric(values, g.utilization, timestamp=at)
        if g.memory_used_bytes is not None:
            used.add_metric(values, g.memory_used_bytes // MIB, timestamp=at)
            free.add_metric(
                values, max(g.memory_total_bytes - g.memory_used_bytes, 0) // MIB, timestamp=at
            )
        if g.power_w is not None:
            power.add_metric(values, g.power_w, timestamp=at)
    yield from (util, used, free, power)


def render(readings: Readings | None) -> bytes:
    """The text of ``/metrics/resource`` for ``readings`` (None: none taken yet)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReadingsCollector(readings))
    return generate_latest(registry)
