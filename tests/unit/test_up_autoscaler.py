"""`kubelab up` runs the lab autoscaler under its own identity, unless told not to."""

from __future__ import annotations

from pathlib import Path

from kubelab.up import DEFAULTS, plan_children


def _settings(**over: object) -> dict[str, object]:
    return {**DEFAULTS, "node_name": "box", **over}


def _args(children: list, name: str) -> list[str]:
    [c] = [c for c in children if c.name == name]
    return list(c.args)


def test_the_autoscaler_runs_under_its_own_identity_unless_left_out(tmp_path: Path) -> None:
    kids = plan_children(tmp_path, _settings(), tmp_path / "k.kubeconfig")
    scaler = _args(kids, "autoscaler")
    assert scaler == ["autoscaler", "--kubeconfig", str(tmp_path / "autoscaler.kubeconfig")]
    names = [c.name for c in kids]
    assert names.index("autoscaler") < names.index("kubelet")
    off = plan_children(tmp_path, _settings(autoscaler=False), tmp_path / "k.kubeconfig")
    assert "autoscaler" not in [c.name for c in off]
