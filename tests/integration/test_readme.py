"""Every command of the README's tutorial, run in order against a fresh home (the fake
runtime), each one must succeed; between them the test checks that the cluster did what
the README says it does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness import REPO, free_port
from tests.wait import wait_for

README = REPO / "README.md"


def tutorial_commands(text: str) -> list[str]:
    """The lines of the ```sh blocks of the '## Ten-minute tutorial' section."""
    section = text.split("\n## Ten-minute tutorial", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        out += [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    return out


def test_tutorial_has_the_steps_the_issue_asks_for() -> None:
    cmds = tutorial_commands(README.read_text())
    assert cmds[0].startswith("kubelab up --runtime fake")
    joined = "\n".join(cmds)
    for needed in ("kl apply -f deploy/examples/", "kl scale", "kl set image", "kl rollout undo"):
        assert needed in joined
    assert "job-name=train" in joined and "kill -9" in joined


class Tutorial:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBELAB_HOME", "KUBECONFIG")}
        self.env["HOME"] = str(tmp)  # so ~/.kubelab in the README is this test's home
        self.env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + self.env["PATH"]
        self.env["PYTHONPATH"] = str(REPO)
        self.home = tmp / ".kubelab"
        self.up: subprocess.Popen[bytes] | None = None
        self.outputs: dict[str, str] = {}

    def client(self) -> Any:
        from client import Client

        return Client.from_kubeconfig(str(self.home / "kubeconfig"))

    def run(self, cmd: str) -> None:
        if cmd.startswith("kubelab up"):
            # The tutorial's port is 6443; the test takes a free one so runs can overlap.
            out = open(self.tmp / "up.out", "wb")
            self.up = subprocess.Popen(
                f"{cmd} --port {self.port}",
                shell=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(REPO),
                start_new_session=True,
            )
            out.close()
            wait_for(
                lambda: "kubelab is up" in (self.tmp / "up.out").read_text(),
                f"ready line\n{(self.tmp / 'up.out').read_text()}",
                90,
            )
            return
        r = subprocess.run(
            cmd,
            shell=True,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=str(REPO),
            timeout=180,
        )
        assert r.returncode == 0, f"README command failed: {cmd}\n{r.stdout}\n{r.stderr}"
        self.outputs[cmd] = r.stdout

    def stop(self) -> None:
        if self.up is not None and self.up.poll() is None:
            os.killpg(self.up.pid, signal.SIGTERM)
            try:
                self.up.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.up.pid, signal.SIGKILL)


def _ready(c: Any, n: int) -> bool:
    st = c.get("deployments", "model-server", "default")["status"]
    return bool(st.get("readyReplicas") == n and st.get("updatedReplicas") == n)


def test_every_tutorial_command_runs(tmp_path: Path) -> None:
    t = Tutorial(tmp_path)
    cmds = tutorial_commands(README.read_text())
    try:
        for cmd in cmds:
            scheduler_pid = None
            if cmd.startswith("kl get pods -l job-name=train"):
                # The Job's pod must be placed before its GPU can be shown.
                wait_for(
                    lambda: any(
                        (p["metadata"].get("annotations") or {}).get("kubelab.io/gpu-uuids")
                        for p in t.client().list(
                            "pods", "default", label_selector="job-name=train"
                        )["items"]
                    ),
                    "training pod bound to a GPU",
                )
            if cmd.startswith("kill -9"):
                scheduler_pid = int((t.home / "run" / "scheduler.pid").read_text())
            t.run(cmd)
            c = t.client() if t.up is not None else None
            if cmd == "kl get nodes -o wide":
                assert len(re.findall(r"\bReady\b", t.outputs[cmd])) == 3, t.outputs[cmd]
            if cmd.startswith("kl scale"):
                wait_for(lambda c=c: _ready(c, 4), "4 ready replicas")
            if cmd.startswith("kl get pods -l job-name=train"):
                pod = c.list("pods", "default", label_selector="job-name=train")["items"][0]
                uuid = pod["metadata"]["annotations"]["kubelab.io/gpu-uuids"]
                assert uuid in t.outputs[cmd]
            if cmd.startswith("kl rollout undo"):
                image = c.get("deployments", "model-server", "default")["spec"]["template"]["spec"][
                    "containers"
                ][0]["image"]
                assert image == "python:3.12-slim"
            if scheduler_pid is not None:
                wait_for(
                    lambda old=scheduler_pid: (
                        int((t.home / "run" / "scheduler.pid").read_text()) != old
                    ),
                    "scheduler restarted by kubelab up",
                )
        # The end state the tutorial describes: four ready replicas, healed.
        wait_for(lambda: _ready(t.client(), 4), "4 ready replicas at the end")
        assert "scheduler exited" in (t.home / "logs" / "up.log").read_text()
    finally:
        t.stop()
