"""Shared pieces of the benchmarks: the result format, statistics, pod bodies, and
the load generators (wrk when installed, else the Python one in ``loadgen.py``).

Every benchmark module writes one JSON file (see README.md in this folder) whose
``lines`` the runner turns into bench/REPORT.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
QUICK = os.environ.get("KUBELAB_BENCH_QUICK") == "1"


# -- results -------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of ``samples`` (nearest rank), and their count."""
    if not samples:
        return {"n": 0}
    s = sorted(samples)

    def pick(p: float) -> float:
        return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]

    return {"n": len(s), "p50": pick(50), "p90": pick(90), "p99": pick(99), "max": s[-1]}


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def result_line(
    benchmark: str,
    figure: float | None,
    unit: str,
    *,
    target: str = "",
    met: bool | None = None,
    peer: float | None = None,
    peer_label: str = "",
    higher_is_better: bool = True,
    stats: dict[str, Any] | None = None,
    note: str = "",
    skipped: str = "",
) -> dict[str, Any]:
    """One report line: the figure, the peer or limit beside it, their ratio, the target.

    ``ratio`` is figure / peer, so > 1 means "more than the peer" whatever the unit.
    """
    ratio = None
    if figure is not None and peer not in (None, 0):
        assert peer is not None
        ratio = round(figure / peer, 3)
    return {
        "benchmark": benchmark,
        "figure": figure,
        "unit": unit,
        "peer": peer,
        "peer_label": peer_label,
        "ratio": ratio,
        "target": target,
        "met": met,
        "higher_is_better": higher_is_better,
        "stats": stats or {},
        "note": note,
        "skipped": skipped,
    }


class Results:
    """Collects lines, failures and notes; written as bench/results/<name>.json."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}
        self.started = time.time()

    def add(self, *args: Any, **kw: Any) -> dict[str, Any]:
        line = result_line(*args, **kw)
        self.lines.append(line)
        print(f"[{self.name}] {_short(line)}", flush=True)
        self.write()  # partial results survive a timeout of the whole module
        return line

    def fail(self, what: str) -> None:
        self.failures.append(what)
        print(f"[{self.name}] FAILURE: {what}", flush=True)
        self.write()

    def note(self, what: str) -> None:
        self.notes.append(what)
        print(f"[{self.name}] note: {what}", flush=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lines": self.lines,
            "failures": self.failures,
            "notes": self.notes,
            "extra": self.extra,
            "seconds": round(time.time() - self.started, 1),
        }

    def write(self, path: Path | None = None) -> Path:
        path = path or Path(os.environ.get("KUBELAB_BENCH_OUT") or RESULTS / f"{self.name}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=1, default=str))
        os.replace(tmp, path)
        return path


def _short(line: dict[str, Any]) -> str:
    if line.get("skipped"):
        return f"{line['benchmark']}: skipped ({line['skipped']})"
    peer = (
        f" | peer {line['peer']} ({line['peer_label']}) ratio {line['ratio']}"
        if line["peer"] is not None
        else ""
    )
    return f"{line['benchmark']}: {line['figure']} {line['unit']}{peer} | target {line['target']} met={line['met']}"


# -- pods ------------------------------------------------------------------------------------


def bench_pod(
    name: str, namespace: str = "default", scheduler: str = "bench-none", node_name: str = ""
) -> dict[str, Any]:
    """A ~2 KB pod (about 2.4 KB once defaulted) that no scheduler picks up (or, with
    ``node_name``, one bound at creation, as the scheduler counts it on that node)."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "bench", "tier": "backend", "release": "stable", "team": "lab"},
            "annotations": {"kubelab.io/bench": "x" * 600},
        },
        "spec": {
            "schedulerName": scheduler,
            "containers": [
                {
                    "name": "main",
                    "image": "nginx:1.27-alpine",
                    "command": ["sh", "-c", "echo hello; sleep 3600"],
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "env": [
                        {"name": f"VAR_{i}", "value": f"value-{i}-abcdefghij"} for i in range(12)
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 5,
        },
    }
    if node_name:
        pod["spec"]["nodeName"] = node_name
    return pod


def pod_template(namespace: str = "default", node_name: str = "") -> tuple[str, str]:
    """The JSON of ``bench_pod`` split around its name: (before, after)."""
    pod = bench_pod("NAME_PLACEHOLDER", namespace, node_name=node_name)
    body = json.dumps(pod, separators=(",", ":"))
    pre, post = body.split("NAME_PLACEHOLDER")
    return pre, post


# -- load generation -------------------------------------------------------------------------

_LUA = r"""
-- kubelab bench: %(what)s. args: prefix, limit (0 = none). Unique names per thread.
local counter = 0
local tid = 0
local nthreads = 0
local prefix = "b"
local limit = 0
local method = "%(method)s"
local pre = %(pre)s
local post = %(post)s
local path = %(path)s
local hdrs = {["Content-Type"]="application/json", ["Authorization"]="Bearer %(token)s"}
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
function init(args)
  prefix = args[1] or "b"
  limit = tonumber(args[2] or "0")
  pool = tonumber(args[3] or "0")
  math.randomseed(os.time() + tid)
  if limit > 0 then
    -- tell the runner when the fill is complete; it then stops wrk with SIGINT
    local responses = 0
    response = function(status, headers, body)
      responses = responses + 1
      if responses == limit then
        io.write("WRKDONE\n")
        io.flush()
      end
    end
  end
end
function request()
  counter = counter + 1
  if method == "GET" then
    local i = math.random(0, pool - 1)
    return wrk.format("GET", path .. prefix .. "-" .. tostring(i), hdrs)
  end
  local name = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  if limit > 0 then
    -- a fill: names PREFIX-0 .. PREFIX-(limit-1), then duplicates (409, create nothing)
    local n = counter - 1
    if counter > limit then n = 0 end
    name = prefix .. "-" .. tostring(n)
  end
  return wrk.format("POST", path, hdrs, pre .. name .. post)
end
function done(summary, latency, requests)
  io.write(string.format("WRKJSON {\"requests\": %%d, \"duration_us\": %%d, \"errors_status\": %%d, \"timeouts\": %%d, \"connect\": %%d, \"read\": %%d, \"write\": %%d, \"p50_us\": %%d, \"p90_us\": %%d, \"p99_us\": %%d, \"max_us\": %%d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def ensure_wrk() -> str | None:
    """The wrk binary; installed from Debian when missing and we are root, else None."""
    found = shutil.which("wrk")
    if found or os.environ.get("KUBELAB_BENCH_NO_WRK") == "1":
        return found if os.environ.get("KUBELAB_BENCH_NO_WRK") != "1" else None
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        for cmd in (
            ["apt-get", "install", "-y", "-q", "wrk"],
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "wrk"],
        ):
            try:
                subprocess.run(
                    cmd,
                    capture_output=True,
                    timeout=180,
                    check=False,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
            except (OSError, subprocess.TimeoutExpired):
                break
            if shutil.which("wrk"):
                break
    return shutil.which("wrk")


class LoadGen:
    """Runs HTTP load in a separate process (so the server keeps its core): wrk or Python."""

    def __init__(
        self,
        url: str,
        token: str,
        ca_file: Path,
        workdir: Path,
        node_name: str = "",
        template: tuple[str, str] | None = None,
    ) -> None:
        self.url = url
        self.node_name = node_name  # created pods are bound to it (none: unbound)
        # The JSON of the created object split around its name (None: bench_pod's).
        self.template = template
        self.token = token
        self.ca_file = ca_file
        self.workdir = workdir
        self.wrk = ensure_wrk()
        self.tool = "wrk" if self.wrk else "python loadgen"

    def _lua(self, what: str, method: str, path: str, namespace: str) -> Path:
        pre, post = self.template or pod_template(namespace, self.node_name)
        script = _LUA % {
            "what": what,
            "method": method,
            "pre": json.dumps(pre),
            "post": json.dumps(post),
            "path": json.dumps(path),
            "token": self.token,
        }
        p = self.workdir / f"{what}-{namespace}.lua"
        p.write_text(script)
        return p

    def creates(
        self,
        namespace: str,
        prefix: str,
        clients: int,
        seconds: float = 0,
        limit: int = 0,
        path: str = "",
    ) -> dict[str, Any]:
        """POST unique pods (or ``template``'s objects to ``path``) for ``seconds`` (or until
        ``limit`` creates, then 409s)."""
        path = path or f"/api/v1/namespaces/{namespace}/pods"
        return self._run("create", "POST", path, namespace, prefix, clients, seconds, limit, 0)

    def gets(
        self, namespace: str, prefix: str, pool: int, clients: int, seconds: float
    ) -> dict[str, Any]:
        """GET random pods ``prefix-0 .. prefix-(pool-1)`` for ``seconds``."""
        path = f"/api/v1/namespaces/{namespace}/pods/"
        return self._run("get", "GET", path, namespace, prefix, clients, seconds, 0, pool)

    def _run(
        self,
        what: str,
        method: str,
        path: str,
        namespace: str,
        prefix: str,
        clients: int,
        seconds: float,
        limit: int,
        pool: int,
    ) -> dict[str, Any]:
        if seconds <= 0:
            # a create-count run: long enough to do `limit` creates at a pessimistic 300/s
            seconds = max(5.0, limit / 300.0)
        if self.wrk:
            lua = self._lua(what, method, path, namespace)
            cmd = [
                self.wrk,
                "-t1",
                f"-c{clients}",
                f"-d{seconds:.0f}s",
                "--timeout",
                "10s",
                "-s",
                str(lua),
                self.url,
                "--",
                prefix,
                str(limit),
                str(pool),
            ]
            if limit:
                return self._wrk_until(cmd, namespace, prefix, limit, seconds)
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
            return self._parse_wrk(out.stdout, out.stderr, clients)
        cmd = [
            sys.executable,
            "-m",
            "tests.bench.loadgen",
            "--url",
            self.url,
            "--token",
            self.token,
            "--ca",
            str(self.ca_file),
            "--method",
            method,
            "--path",
            path,
            "--namespace",
            namespace,
            "--prefix",
            prefix,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--limit",
            str(limit),
            "--pool",
            str(pool),
            "--node-name",
            self.node_name,
        ]
        if self.template:
            cmd += ["--template", json.dumps(list(self.template))]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, cwd=REPO)
        for ln in out.stdout.splitlines():
            if ln.startswith("LOADJSON "):
                return json.loads(ln[len("LOADJSON ") :])
        raise RuntimeError(f"loadgen gave no result: {out.stderr[-2000:]}")

    def _wrk_until(
        self, cmd: list[str], namespace: str, prefix: str, limit: int, seconds: float
    ) -> dict[str, Any]:
        """wrk cannot stop at a count: run it and stop it once ``limit`` creates are in."""
        import signal

        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        start = time.monotonic()
        assert proc.stdout is not None
        head: list[str] = []
        # the script prints WRKDONE once `limit` responses are in (extras are 409s)
        for ln in proc.stdout:
            head.append(ln)
            if ln.startswith("WRKDONE"):
                proc.send_signal(signal.SIGINT)
                break
        stdout, stderr = proc.communicate(timeout=seconds + 60)
        res = self._parse_wrk("".join(head) + stdout, stderr, 0)
        res["wall_s"] = time.monotonic() - start
        return res

    @staticmethod
    def _parse_wrk(stdout: str, stderr: str, clients: int) -> dict[str, Any]:
        for ln in stdout.splitlines():
            if ln.startswith("WRKJSON "):
                d = json.loads(ln[len("WRKJSON ") :])
                dur = d["duration_us"] / 1e6
                ok = d["requests"] - d["errors_status"]
                return {
                    "tool": "wrk",
                    "clients": clients,
                    "requests": d["requests"],
                    "ok": ok,
                    "errors": d["errors_status"]
                    + d["timeouts"]
                    + d["connect"]
                    + d["read"]
                    + d["write"],
                    "timeouts": d["timeouts"],
                    "seconds": dur,
                    "rate": ok / dur if dur else 0.0,
                    "p50_ms": d["p50_us"] / 1000,
                    "p90_ms": d["p90_us"] / 1000,
                    "p99_ms": d["p99_us"] / 1000,
                    "max_ms": d["max_us"] / 1000,
                }
        raise RuntimeError(f"wrk gave no result: {stdout[-1000:]} {stderr[-1000:]}")


def raise_nofile() -> None:
    """Lift the open-files limit to its hard maximum (thousands of watch connections)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def workdir(name: str) -> Path:
    """A fresh temporary folder for one benchmark's homes and scripts."""
    return Path(tempfile.mkdtemp(prefix=f"kubelab-bench-{name}-"))


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS), 0 when it is gone."""
    try:
        for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
