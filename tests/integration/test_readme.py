"""Every command of the README's tutorial, run in order against a fresh home (the fake
runtime), as a user types them: `make up` in one terminal, then in a second one the
`export` line that `kubelab up` printed, then each command. Between them the test checks
that the cluster did what the README says it does. Also: the README's Python snippet and
its Pod Security paragraph, each against a real apiserver."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apiserver.admission import ENFORCE_LABEL
from tests.harness import REPO, free_port, start_apiserver
from tests.wait import wait_for

README = REPO / "README.md"
BIN = Path(sys.executable).parent  # the venv the tests run in: `make up` installs it


def section(text: str, title: str) -> str:
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def tutorial_commands(text: str) -> list[str]:
    """The lines of the ```sh blocks of the '## Ten-minute tutorial' section."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", section(text, "Ten-minute tutorial"), re.S):
        out += [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    return out


def test_tutorial_has_the_steps_the_issue_asks_for() -> None:
    cmds = tutorial_commands(README.read_text())
    assert cmds[0].startswith('make up ARGS="--runtime fake')
    assert cmds[1].startswith("export PATH=")
    joined = "\n".join(cmds)
    for needed in ("kl apply -f deploy/examples/", "kl scale", "kl set image", "kl rollout undo"):
        assert needed in joined
    assert "job-name=train" in joined and "kill -9" in joined
    # The home is $KUBELAB_HOME wherever a command means it, never a private path.
    assert "~/.kubelab" not in section(README.read_text(), "Ten-minute tutorial")


def _without_venv(path: str) -> str:
    """PATH as a fresh shell has it: without the venv's bin (nothing activated it)."""
    return os.pathsep.join(p for p in path.split(os.pathsep) if Path(p) != BIN)


class UpExited(AssertionError):
    """`make up` ended before it said the cluster was up."""


class Tutorial:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBELAB_HOME", "KUBECONFIG")}
        self.env["HOME"] = str(tmp)  # so the default home, ~/.kubelab, is this test's
        self.env["PATH"] = _without_venv(self.env["PATH"])
        self.env["PYTHONPATH"] = str(REPO)  # the checkout under test, wherever it is
        self.home = tmp / ".kubelab"
        self.up: subprocess.Popen[bytes] | None = None
        self.outputs: dict[str, str] = {}
        self.printed_setup = ""  # the `export ...` that the ready line told us to paste
        self.typed_setup = ""  # the README's own `export ...` line, once typed

    def client(self) -> Any:
        from client import Client

        return Client.from_kubeconfig(str(self.home / "kubeconfig"))

    def up_output(self) -> str:
        return (self.tmp / "up.out").read_text()

    def ready_line(self) -> str | None:
        lines = self.up_output().splitlines()
        found = next((ln for ln in lines if ln.startswith("kubelab is up")), None)
        if found is None and self.up is not None and self.up.poll() is not None:
            raise UpExited(f"`make up` exited ({self.up.returncode}):\n{self.up_output()}")
        return found

    def start_up(self, cmd: str) -> None:
        # The tutorial's port is 6443; the test takes a free one so runs can overlap.
        args = shlex.split(cmd)
        assert args[:2] == ["make", "up"] and args[2].startswith("ARGS="), cmd
        args[2] += f" --port {self.port}"
        # `-o`: the venv the tests run in is installed already; `make up` must not
        # reinstall it (that would reach PyPI), only run `kubelab up` from it. The stamp
        # is named as the Makefile spells it ($(VENV)/...), or make does not match it.
        make = ["make", "-o", ".venv/.installed-runtime", f"BIN={BIN}", *args[1:]]
        out = open(self.tmp / "up.out", "wb")
        self.up = subprocess.Popen(
            make,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=str(REPO),
            start_new_session=True,
        )
        out.close()
        line = wait_for(self.ready_line, "the ready line", 90, give_up_on=(UpExited,))
        assert "pip install" not in self.up_output(), self.up_output()
        # What to paste into the second terminal, exactly as printed.
        pasted = line.split(" try: ", 1)[1]
        self.printed_setup, _, try_cmd = pasted.rpartition("; ")
        assert self.printed_setup.startswith("export "), line
        self.shell(pasted)  # the printed command itself works as printed
        assert try_cmd == "kl get nodes", line

    def shell(self, cmd: str) -> str:
        """``cmd`` in the second terminal: after the `export` line typed there, if any."""
        script = f"{self.typed_setup}\n{cmd}" if self.typed_setup else cmd
        r = subprocess.run(
            ["sh", "-c", script],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=str(REPO),
            timeout=180,
        )
        assert r.returncode == 0, f"README command failed: {cmd}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def run(self, cmd: str) -> None:
        if cmd.startswith("make up"):
            self.start_up(cmd)
            return
        if cmd.startswith("export "):
            # The README's line must set what the printed one sets: same PATH entry for
            # `kl`, same home, same kubeconfig.
            probe = 'command -v kl; echo "$KUBELAB_HOME"; echo "$KUBECONFIG"'
            assert self.shell(f"{cmd}\n{probe}") == self.shell(f"{self.printed_setup}\n{probe}")
            self.typed_setup = cmd
            return
        self.outputs[cmd] = self.shell(cmd)

    def stop(self) -> None:
        if self.up is None:
            return
        try:
            os.killpg(self.up.pid, signal.SIGTERM)  # Ctrl-C's effect: make and kubelab up
        except ProcessLookupError:
            return

        def gone() -> bool:
            try:
                os.killpg(self.up.pid, 0)  # type: ignore[union-attr]
            except ProcessLookupError:
                return True
            return False

        try:
            wait_for(gone, "kubelab up and its components to stop", 30)
        except AssertionError:
            os.killpg(self.up.pid, signal.SIGKILL)
        self.up.wait(10)


def _ready(c: Any, n: int) -> bool:
    st = c.get("deployments", "model-server", "default")["status"]
    return bool(st.get("readyReplicas") == n and st.get("updatedReplicas") == n)


def test_every_tutorial_command_runs(tmp_path: Path) -> None:
    if not (BIN / "kl").exists():
        pytest.skip(f"kl is not installed in {BIN} (run `make test`, which installs it)")
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
        assert t.typed_setup, "the tutorial never puts kl on PATH"
        # The end state the tutorial describes: four ready replicas, healed.
        wait_for(lambda: _ready(t.client(), 4), "4 ready replicas at the end")
        assert "scheduler exited" in (t.home / "logs" / "up.log").read_text()
    finally:
        t.stop()
    # Ctrl-C says how to resume; with the default home that is a bare `kubelab up`.
    assert re.search(r"run `\S*kubelab up` again to resume", t.up_output()), t.up_output()


def python_snippet(text: str) -> str:
    blocks = re.findall(
        r"```python\n(.*?)```", section(text, "Real kubectl and the Python client"), re.S
    )
    assert len(blocks) == 1
    return str(blocks[0])


def test_python_snippet_runs_on_pods_with_and_without_annotations(tmp_path: Path) -> None:
    """The snippet reads ~/.kubelab/kubeconfig; a pod without annotations has
    ``metadata.annotations`` None in the official client, which it must not trip on."""
    pytest.importorskip("kubernetes")
    server = start_apiserver(tmp_path / ".kubelab")
    try:
        c = server.client()
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        c.create("pods", {"metadata": {"name": "plain"}, "spec": spec}, "default")
        gpu = {"name": "trainer", "annotations": {"kubelab.io/gpu-uuids": "GPU-1234"}}
        c.create("pods", {"metadata": gpu, "spec": spec}, "default")
        env = {k: v for k, v in os.environ.items() if k not in ("KUBELAB_HOME", "KUBECONFIG")}
        env["HOME"] = str(tmp_path)
        r = subprocess.run(
            [sys.executable, "-c", python_snippet(README.read_text())],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        lines = sorted(r.stdout.splitlines())
        assert lines == ["plain None None", "trainer None GPU-1234"], r.stdout
    finally:
        server.stop()


def test_pod_security_paragraph_is_what_the_apiserver_does(tmp_path: Path) -> None:
    """The README says baseline admission is on by default, quotes its refusal, and names
    the label that relaxes it: each checked against a real apiserver and `kl label`."""
    text = section(README.read_text(), "Volumes")
    assert 'Pod Security "baseline"' in text and "on by default" in text
    refusal = re.search(r"\n    (pods .*)\n", text)
    assert refusal, text
    relax = re.search(r"`(kl label namespace NAME (\S+))`", text)
    assert relax and relax.group(2) == f"{ENFORCE_LABEL}=privileged", text
    server = start_apiserver(tmp_path / "home")
    try:
        from api.errors import ApiError

        c = server.client()
        c.create("namespaces", {"metadata": {"name": "lab"}})
        sock = {"path": "/var/run/docker.sock"}
        pod = {
            "metadata": {"name": "dind"},
            "spec": {
                "volumes": [{"name": "docker", "hostPath": sock}],
                "containers": [{"name": "c", "image": "docker:cli"}],
            },
        }
        with pytest.raises(ApiError) as refused:
            c.create("pods", pod, "lab")
        assert refused.value.code == 403 and refused.value.message == refusal.group(1)
        env = {k: v for k, v in os.environ.items() if k != "KUBELAB_HOME"}
        env["KUBECONFIG"] = str(server.kubeconfig)
        env["PYTHONPATH"] = str(REPO)
        kl = relax.group(1).replace("NAME", "lab").split()
        r = subprocess.run(
            [sys.executable, "-m", "kubectl.main", *kl[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert c.create("pods", pod, "lab")["metadata"]["name"] == "dind"
    finally:
        server.stop()
