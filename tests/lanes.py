"""``make test``: every tier, in two lanes that run at once.

The main lane (``unit`` and ``integration``: in-process apiservers and fake-runtime
clusters) and the others (``e2e`` and ``chaos`` on the Docker engine, ``compat`` with the
real kubectl and Python client, ``browser``) share nothing but the machine: each test
cluster has its own ports, pod range, Docker labels and nftables table, and a kubelet puts
back at its next route sync any range route another cluster's clean-up removed. Most of
their time is waiting (on the engine, on controllers' periods), so on 2 cores the two lanes
take little more than the longer one; one after the other they took about 30 minutes.

The second lane's output is kept in a file and printed when the first lane ends, so each
lane's progress reads as pytest prints it.

A test that fails in a lane is run once more, alone, after both lanes end (at most
``RERUN_AT_MOST`` of them): the lanes load 2 cores with two suites' clusters at once, and
a timing bound that holds on a quiet machine can be missed there. The run passes only if
each of them passes alone, and every such test is printed as ``failed under the lanes'
load, passed alone``, so it stays visible as a race to fix rather than hidden. A test
that fails alone fails the run; more than ``RERUN_AT_MOST`` failures are not rerun (that
is not load).
``python -m tests.lanes [pytest args]``: the args go to both lanes (``--junitxml=F``
becomes ``F`` with the lane's name before its suffix).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

LANES = (
    ("main", "unit or integration"),
    ("others", "not unit and not integration"),  # e2e, compat, chaos, browser
)


RERUN_AT_MOST = 5


def lane_args(name: str, args: list[str], junit: Path) -> list[str]:
    """``args`` for lane ``name``: a junit file of its own (``junit`` unless the caller
    named one), which says afterwards which tests failed."""
    out = []
    for a in args:
        if a.startswith("--junitxml="):
            continue
        out.append(a)
    return [*out, f"--junitxml={junit}"]


def junit_path(name: str, args: list[str], scratch: Path) -> Path:
    """The caller's ``--junitxml=F`` as ``F`` with ``-name`` before its suffix, else a
    file in ``scratch``."""
    for a in args:
        if a.startswith("--junitxml="):
            path = Path(a.split("=", 1)[1])
            return path.with_name(f"{path.stem}-{name}{path.suffix}")
    return scratch / f"{name}.xml"


def failed_tests(junit: Path) -> list[str]:
    """The node ids of the tests that failed or errored, from a pytest junit file."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return []
    out: list[str] = []
    for case in root.iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        classname, name = case.get("classname", ""), case.get("name", "")
        # pytest writes "tests.unit.test_x" (or "tests.unit.test_x.TestClass") and the name.
        parts = classname.split(".")
        for cut in range(len(parts), 0, -1):
            path = Path(*parts[:cut]).with_suffix(".py")
            if path.exists():
                nodeid = "::".join([str(path), *parts[cut:], name])
                if nodeid not in out:
                    out.append(nodeid)
                break
    return out


def rerun_alone(failed: list[str], args: list[str]) -> int:
    """Run ``failed`` once more, with nothing else running; the exit status of that run."""
    rest = [a for a in args if not a.startswith("--junitxml=")]
    print(f"== {len(failed)} failed in the lanes; each runs once more, alone:", flush=True)
    for nodeid in failed:
        print(f"   {nodeid}", flush=True)
    rc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", *rest, *failed],
        check=False,
    ).returncode
    if rc == 0:
        for nodeid in failed:
            print(f"== failed under the lanes' load, passed alone: {nodeid}", flush=True)
    return rc


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    (first_name, first_expr), (second_name, second_expr) = LANES
    scratch = Path(tempfile.mkdtemp(prefix="kubelab-lanes-"))
    first_junit = junit_path(first_name, args, scratch)
    second_junit = junit_path(second_name, args, scratch)
    with tempfile.TemporaryFile("w+") as kept:
        second = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-ra", "-m", second_expr,
             *lane_args(second_name, args, second_junit)],
            stdout=kept, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        print(f"== lane {first_name} ({first_expr}); lane {second_name} runs alongside", flush=True)
        first = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-ra", "-m", first_expr,
             *lane_args(first_name, args, first_junit)],
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
    if not (first.returncode or second_rc):
        return 0
    failed = failed_tests(first_junit) + failed_tests(second_junit)
    if not failed or len(failed) > RERUN_AT_MOST or {first.returncode, second_rc} - {0, 1}:
        # Nothing to name, too many to be load, or pytest itself broke (exit 2-5).
        return first.returncode or second_rc
    return rerun_alone(failed, args)


if __name__ == "__main__":
    sys.exit(main())
