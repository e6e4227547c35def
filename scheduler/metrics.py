"""Scheduler metrics in the Prometheus text format, and a tiny ``/metrics`` HTTP server.

- ``scheduler_schedule_attempts_total{result="scheduled|unschedulable|error"}``
- ``scheduler_scheduling_duration_seconds`` — histogram, from popping a pod off the
  queue to its Binding being written (or the attempt failing)
- ``scheduler_pending_pods{queue="active|backoff|unschedulable"}``
- ``scheduler_preemption_victims_total``, ``scheduler_binding_conflicts_total``
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# kube-scheduler's buckets for scheduling_attempt_duration_seconds: 1 ms doubling to ~16 s.
DEFAULT_BUCKETS = tuple(0.001 * 2**i for i in range(15))


class Histogram:
    """A cumulative histogram with fixed upper bounds."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self.counts = [0] * (len(self.bounds) + 1)  # last: +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str) -> list[str]:
        lines = []
        cumulative = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            cumulative += n
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {self.sum:.6f}")
        lines.append(f"{name}_count {self.count}")
        return lines


class SchedulerMetrics:
    """The scheduler's counters, histogram and gauges."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {"scheduled": 0, "unschedulable": 0, "error": 0}
        self.duration = Histogram()
        self.preemption_victims = 0
        self.binding_conflicts = 0
        self.pending: Callable[[], dict[str, int]] = dict

    def attempt(self, result: str, seconds: float | None = None) -> None:
        """Count one scheduling attempt ending in ``result``."""
        self.attempts[result] = self.attempts.get(result, 0) + 1
        if seconds is not None:
            self.duration.observe(seconds)

    def render(self) -> str:
        """All metrics as Prometheus exposition text."""
        out = [
            "# HELP scheduler_schedule_attempts_total Scheduling attempts by result.",
            "# TYPE scheduler_schedule_attempts_total counter",
        ]
        for result, n in sorted(self.attempts.items()):
            out.append(f'scheduler_schedule_attempts_total{{result="{result}"}} {n}')
        out += [
            "# HELP scheduler_scheduling_duration_seconds From queue pop to Binding written.",
            "# TYPE scheduler_scheduling_duration_seconds histogram",
            *self.duration.render("scheduler_scheduling_duration_seconds"),
            "# HELP scheduler_pending_pods Pending pods by sub-queue.",
            "# TYPE scheduler_pending_pods gauge",
        ]
        counts = self.pending()
        for q in ("active", "backoff", "unschedulable"):
            out.append(f'scheduler_pending_pods{{queue="{q}"}} {counts.get(q, 0)}')
        out += [
            "# HELP scheduler_preemption_victims_total Pods deleted to make room.",
            "# TYPE scheduler_preemption_victims_total counter",
            f"scheduler_preemption_victims_total {self.preemption_victims}",
            "# HELP scheduler_binding_conflicts_total Bindings the apiserver refused with 409.",
            "# TYPE scheduler_binding_conflicts_total counter",
            f"scheduler_binding_conflicts_total {self.binding_conflicts}",
        ]
        return "\n".join(out) + "\n"


async def serve_metrics(
    metrics: SchedulerMetrics, port: int, host: str = "127.0.0.1"
) -> asyncio.Server:
    """Serve ``GET /metrics`` (and ``/healthz``) on ``host:port``; a minimal HTTP/1.0
    responder is enough for Prometheus and curl and needs no framework."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path.split("?")[0] == "/metrics":
                status, ctype, body = "200 OK", "text/plain; version=0.0.4", metrics.render()
            elif path == "/healthz":
                status, ctype, body = "200 OK", "text/plain", "ok\n"
            else:
                status, ctype, body = "404 Not Found", "text/plain", "try /metrics\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
