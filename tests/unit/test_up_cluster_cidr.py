"""`kubelab up --cluster-cidr`: the controller manager cuts it into node subnets and the
local kubelet keeps its routes for it (and for the service range); remembered for a rerun."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubelab.up import DEFAULTS, build_parser, plan_children, resolve_settings


def _args(children: list, name: str) -> list[str]:
    [c] = [c for c in children if c.name == name]
    return list(c.args)


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_cluster_cidr_reaches_controllers_and_kubelet(tmp_path: Path) -> None:
    settings = {**DEFAULTS, "node_name": "box", "cluster_cidr": "10.77.0.0/16"}
    kids = plan_children(tmp_path, settings, tmp_path / "k.kubeconfig")
    assert _flag(_args(kids, "controllers"), "--cluster-cidr") == "10.77.0.0/16"
    kubelet = _args(kids, "kubelet")
    assert _flag(kubelet, "--cluster-cidr") == "10.77.0.0/16"
    assert _flag(kubelet, "--service-cidr") == "10.43.0.0/16"


def test_default_and_remembered(tmp_path: Path) -> None:
    args: argparse.Namespace = build_parser().parse_args([])
    assert resolve_settings(args, tmp_path)["cluster_cidr"] == "10.42.0.0/16"
    (tmp_path / "up.json").write_text('{"cluster_cidr": "10.88.0.0/16"}')
    assert resolve_settings(args, tmp_path)["cluster_cidr"] == "10.88.0.0/16"
    given = build_parser().parse_args(["--cluster-cidr", "10.99.0.0/16"])
    assert resolve_settings(given, tmp_path)["cluster_cidr"] == "10.99.0.0/16"
