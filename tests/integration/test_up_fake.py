"""`kubelab up` with the fake runtime: ready line, supervision, stop and resume.

(The Docker version, with Services and real containers, is tests/e2e/test_up.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.harness import REPO, kubelab_cmd
from tests.up_cluster import UpCluster
from tests.wait import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive; its parent reaps it soon.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_no_docker_engine_stops_at_once_with_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    env["PYTHONPATH"] = str(REPO)
    r = subprocess.run(
        kubelab_cmd("up", "--home", str(tmp_path / "home")),
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO),
        timeout=60,
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "no Docker engine reachable" in lines[0]
    assert "--runtime fake" in lines[0] and "start Docker" in lines[0]
    assert r.stdout == ""


def test_up_supervises_stops_and_resumes(tmp_path: Path) -> None:
    up = UpCluster(tmp_path / "home", ["--runtime", "fake", "--fake-gpus", "2", "--nodes", "1"])
    try:
        up.start()
        ready = up.ready_lines()
        assert len(ready) == 1
        assert f"KUBECONFIG={up.home / 'kubeconfig'}; kl get nodes" in ready[0]
        # The dashboard is on the API's own port (the packaged files `kubelab apiserver`
        # serves), and the ready line says where.
        assert "dashboard https://127.0.0.1:" in ready[0] and "/dashboard/ " in ready[0]
        c = up.client()
        page = c.request("GET", "/dashboard/")
        assert page.status_code == 200 and "<title>" in page.text, page.text[:200]
        names = {n["metadata"]["name"] for n in c.list("nodes")["items"]}
        assert names == {_node_name(up), "sim-0"}

        # Each component is its own process whose command line names it and the home.
        pids = {n: up.child_pid(n) for n in ("apiserver", "scheduler", "controllers", "kubelet")}
        for name, pid in pids.items():
            assert _alive(pid), name
            line = _cmdline(pid)
            assert f"kubelab {name}" in line and str(up.home) in line, line

        # The second `kubelab up` on the same home is refused.
        r = subprocess.run(
            kubelab_cmd("up", "--home", str(up.home), "--runtime", "fake"),
            capture_output=True,
            text=True,
            env=up.env(),
            cwd=str(REPO),
            timeout=60,
        )
        assert r.returncode == 1 and "already runs on" in r.stderr

        # A crashed scheduler is restarted, and the restart is logged.
        os.kill(pids["scheduler"], signal.SIGKILL)
        new_pid = wait_for(
            lambda: (p := up.child_pid("scheduler")) != pids["scheduler"] and _alive(p) and p,
            "scheduler restarted",
        )
        assert "scheduler" in _cmdline(new_pid)
        assert (
            "scheduler exited with code -9; restarting" in (up.home / "logs" / "up.log").read_text()
        )

        # It still schedules: a Deployment's pods run.
        up.kl("create", "deployment", "web", "--image", "nginx:1.27", "--replicas", "3")
        wait_for(
            lambda: c.get("deployments", "web", "default")["status"].get("readyReplicas") == 3,
            "3 ready replicas",
        )
        pods_before = {
            p["metadata"]["name"]: p["metadata"]["uid"] for p in c.list("pods", "default")["items"]
        }

        # Stop: every child goes with it.
        assert up.stop() == 0
        for name, pid in pids.items():
            if name != "scheduler":
                wait_for(lambda pid=pid: not _alive(pid), f"{name} stopped", 15)
        assert not _alive(new_pid)

        # Start again with no flags: the same cluster, the same pods, the same settings.
        up.args = []
        up.start()
        c = up.client()
        assert len(up.ready_lines()) == 2
        assert "simulated GPUs 2" in up.ready_lines()[-1]
        pods_after = {
            p["metadata"]["name"]: p["metadata"]["uid"] for p in c.list("pods", "default")["items"]
        }
        assert pods_after == pods_before
        assert c.get("deployments", "web", "default")["spec"]["replicas"] == 3
    finally:
        up.stop()


def _node_name(up: UpCluster) -> str:
    import json

    return str(json.loads((up.home / "up.json").read_text())["node_name"])


def test_supervisor_backoff_doubles_and_caps() -> None:
    from kubelab.supervisor import restart_delay

    assert [restart_delay(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]
