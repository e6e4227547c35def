"""``make test``: every tier, in two lanes that run at once.

The main lane (``unit`` and ``integration``: in-process apiservers and fake-runtime
clusters) and the others (``e2e`` and ``chaos`` on the Docker engine, ``compat`` with the
real kubectl and Python client, ``browser``) share nothing but the machine: each test
cluster has its own ports, pod range, Docker labels and nftables table, and a kubelet puts
back at its next route sync any range route another cluster's clean-up removed. Most of
their time is waiting (on the engine, on controllers' periods), so on 2 cores the two lanes
take little more than the longer one; one after the other they took about 30 minutes.

The second lane's output is kept in a file and printed when the first lane ends, so each
lane's progress reads as pytest prints it; the exit status fails if either lane fails.
``python -m tests.lanes [pytest args]``: the args go to both lanes (``--junitxml=F``
becomes ``F`` with the lane's name before its suffix).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANES = (
    ("main", "unit or integration"),
    ("others", "not unit and not integration"),  # e2e, compat, chaos, browser
)


def lane_args(name: str, args: list[str]) -> list[str]:
    """``args`` for lane ``name``: a junit file of its own."""
    out = []
    for a in args:
        if a.startswith("--junitxml="):
            path = Path(a.split("=", 1)[1])
            a = f"--junitxml={path.with_name(f'{path.stem}-{name}{path.suffix}')}"
        out.append(a)
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    (first_name, first_expr), (second_name, second_expr) = LANES
    with tempfile.TemporaryFile("w+") as kept:
        second = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-ra", "-m", second_expr,
             *lane_args(second_name, args)],
            stdout=kept, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        print(f"== lane {first_name} ({first_expr}); lane {second_name} runs alongside", flush=True)
        first = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-ra", "-m", first_expr,
             *lane_args(first_name, args)],
            check=False,
        )  # fmt: skip
        done = time.monotonic() - started
        print(f"== lane {first_name}: exit {first.returncode} after {done:.0f} s", flush=True)
        if second.poll() is None:
            print(f"== waiting for lane {second_name}", flush=True)
        second_rc = second.wait()
        kept.seek(0)
        print(f"== lane {second_name} ({second_expr}):", flush=True)
        sys.stdout.write(kept.read())
    total = time.monotonic() - started
    print(
        f"== lanes: {first_name} exit {first.returncode}, {second_name} exit {second_rc}, "
        f"{total:.0f} s in all",
        flush=True,
    )
    return first.returncode or second_rc


if __name__ == "__main__":
    sys.exit(main())
