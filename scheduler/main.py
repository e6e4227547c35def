"""``kubelab scheduler``: run the scheduler against an API server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket

from api.queues import DEFAULT_HALF_LIFE
from client import AsyncClient
from client.kubeconfig import default_kubeconfig_path
from client.leader import LeaderElector, add_leader_flags, config_from_args
from scheduler.binder import HttpBinder
from scheduler.metrics import SchedulerMetrics, serve_metrics
from scheduler.plugins import default_framework
from scheduler.scheduler import DEFAULT_SCHEDULER_NAMES, Scheduler

log = logging.getLogger("scheduler")


def default_kubeconfig() -> str:
    return str(default_kubeconfig_path())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab scheduler",
        description="Place pending pods on nodes by resources, GPUs, taints and affinity.",
    )
    p.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig of the API server (default: $KUBELAB_HOME/kubeconfig, "
        "$KUBELAB_HOME defaulting to ~/.kubelab)",
    )
    p.add_argument("--context", default=None, help="kubeconfig context to use")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=10251,
        help="port for Prometheus /metrics on --metrics-address; 0 turns it off (default 10251)",
    )
    p.add_argument("--metrics-address", default="127.0.0.1", help="address /metrics listens on")
    p.add_argument(
        "--scheduler-name",
        action="append",
        default=None,
        help="spec.schedulerName values this scheduler serves; repeat for several "
        "(default: empty, default-scheduler and kubelab)",
    )
    p.add_argument(
        "--bind-concurrency",
        type=int,
        default=32,
        help="most Binding requests in flight at once (default 32)",
    )
    p.add_argument(
        "--no-scheduled-events",
        action="store_true",
        help="do not write a 'Scheduled' event per bound pod (FailedScheduling and "
        "preemption events are always written)",
    )
    p.add_argument(
        "--event-qps",
        type=float,
        default=50.0,
        help="most 'Scheduled' events written per second (burst twice that); the rest are "
        "dropped, as client-go's rate limit does (0: no limit; default 50)",
    )
    p.add_argument(
        "--no-queueing-hints",
        action="store_true",
        help="move every unschedulable pod back on every node or pod event, backoff kept "
        "(instead of only the pods the event may help, at once), and write every "
        "unschedulable attempt's reasons as it comes: the behaviour before queueing hints",
    )
    p.add_argument(
        "--report-hold",
        type=float,
        default=1.0,
        help="seconds a changed report about a pod already reported unschedulable waits "
        "for a newer one before it is written (0: write each attempt; default 1; "
        "--no-queueing-hints implies 0)",
    )
    p.add_argument(
        "--fair-share-half-life",
        type=float,
        default=DEFAULT_HALF_LIFE,
        help="seconds in which a queue's recorded GPU usage halves, for the fair-share "
        f"order (0: never; default {DEFAULT_HALF_LIFE:.0f}, 7 days)",
    )
    p.add_argument(
        "--queue-status-period",
        type=float,
        default=5.0,
        help="seconds between writes of each Queue's status (usage, counts; default 5)",
    )
    add_leader_flags(p, "kube-scheduler")
    p.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
    )
    return p


async def run(args: argparse.Namespace) -> int:
    kubeconfig = args.kubeconfig or default_kubeconfig()
    client = AsyncClient.from_kubeconfig(kubeconfig, args.context)
    metrics = SchedulerMetrics()
    sched = Scheduler(
        client,
        framework=default_framework(),
        scheduler_names=args.scheduler_name or DEFAULT_SCHEDULER_NAMES,
        bind_concurrency=args.bind_concurrency,
        metrics=metrics,
        identity=f"{socket.gethostname()}-{os.getpid()}",
        scheduled_events=not args.no_scheduled_events,
        event_qps=args.event_qps,
        queueing_hints=not args.no_queueing_hints,
        report_hold=0.0 if args.no_queueing_hints else args.report_hold,
        half_life=args.fair_share_half_life,
        queue_status_period=args.queue_status_period,
        binder=HttpBinder.from_kubeconfig(
            kubeconfig, args.context, connections=args.bind_concurrency
        ),
    )
    server = None
    if args.metrics_port:
        try:
            server = await serve_metrics(metrics, args.metrics_port, args.metrics_address)
            log.info("metrics on http://%s:%d/metrics", args.metrics_address, args.metrics_port)
        except OSError as exc:  # a second scheduler on the same box: keep scheduling
            log.warning("cannot serve metrics on port %d: %s", args.metrics_port, exc)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    code = 0
    elector: LeaderElector | None = None
    keeper: asyncio.Task[None] | None = None
    if args.leader_elect:
        elector = LeaderElector(client, config_from_args(args))
        acquire = asyncio.create_task(elector.acquire())
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait({acquire, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if stop.is_set():
            acquire.cancel()
            await _close(server, client)
            return 0
        keeper = asyncio.create_task(elector.keep())

        def lost(_: asyncio.Task[None]) -> None:
            nonlocal code
            if not stop.is_set():
                # As kube-scheduler: a copy that lost its lease exits at once (its
                # in-flight binds would race the new leader's) and is restarted.
                code = 1
                stop.set()

        keeper.add_done_callback(lost)
    await sched.start()
    log.info("scheduler started (%s)", kubeconfig)
    runner = asyncio.create_task(sched.run())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if runner in done and runner.exception():
        log.error("scheduler loop died: %r", runner.exception())
    await sched.stop()
    runner.cancel()
    stopper.cancel()
    if keeper is not None and elector is not None:
        keeper.cancel()
        if code == 0:
            await elector.release()
    await _close(server, client)
    return code


async def _close(server: asyncio.AbstractServer | None, client: AsyncClient) -> None:
    if server is not None:
        server.close()
    await client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kubelab scheduler``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.report_hold < 0:
        parser.error(f"--report-hold must be 0 or more seconds, not {args.report_hold}")
    if args.fair_share_half_life < 0:
        parser.error(
            f"--fair-share-half-life must be 0 or more seconds, not {args.fair_share_half_life}"
        )
    if args.queue_status_period <= 0:
        parser.error(f"--queue-status-period must be above 0 s, not {args.queue_status_period}")
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        import uvloop  # faster event loop when installed (it comes with uvicorn[standard])

        return uvloop.run(run(args))
    except ImportError:
        return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
