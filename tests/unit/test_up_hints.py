"""What `kubelab up` tells the user to type: the ready line's command works as printed in
a fresh shell (``kl`` is in the venv's bin, not on PATH), and stopping says how to resume
the same home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubelab import up

SETTINGS = {"node_name": "box", "nodes": 0, "runtime": "fake", "fake_gpus": ""}
BIN = Path(sys.executable).parent


def fresh_shell_env() -> dict[str, str]:
    """A new terminal's environment: no venv activated, no cluster variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBELAB_HOME", "KUBECONFIG")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN)
    return env


def printed_command(home: Path) -> str:
    line = up.ready_line(home, SETTINGS, "https://127.0.0.1:6443")
    return line.split(" try: ", 1)[1]


@pytest.mark.skipif(not (BIN / "kl").exists(), reason="kl is not installed beside python")
def test_the_ready_line_command_finds_kl_and_the_cluster_in_a_fresh_shell(
    tmp_path: Path,
) -> None:
    home = tmp_path / "my home"  # a space: the printed paths are quoted for the shell
    cmd = printed_command(home)
    assert cmd.endswith("; kl get nodes")
    setup = cmd.rsplit("; ", 1)[0]
    probe = 'command -v kl; echo "$KUBECONFIG"; echo "$KUBELAB_HOME"'
    r = subprocess.run(
        ["sh", "-c", f"{setup}; {probe}"],
        capture_output=True,
        text=True,
        env=fresh_shell_env(),
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(BIN / "kl"), str(home / "kubeconfig"), str(home)]


def test_resume_hint_names_a_home_that_is_not_the_default(tmp_path: Path) -> None:
    assert up.resume_command(tmp_path).endswith(f"kubelab up --home {tmp_path}")


def test_resume_hint_is_bare_for_the_default_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert up.resume_command(Path("/home/someone/.kubelab")).endswith("kubelab up")


def test_resume_hint_runs_kubelab_by_path_when_it_is_not_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not (BIN / "kubelab").exists():
        pytest.skip("kubelab is not installed beside python")
    monkeypatch.setenv("PATH", fresh_shell_env()["PATH"])
    assert up.resume_command(tmp_path).startswith(f"{BIN / 'kubelab'} up --home ")
