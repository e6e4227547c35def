"""`make bench`: run every benchmark under tests/bench/ and write bench/REPORT.md and
bench/report.json.

Each ``tests/bench/bench_<name>.py`` runs in its own process group with a time budget
(see README.md in this folder for the contract); a crash or a timeout is recorded in the
report, and whatever lines the module had written by then are kept.

    python -m tests.bench.run [--only api,memory] [--quick] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "bench"
RESULTS = BENCH_DIR / "results"

# Seconds each module may take at most; `make bench` must stay under 15 minutes in all.
BUDGETS = {
    "api": 240,
    "scheduler": 190,  # 40 s of it: the churn scenario (capacity arriving for a backlog)
    "controllers": 220,
    "pod_startup": 200,
    "memory": 170,
    "cli": 60,
    "dns": 150,
    "service_throughput": 60,  # ~30 s: a one-kubelet cluster, two pods, 12 x 1 GiB fetched
    "gpu_health": 60,
    "storage": 90,  # ~35 s: 32 pods with a fresh local-path claim, 32 with an emptyDir
    "encryption": 60,
    "audit": 90,
    "flood": 150,
    "autoscaler": 90,  # ~40 s: 100 boxes and 1,000 pods written, the plan timed in process
    "dashboard": 150,  # ~90 s: 1,000 pods started, 6 page loads, 2 x 20 s of churn
    "exec": 60,  # ~25 s: 2 kubelets (fake, Docker), 105 execs of echo on each
    "portforward": 90,  # ~30 s: a Docker pod, 5 rounds of 100 MiB x 3 paths
    "queues": 240,  # 1,000 simulated weeks x 3 policies, no cluster: ~100 s on 2 idle cores
    "scale_to_zero": 90,  # ~40 s: one Docker kubelet, 2 x 6 wake-ups from zero, 2 bursts of 100
    "hpa": 300,  # ~260 s: one Docker kubelet, 5 load starts each waited to a scale-up (15 s periods)
    "crd": 90,  # ~35 s: 8 CRDs to their first object, 2 x 3 alternated 4 s create runs
    "usage": 30,  # ~2 s: 100 processes' cgroup readings, in process
    "webhooks": 60,  # ~15 s: 3 x 3 alternated in-process create runs, one local webhook
}
ORDER = [
    "api",
    "scheduler",
    "controllers",
    "pod_startup",
    "memory",
    "cli",
    "dns",
    "service_throughput",
    "gpu_health",
    "storage",
    "encryption",
    "audit",
    "flood",
    "autoscaler",
    "dashboard",
    "queues",
    "scale_to_zero",
    "hpa",
    "crd",
    "usage",
    "webhooks",
]
TOTAL_BUDGET = 14 * 60


def discover() -> list[str]:
    names = [p.stem[len("bench_") :] for p in sorted((REPO / "tests" / "bench").glob("bench_*.py"))]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


# -- running one module ----------------------------------------------------------------------


def run_one(name: str, out: Path, quick: bool) -> int:
    """In the child process: run module ``bench_<name>`` and make sure ``out`` holds its result."""
    os.environ["KUBELAB_BENCH_OUT"] = str(out)

    def _terminate(_sig: int, _frame: Any) -> None:
        # SIGTERM from the runner at the budget: unwind, so `finally` stops the servers
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, _terminate)
    mod = importlib.import_module(f"tests.bench.bench_{name}")
    args = argparse.Namespace(quick=quick, out=out)
    if hasattr(mod, "run"):
        result = mod.run(args)
        if isinstance(result, dict):
            result.setdefault("name", name)
            out.write_text(json.dumps(result, indent=1, default=str))
        return 0
    if hasattr(mod, "main"):
        # main(argv) modules read a quick run from $KUBELAB_BENCH_QUICK (set by launch)
        src = Path(mod.__file__ or "").read_text()
        # a module with its own --out flag is told where this run's result goes
        rc = mod.main(["--out", str(out)] if '"--out"' in src else [])
        return int(rc or 0)
    raise SystemExit(f"tests/bench/bench_{name}.py has neither run(args) nor main(argv)")


def launch(name: str, timeout: float, quick: bool, logdir: Path) -> dict[str, Any]:
    """Run one module in its own process group; returns its result plus how it ended."""
    out = RESULTS / f"{name}.json"
    if out.exists():
        out.unlink()
    cmd = [sys.executable, "-m", "tests.bench.run", "--one", name, "--out", str(out)]
    if quick:
        cmd.append("--quick")
    log_path = logdir / f"{name}.log"
    t0 = time.monotonic()
    started_wall = time.time()
    status = "ok"
    print(f"== {name} (budget {timeout:.0f}s, log {log_path})", flush=True)
    with open(log_path, "wb") as log:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if quick:
            env["KUBELAB_BENCH_QUICK"] = "1"
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            rc = proc.wait(timeout)
            if rc != 0:
                status = f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            status = f"timeout after {timeout:.0f}s"
            _kill_group(proc)
    took = time.monotonic() - t0
    result: dict[str, Any] = {"name": name, "lines": [], "failures": [], "notes": []}
    if out.exists() and out.stat().st_mtime < started_wall:
        status += "; its result file predates this run (ignored)"
    elif out.exists():
        try:
            result = json.loads(out.read_text())
        except ValueError as exc:
            status += f"; unreadable result file: {exc}"
    result = normalise(name, result)
    result["status"] = status
    result["wall_s"] = round(took, 1)
    if status != "ok":
        tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
        result["failures"].append(f"{name}: {status}; log tail:\n{tail}")
    print(f"   {name}: {status} in {took:.0f}s, {len(result['lines'])} lines", flush=True)
    return result


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (servers started in their own sessions included)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the module: SIGTERM (its `finally` blocks stop what it started), then SIGKILL
    whatever is left below it, by process id."""
    below = _descendants(proc.pid)
    proc.terminate()
    try:
        proc.wait(25)
    except subprocess.TimeoutExpired:
        pass
    for pid in [proc.pid, *below]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait(10)


def _scheduler_lines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """bench_scheduler.py writes {"variants": {"basic"|"gpu": {...}}}: one line per variant."""
    from tests.bench.common import result_line

    cfg = result.get("config") or {}
    nodes, pods = cfg.get("nodes", 5000), cfg.get("pods", 10000)
    peers = {"basic": (680.0, 1500), "gpu": (180.0, 500)}
    lines = []
    for name, v in (result.get("variants") or {}).items():
        if name == "churn":
            lines.extend(_churn_lines(v, cfg))
            continue
        peer, target = peers.get(name, (None, None))
        fig = v.get("pods_per_second_avg")
        gpu = f", {v.get('gpu_pod_percent', 0):g} % GPU pods" if name == "gpu" else ""
        lines.append(
            result_line(
                f"scheduler pods/s, {nodes:,} nodes, {pods:,} pods{gpu}",
                fig,
                "pods/s",
                target=f">= {target:,}/s" if target else "",
                met=(fig >= target) if fig is not None and target else None,
                peer=peer,
                peer_label="kube-scheduler's published floor (scheduler_perf), not run here",
                stats={
                    k: v.get(k)
                    for k in (
                        "pods_per_second_p50",
                        "pods_per_second_p90",
                        "pods_per_second_p99",
                        "duration_s",
                    )
                    if k in v
                }
                | {f"verify_{k}": x for k, x in (v.get("verify") or {}).items()},
            )
        )
    return lines


def _churn_lines(v: dict[str, Any], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The churn variant: pods pending with no node, then the nodes; beside the warm start
    (the same backlog with the nodes already there) measured in the same run."""
    from tests.bench.common import result_line

    pods, nodes = cfg.get("churn_pods", 5000), cfg.get("churn_nodes", 1000)
    what = f"{pods:,} pods pending, then {nodes:,} nodes"
    stats = {
        k: v.get(k)
        for k in ("nodes_created_s", "first_node_to_last_bind_s", "attempts_unschedulable")
    } | {f"verify_{k}": x for k, x in (v.get("verify") or {}).items()}
    lag = v.get("last_node_to_last_bind_s")
    overall = v.get("pods_per_second_overall")
    warm = v.get("warm_start_pods_per_second")
    return [
        result_line(
            f"scheduler churn: last node to last bind, {what}",
            lag,
            "s",
            target="<= 1 s",
            met=(lag <= 1.0) if lag is not None else None,
            higher_is_better=False,
            stats=stats,
            note=f"queueing hints {v.get('hints', 'on')}",
        ),
        result_line(
            f"scheduler churn: pods/s overall, {what}",
            overall,
            "pods/s",
            target=">= 2,500/s",
            met=(overall >= 2500) if overall is not None else None,
            peer=warm,
            peer_label="warm start: the same backlog, nodes already there (same run)",
            stats={"warm_start_duration_s": v.get("warm_start_duration_s")},
        ),
    ]


ADAPTERS = {"scheduler": _scheduler_lines}


def normalise(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """Accept the documented format, or turn another module's flat figures into lines."""
    if "lines" not in result and name in ADAPTERS:
        result = {
            "name": name,
            "lines": ADAPTERS[name](result),
            "raw": result,
            "failures": list(result.get("failures", [])),
            "notes": [],
        }
    result.setdefault("name", name)
    result.setdefault("failures", [])
    result.setdefault("notes", [])
    if isinstance(result.get("lines"), list):
        for line in result["lines"]:
            line.setdefault("unit", "")
            line.setdefault("peer", None)
            line.setdefault("peer_label", "")
            line.setdefault("target", "")
            line.setdefault("met", None)
            line.setdefault("stats", {})
            line.setdefault("note", "")
            line.setdefault("skipped", "")
            if (
                line.get("ratio") is None
                and line.get("figure") not in (None, 0)
                and line.get("peer")
            ):
                try:
                    line["ratio"] = round(float(line["figure"]) / float(line["peer"]), 3)
                except (TypeError, ValueError):
                    line["ratio"] = None
            line.setdefault("ratio", None)
        return result
    lines = []
    for k, v in result.items():
        if (
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and k not in ("seconds", "wall_s")
        ):
            lines.append(
                {
                    "benchmark": f"{name}: {k}",
                    "figure": v,
                    "unit": "",
                    "peer": None,
                    "peer_label": "",
                    "ratio": None,
                    "target": "",
                    "met": None,
                    "stats": {},
                    "note": "(module wrote no `lines`; shown as-is)",
                    "skipped": "",
                }
            )
    result["lines"] = lines
    return result


# -- the environment -------------------------------------------------------------------------


def _cmd(*args: str) -> str:
    try:
        out = subprocess.run(list(args), capture_output=True, text=True, timeout=20, cwd=REPO)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, versions and the store's SQLite settings."""
    cpu = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_gib = 0.0
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal:"):
                mem_gib = int(ln.split()[1]) / 1024 / 1024
    except OSError:
        pass
    commit = _cmd("git", "rev-parse", "--short", "HEAD")
    if commit and _cmd("git", "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    docker = (
        _cmd("docker", "version", "--format", "{{.Server.Version}}")
        if shutil.which("docker")
        else ""
    )
    import sqlalchemy

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "kubelab_commit": commit or "unknown",
        "docker": docker or "engine not reachable",
        "wrk": " ".join(_cmd("sh", "-c", "wrk -v 2>&1 | head -1").split()[:2])
        if shutil.which("wrk")
        else "absent",
        "sqlite_settings": sqlite_settings(),
    }


def sqlite_settings() -> dict[str, Any]:
    """The PRAGMAs the store really runs with: open a scratch store file the same way."""
    from apiserver.store import make_engine

    with tempfile.TemporaryDirectory() as d:
        eng = make_engine(f"sqlite:///{d}/probe.db")
        with eng.connect() as conn:
            got = {
                p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("journal_mode", "synchronous", "busy_timeout", "cache_size", "page_size")
            }
        eng.dispose()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    got["synchronous"] = names.get(got["synchronous"], got["synchronous"])
    return got


# -- the report ------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if v != v:  # NaN
            return "n/a"
        return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _ratio(v: Any) -> str:
    return "—" if v is None else f"{float(v):.3g}"


def _stats(s: dict[str, Any]) -> str:
    parts = []
    for k, v in s.items():
        if isinstance(v, dict | list):
            continue
        parts.append(f"{k} {_fmt(v)}")
    return ", ".join(parts)


def render(env: dict[str, Any], results: list[dict[str, Any]], wall: float) -> str:
    out = ["# kubelab benchmark report", ""]
    out.append(
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `make bench` in {wall:.0f} s."
    )
    out.append("")
    out.append(
        f"- **Machine**: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB memory, "
        f"Linux {env['kernel']}; load average at start {env.get('load_avg_at_start')}"
    )
    out.append(
        f"- **Versions**: Python {env['python']}, SQLite {env['sqlite']}, SQLAlchemy "
        f"{env['sqlalchemy']}, kubelab {env['kubelab_commit']}, Docker {env['docker']}, "
        f"wrk {env['wrk']}"
    )
    ss = env["sqlite_settings"]
    out.append(
        "- **SQLite settings** (the store's): "
        + ", ".join(f"{k}={v}" for k, v in ss.items())
        + "; writes are group-committed by one writer thread"
    )
    out.append("")
    out.append(
        "Ratio = figure ÷ peer. Figures are medians over several runs unless the line says "
        "otherwise; details hold p50/p90/p99."
    )
    out.append("")
    out.append(
        "| benchmark | figure | peer or limit, measured alongside | ratio | target | met | details |"
    )
    out.append("|---|---|---|---|---|---|---|")
    met = missed = 0
    for r in results:
        for ln in r["lines"]:
            if ln.get("skipped"):
                out.append(
                    f"| {ln['benchmark']} | skipped | — | — | {ln.get('target') or '—'} | — | {ln['skipped']} |"
                )
                continue
            peer = "—"
            if ln.get("peer") is not None:
                peer = f"{_fmt(ln['peer'])} {ln.get('peer_unit') or ln.get('unit', '')} ({ln.get('peer_label', '')})"
            elif ln.get("peer_label"):
                peer = ln["peer_label"]
            ok = {True: "yes", False: "**no**", None: "—"}[ln.get("met")]
            met += ln.get("met") is True
            missed += ln.get("met") is False
            detail = _stats(ln.get("stats") or {})
            if ln.get("note"):
                detail = f"{detail}; {ln['note']}" if detail else ln["note"]
            out.append(
                f"| {ln['benchmark']} | {_fmt(ln.get('figure'))} {ln.get('unit', '')} | {peer} | "
                f"{_ratio(ln.get('ratio'))} | {ln.get('target') or '—'} | {ok} | {detail} |"
            )
    out.append("")
    out.append(f"Targets met: {met}; missed: {missed}.")
    out.append("")
    out.append("## Modules")
    out.append("")
    for r in results:
        out.append(f"- `{r['name']}`: {r['status']} in {r['wall_s']} s")
    fails = [f for r in results for f in r.get("failures", [])]
    out.append("")
    out.append("## Failures and timeouts")
    out.append("")
    if not fails:
        out.append("None.")
    for f in fails:
        first, _, rest = str(f).partition("\n")
        out.append(f"- {first}")
        if rest.strip():
            out.append("")
            out.append("  ```")
            out.extend("  " + x for x in rest.strip().splitlines()[-15:])
            out.append("  ```")
    notes = [(r["name"], n) for r in results for n in r.get("notes", [])]
    if notes:
        out.append("")
        out.append("## Notes")
        out.append("")
        out.extend(f"- {name}: {n}" for name, n in notes)
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="run kubelab's benchmarks and write bench/REPORT.md")
    p.add_argument("--only", default="", help="comma-separated module names (api, memory, ...)")
    p.add_argument("--quick", action="store_true", help="fewer, shorter runs (a smoke test)")
    p.add_argument(
        "--budget", type=float, default=TOTAL_BUDGET, help="total seconds for all modules"
    )
    p.add_argument("--one", default="", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    if a.one:
        assert a.out is not None
        return run_one(a.one, a.out, a.quick)
    t0 = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = BENCH_DIR / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    env = machine()
    names = discover()
    if a.only:
        wanted = [n.strip() for n in a.only.split(",") if n.strip()]
        names = [n for n in names if n in wanted]
    results = []
    for i, name in enumerate(names):
        left = a.budget - (time.monotonic() - t0)
        # Keep some time for the modules still to come: never take more than our budget.
        reserve = sum(min(BUDGETS.get(n, 120), 60) for n in names[i + 1 :])
        timeout = max(30.0, min(BUDGETS.get(name, 120), left - reserve))
        results.append(launch(name, timeout, a.quick, logdir))
    wall = time.monotonic() - t0
    report = {"machine": env, "modules": results, "wall_s": round(wall, 1)}
    (BENCH_DIR / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (BENCH_DIR / "REPORT.md").write_text(render(env, results, wall))
    print(f"wrote {BENCH_DIR / 'REPORT.md'} and report.json in {wall:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
