"""deploy/install-node.sh --dry-run prints every step with the values filled in, and
runs and writes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness import REPO

SCRIPT = REPO / "deploy" / "install-node.sh"
JOIN = [
    "--server", "https://10.0.0.2:6443",
    "--token", "abcdef.0123456789abcdef",
    "--ca-fingerprint", "sha256:" + "ab" * 32,
]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    prefix, home = tmp_path / "opt", tmp_path / "var"
    r = _run(
        "--dry-run", *JOIN, "--node-name", "gpu2", "--address", "10.0.0.7",
        "--prefix", str(prefix), "--home", str(home),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout
    steps = [line for line in out.splitlines() if line.startswith("[")]
    expected = [
        "check NVIDIA driver: nvidia-smi -L",
        "check NVIDIA container toolkit: nvidia-ctk --version",
        "check Docker: docker version",
        f"python3 -m venv {prefix}/venv",
        f"{prefix}/venv/bin/pip install --quiet {REPO}",
        f"{prefix}/venv/bin/kubelab join --server https://10.0.0.2:6443 --token "
        f"abcdef.0123456789abcdef --ca-fingerprint sha256:{'ab' * 32} --home {home} "
        "--node-name gpu2 --address 10.0.0.7 --no-run",
        "write /etc/systemd/system/kubelab-kubelet.service:",
        "systemctl daemon-reload",
        "systemctl enable --now kubelab-kubelet.service",
    ]
    for want in expected:
        assert any(s.endswith(want) for s in steps), f"missing step {want!r} in:\n{out}"
    # The unit it would write, filled in: this node, this home, this venv.
    assert (
        f"ExecStart={prefix}/venv/bin/kubelab kubelet --home {home} --kubeconfig "
        f"{home}/kubeconfig --node-name gpu2 --address 10.0.0.7 --runtime docker" in out
    )
    assert "@" not in out.split("write /etc/systemd")[1].split("systemctl")[0]
    assert f"dry run done: {len(steps)} steps" in out
    assert not prefix.exists() and not home.exists()


def test_no_gpu_skips_nvidia_checks_and_missing_flags_are_named() -> None:
    r = _run("--dry-run", "--no-gpu", *JOIN)
    assert r.returncode == 0 and "nvidia" not in r.stdout.lower()
    r = _run("--dry-run", "--server", "https://10.0.0.2:6443")
    assert r.returncode == 2
    assert "missing --token --ca-fingerprint" in r.stderr and "kubelab token create" in r.stderr


def test_units_are_complete() -> None:
    for name in ("kubelab-control-plane.service", "kubelab-kubelet.service"):
        text = (REPO / "deploy" / "systemd" / name).read_text()
        for section in ("[Unit]", "[Service]", "[Install]"):
            assert section in text, (name, section)
        assert "ExecStart=" in text and "Restart=always" in text
