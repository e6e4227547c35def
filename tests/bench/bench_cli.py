"""`kl get pods` beside `kubectl get pods` on the same server: how long a command a lab
types all day takes from start to its last line of output.

One apiserver (``tests.harness.start_apiserver``) with 20 pods; both CLIs read its
kubeconfig. Runs alternate (kl, kubectl, kl, ...) after warm-up runs, so load on the
machine falls on both alike. Each run is the wall time of the whole process, as a user
waits for it. kl runs as installed (the ``kl`` script beside this interpreter) with
Python's bytecode cache in use, as on a user's machine (a temporary cache folder, so
the working tree gets no ``__pycache__``).

Target: kl's median at most twice kubectl's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.common import QUICK, Results, median, percentiles, workdir
from tests.harness import start_apiserver

PODS = 20


def kl_command() -> list[str]:
    """`kl` as a user runs it: the installed script, else the module."""
    script = Path(sys.executable).parent / "kl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kubectl.main"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of ``cmd``; it must succeed and print the pods."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    took = time.perf_counter() - t0
    if r.returncode != 0 or "bench-0" not in r.stdout:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-500:]}")
    return took


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("cli")
    kubectl = shutil.which("kubectl")
    name = "kl get pods, start to exit (20 pods)"
    if kubectl is None:
        res.add(name, None, "ms", target="<= 2x kubectl", skipped="kubectl is not installed")
        return res.as_dict()
    wd = workdir("cli")
    srv = start_apiserver(wd / "home")
    try:
        c = srv.client()
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        for i in range(PODS):
            c.create("pods", {"metadata": {"name": f"bench-{i}"}, "spec": spec}, "default")
        c.close()
        env = {k: v for k, v in os.environ.items() if k not in ("KUBELAB_HOME",)}
        env["KUBECONFIG"] = str(srv.kubeconfig)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(wd / "pycache")
        kl = [*kl_command(), "get", "pods"]
        kc = [kubectl, "get", "pods"]
        for _ in range(3):  # warm-up: bytecode cache, page cache, the server's first requests
            timed(kl, env)
            timed(kc, env)
        n = 10 if quick else 30
        kl_s: list[float] = []
        kc_s: list[float] = []
        for _ in range(n):
            kl_s.append(timed(kl, env))
            kc_s.append(timed(kc, env))
        kl_ms, kc_ms = median(kl_s) * 1000, median(kc_s) * 1000
        res.extra["kl_ms"] = [round(x * 1000, 1) for x in kl_s]
        res.extra["kubectl_ms"] = [round(x * 1000, 1) for x in kc_s]
        res.add(
            name,
            round(kl_ms, 1),
            "ms",
            target="<= 2x kubectl",
            met=kl_ms <= 2 * kc_ms,
            peer=round(kc_ms, 1),
            peer_label="kubectl get pods, same server, runs alternated",
            higher_is_better=False,
            stats={"runs": n}
            | {f"kl_{k}_ms": round(v * 1000, 1) for k, v in percentiles(kl_s).items() if k != "n"}
            | {
                f"kubectl_{k}_ms": round(v * 1000, 1)
                for k, v in percentiles(kc_s).items()
                if k != "n"
            },
        )
        res.note(f"{n} alternated runs each after 3 warm-ups; kl as `{' '.join(kl)}`")
    except Exception as exc:
        res.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        srv.stop()
        res.write()
        shutil.rmtree(wd, ignore_errors=True)
    return res.as_dict()


if __name__ == "__main__":
    print(run(argparse.Namespace(quick=True, out=None)))
