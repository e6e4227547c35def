"""``kubelab autoscaler``: power the lab's boxes on when pods wait and off when they idle."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
from pathlib import Path

from api.home import kubelab_home
from autoscaler.autoscaler import Autoscaler, Options
from autoscaler.drivers import PowerDriver
from client.backoff import Backoff

log = logging.getLogger("autoscaler")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SYNC_TIMEOUT = 60.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab autoscaler",
        description="Wake sleeping boxes for unschedulable pods (the scheduler's own "
        "filters decide which), and drain and power off boxes that idle.",
    )
    p.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig of the API server (default: $KUBELAB_HOME/autoscaler.kubeconfig "
        "when present, else $KUBELAB_HOME/kubeconfig; $KUBELAB_HOME defaults to ~/.kubelab)",
    )
    p.add_argument("--interval", default="1", help="seconds between looks (default 1)")
    p.add_argument(
        "--idle-window",
        default="600",
        help="seconds a box runs nothing but DaemonSet pods before it is powered off "
        "(default 600, as cluster-autoscaler's 10 minutes)",
    )
    p.add_argument(
        "--resume-timeout",
        default="300",
        help="seconds a woken box has to come up before it goes back to asleep "
        "(default 300; a node's kubelab.io/power-resume-timeout overrides it)",
    )
    p.add_argument(
        "--drain-timeout",
        default="60",
        help="seconds a drain may take before the box is left on (default 60)",
    )
    p.add_argument(
        "--wake-backoff",
        default="30",
        help="seconds before a box that failed to wake is tried again, doubling per "
        "failure up to 30 minutes (default 30)",
    )
    p.add_argument(
        "--fake-home",
        type=Path,
        default=None,
        help="home the fake driver's hollow kubelets use (default $KUBELAB_HOME)",
    )
    p.add_argument(
        "--metrics-port",
        default="0",
        help="serve Prometheus metrics at http://ADDRESS:PORT/metrics (default 0: not served)",
    )
    p.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address the metrics are served on (default 127.0.0.1, this box only)",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return p


def metrics_port(text: str) -> int:
    """``--metrics-port`` as a port, or a ValueError saying what it must be."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"--metrics-port must be a port from 0 to 65535, not {text!r}")
    return port


def seconds(flag: str, text: str, *, zero_ok: bool = False) -> float:
    """``text`` as seconds, or a ValueError naming ``flag``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        want = "0 or more" if zero_ok else "more than 0"
        raise ValueError(f"{flag} must be {want} seconds, not {text!r}")
    return value


def options(args: argparse.Namespace) -> Options:
    """The loop's options from the flags; a ValueError says which flag is wrong."""
    if str(args.log_level).upper() not in LEVELS:
        raise ValueError(f"--log-level must be one of {', '.join(LEVELS)}, not {args.log_level!r}")
    backoff = seconds("--wake-backoff", args.wake_backoff)
    return Options(
        interval=seconds("--interval", args.interval),
        idle_window=seconds("--idle-window", args.idle_window, zero_ok=True),
        resume_timeout=seconds("--resume-timeout", args.resume_timeout),
        drain_timeout=seconds("--drain-timeout", args.drain_timeout, zero_ok=True),
        backoff=Backoff(backoff, cap=max(backoff, 1800.0)),
    )


def kubeconfig_path(args: argparse.Namespace) -> str:
    if args.kubeconfig:
        path = Path(args.kubeconfig).expanduser()
    else:
        own = kubelab_home() / "autoscaler.kubeconfig"
        path = own if own.exists() else kubelab_home() / "kubeconfig"
    if not path.is_file():
        raise ValueError(f"kubeconfig {path} does not exist (--kubeconfig)")
    return str(path)


def make_drivers(fake_home: Path) -> dict[str, PowerDriver]:
    from autoscaler.drivers.command import CommandDriver
    from autoscaler.drivers.fake import FakeDriver
    from autoscaler.drivers.ipmi import IpmiDriver
    from autoscaler.drivers.wol import WolDriver

    return {
        "fake": FakeDriver(str(fake_home)),
        "wol": WolDriver(),
        "ipmi": IpmiDriver(),
        "command": CommandDriver(),
    }


async def run(
    kubeconfig: str,
    opts: Options,
    drivers: dict[str, PowerDriver],
    metrics: tuple[str, int] | None = None,
) -> int:
    from client import AsyncClient

    client = AsyncClient.from_kubeconfig(kubeconfig)
    scaler = Autoscaler(client, drivers, opts)
    if metrics is not None:
        from prometheus_client import start_http_server

        address, port = metrics
        start_http_server(port, address, registry=scaler.metrics.registry)
        log.info("metrics at http://%s:%d/metrics", address, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await scaler.start(SYNC_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(
                f"no node and pod listing from the API server within {SYNC_TIMEOUT:g}s "
                f"({kubeconfig}); is it up, and may this identity list them?"
            ) from None
        log.info("autoscaler started (%s)", kubeconfig)
        runner = asyncio.create_task(scaler.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        runner.cancel()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    finally:
        await scaler.stop()
        await client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kubelab autoscaler``; a bad flag is one line on stderr, exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        opts = options(args)
        kubeconfig = kubeconfig_path(args)
        port = metrics_port(args.metrics_port)
    except ValueError as exc:
        print(f"kubelab autoscaler: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    drivers = make_drivers((args.fake_home or kubelab_home()).expanduser())
    try:
        metrics = (args.metrics_address, port) if port else None
        return asyncio.run(run(kubeconfig, opts, drivers, metrics))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one readable line, never a traceback
        print(f"kubelab autoscaler: {exc}", file=sys.stderr)
        return 1
    finally:
        fake = drivers["fake"]
        close = getattr(fake, "close", None)
        if close is not None:
            close()  # simulated boxes end with their autoscaler


if __name__ == "__main__":
    raise SystemExit(main())
