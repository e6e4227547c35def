"""The chart census: install real Helm charts on a kubelab cluster, one line per chart.

    python -m tests.tools.chart_census CHARTS_DIR [--kubeconfig FILE] [--timeout 3m]

Every folder of ``CHARTS_DIR`` with a ``Chart.yaml`` (library charts aside) is one chart,
its dependencies already under its ``charts/`` (``helm dependency build`` needs their
registries; a scratch copy with them vendored does not). Each chart gets a namespace of its
own and, with its default values, the real Helm's ``install --wait``, ``upgrade --wait``,
``rollback --wait`` to revision 1, ``uninstall --wait``; the first step that fails is what
stops the chart, in Helm's own words. A chart refused by Pod Security (kubelab enforces the
baseline level unless a namespace is labelled privileged, the opt-in its message names) is
tried once more in a namespace so labelled, and the line says so.

Without ``--kubeconfig`` the census starts its own fake-runtime cluster (tests/cluster.py:
apiserver, scheduler, controller manager, one kubelet with two simulated GPUs). The charts
are never part of this repository: fetch them into a scratch folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.tools.kubectl import ensure_helm, ensure_kubectl

PRIVILEGED_LABEL = "pod-security.kubernetes.io/enforce=privileged"
_POD_SECURITY_REFUSAL = "violates PodSecurity"


@dataclass
class Outcome:
    """What one chart did: the steps that passed, and the first that failed."""

    chart: str
    passed: list[str] = field(default_factory=list)
    failed: str = ""
    error: str = ""
    seconds: float = 0.0
    privileged: bool = False

    def line(self) -> str:
        """The census line: ``name  installs ...`` or ``name  stops at STEP: error``."""
        where = " (namespace labelled privileged)" if self.privileged else ""
        if not self.failed:
            return (
                f"{self.chart:<28} installs{where}: {', '.join(self.passed)} ({self.seconds:.0f} s)"
            )
        return f"{self.chart:<28} stops at {self.failed}{where}: {self.error}"


def charts_in(folder: Path) -> list[Path]:
    """The installable charts directly under ``folder`` (library charts cannot be)."""
    out = []
    for chart_yaml in sorted(folder.glob("*/Chart.yaml")):
        meta = yaml.safe_load(chart_yaml.read_text()) or {}
        if meta.get("type") != "library":
            out.append(chart_yaml.parent)
    return out


def helm_error(output: str, limit: int = 600) -> str:
    """Helm's own error, on one line: the ``Error:`` line and what follows it."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("Error:"):
            text = " ".join(lines[i:])
            return text if len(text) <= limit else text[: limit - 1] + "…"
    tail = " ".join(lines[-3:])
    return tail[-limit:] or "(no output)"


def steps(release: str, chart: Path, namespace: str, timeout: str) -> list[tuple[str, list[str]]]:
    """The Helm commands of the census, in order, each with the name of its step."""
    wait = ["--namespace", namespace, "--wait", "--timeout", timeout]
    return [
        ("install", ["install", release, str(chart), *wait]),
        ("upgrade", ["upgrade", release, str(chart), *wait]),
        ("rollback", ["rollback", release, "1", *wait]),
        ("uninstall", ["uninstall", release, *wait]),
    ]


@dataclass
class Tools:
    """The real helm and kubectl, pointed at one cluster, with caches of their own."""

    helm: Path
    kubectl: Path
    kubeconfig: Path
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "helm-cache"),
            "HELM_CONFIG_HOME": str(self.home / "helm-config"),
            "HELM_DATA_HOME": str(self.home / "helm-data"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }

    def run(
        self, binary: Path, args: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run one command; one that outlives ``timeout`` is killed and reads as exit 124."""
        cmd = [str(binary), *args]
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=self.env()
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(
                cmd, 124, "", f"Error: {binary.name} did not finish within {timeout:.0f} s"
            )


def _clean_up(tools: Tools, release: str) -> None:
    """Remove a release that failed (a failed install keeps its release), hooks skipped: a
    pre-delete hook that cannot run would hold the census up as it held the chart."""
    tools.run(
        tools.helm,
        ["uninstall", release, "--namespace", release, "--no-hooks", "--wait", "--timeout", "2m"],
        180,
    )


def _namespace(tools: Tools, name: str, privileged: bool) -> None:
    """A fresh namespace for one chart (an old one of the same name deleted first)."""
    tools.run(tools.kubectl, ["delete", "namespace", name, "--ignore-not-found", "--wait"], 180)
    tools.run(tools.kubectl, ["create", "namespace", name], 60)
    if privileged:
        tools.run(tools.kubectl, ["label", "namespace", name, PRIVILEGED_LABEL], 60)


def census_one(tools: Tools, chart: Path, timeout: str, privileged: bool = False) -> Outcome:
    """Install, upgrade, roll back and uninstall one chart; stop at the first failure."""
    name = chart.name
    out = Outcome(name, privileged=privileged)
    _namespace(tools, name, privileged)
    start = time.monotonic()
    for step, args in steps(name, chart, name, timeout):
        p = tools.run(tools.helm, args, timeout=600)
        if p.returncode != 0:
            out.failed, out.error = step, helm_error(p.stdout + p.stderr)
            break
        out.passed.append(step)
    out.seconds = time.monotonic() - start
    if out.failed and not privileged and _POD_SECURITY_REFUSAL in out.error:
        _clean_up(tools, name)
        again = census_one(tools, chart, timeout, privileged=True)
        if not again.failed or again.error != out.error:
            return again
    if out.failed:
        _clean_up(tools, name)
    return out


@contextmanager
def own_cluster(home: Path) -> Iterator[Path]:
    """A fake-runtime kubelab cluster for the census; yields its kubeconfig."""
    from tests.cluster import Cluster
    from tests.harness import free_port

    with Cluster(home) as c:
        c.add_scheduler()
        c.add_controllers()
        c.add_kubelet(
            "census-node",
            "--address",
            "127.0.0.1",
            scheme=None,
            port=free_port(),
            fake_gpus="2xH100-80GB",
        )
        c.wait_nodes_ready(timeout=60)
        yield c.api.kubeconfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("charts", type=Path, help="a folder holding one folder per chart")
    ap.add_argument("--kubeconfig", type=Path, help="a running cluster (default: start one)")
    ap.add_argument("--timeout", default="3m", help="Helm's --timeout for each step")
    ap.add_argument("--jobs", type=int, default=4, help="charts in flight at once")
    ap.add_argument("--only", nargs="*", default=None, help="chart names to run")
    args = ap.parse_args(argv)
    charts = [c for c in charts_in(args.charts) if args.only is None or c.name in args.only]
    if not charts:
        print(f"{args.charts}: no installable charts", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="chart-census-") as tmp:
        home = Path(tmp)
        with (
            own_cluster(home / "cluster")
            if args.kubeconfig is None
            else _given(args.kubeconfig) as kubeconfig
        ):
            tools = Tools(ensure_helm(), ensure_kubectl(), kubeconfig, home / "tools")
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                outcomes = list(pool.map(lambda c: census_one(tools, c, args.timeout), charts))
    for o in outcomes:
        print(o.line())
    installs = sum(1 for o in outcomes if not o.failed)
    print(f"{installs} of {len(outcomes)} charts install, upgrade, roll back and uninstall")
    return 0


@contextmanager
def _given(kubeconfig: Path) -> Iterator[Path]:
    yield kubeconfig


if __name__ == "__main__":
    sys.exit(main())
