"""Joining a second box with a bootstrap token (a second home on this machine, fake
runtime): it runs pods, and its own credentials cannot touch the first node (403)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.harness import REPO, Component, kubelab_cmd
from tests.up_cluster import UpCluster
from tests.wait import wait_for


def _run(up: UpCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        kubelab_cmd(*args), capture_output=True, text=True, env=up.env(), cwd=str(REPO), timeout=60
    )


def _join_no_run(
    up: UpCluster, flags: dict[str, str], home: Path, node: str
) -> subprocess.CompletedProcess[str]:
    """`kubelab join ... --no-run` with the printed command's flags, for ``node``."""
    return _run(
        up,
        "join",
        "--server", flags["--server"],
        "--token", flags["--token"],
        "--ca-fingerprint", flags["--ca-fingerprint"],
        "--home", str(home),
        "--node-name", node,
        "--no-run",
    )  # fmt: skip


def _pinned_pod(name: str, node: str) -> dict[str, Any]:
    """A pod that only ``node`` may run (its hostname label)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    up = UpCluster(tmp_path / "cp", ["--runtime", "fake", "--node-name", "box1"]).start()
    try:
        yield up
    finally:
        up.stop()


def test_second_box_joins_runs_pods_and_is_confined_to_itself(
    cluster: UpCluster, tmp_path: Path
) -> None:
    r = _run(cluster, "token", "create", "--home", str(cluster.home))
    assert r.returncode == 0, r.stderr
    command = r.stdout.strip().split()
    assert command[:2] == ["kubelab", "join"] and len(r.stdout.strip().splitlines()) == 1
    flags = dict(zip(command[2::2], command[3::2], strict=True))
    assert flags["--server"] == f"https://127.0.0.1:{cluster.port}"
    assert flags["--ca-fingerprint"].startswith("sha256:")
    listed = _run(cluster, "token", "list", "--home", str(cluster.home)).stdout
    assert flags["--token"].split(".")[0] in listed

    home2 = tmp_path / "box2"
    # A wrong fingerprint is refused before the token is sent.
    bad = _run(
        cluster,
        "join",
        "--server", flags["--server"],
        "--token", flags["--token"],
        "--ca-fingerprint", "sha256:" + "0" * 64,
        "--home", str(home2),
        "--node-name", "box2",
        "--runtime", "fake",
        "--no-run",
    )  # fmt: skip
    assert bad.returncode == 1 and "is not sha256:000" in bad.stderr
    assert not (home2 / "kubeconfig").exists()
    # A token the cluster never issued is refused by the server.
    forged = _run(
        cluster,
        "join",
        "--server", flags["--server"],
        "--token", "abcdef.0123456789abcdef",
        "--ca-fingerprint", flags["--ca-fingerprint"],
        "--home", str(home2),
        "--node-name", "box2",
        "--no-run",
    )  # fmt: skip
    assert forged.returncode == 1 and "not known to this cluster" in forged.stderr

    kubelet = Component(
        [
            "join",
            "--server", flags["--server"],
            "--token", flags["--token"],
            "--ca-fingerprint", flags["--ca-fingerprint"],
            "--home", str(home2),
            "--node-name", "box2",
            "--runtime", "fake",
            "--kubelet-port", "0",
            "--no-proxy",  # the first kubelet already proxies Services on 127.0.0.1
        ],
        home2,
        tmp_path / "box2.log",
    ).start()  # fmt: skip
    try:
        admin = cluster.client()
        wait_for(
            lambda: any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in admin.get("nodes", "box2")["status"]["conditions"]
            ),
            f"node box2 Ready\n{kubelet.log()}",
            60,
        )
        # It runs pods: one pinned to it goes Running.
        admin.create("pods", _pinned_pod("on-box2", "box2"), "default")
        wait_for(
            lambda: admin.get("pods", "on-box2", "default")["status"].get("phase") == "Running",
            "pod on box2 Running",
        )

        # The node's own credentials: its own Node yes, the first node no.
        from client import Client

        node = Client.from_kubeconfig(str(home2 / "kubeconfig"))
        node.patch("nodes", "box2", {"metadata": {"labels": {"joined": "yes"}}})
        with pytest.raises(ApiError) as exc:
            node.patch("nodes", "box1", {"metadata": {"labels": {"hijacked": "yes"}}})
        assert exc.value.code == 403
        assert 'User "system:node:box2" cannot patch resource "nodes"' in str(exc.value)
        assert "hijacked" not in (admin.get("nodes", "box1")["metadata"].get("labels") or {})
        # Nor the pods bound to the first node.
        admin.create("pods", _pinned_pod("on-box1", "box1"), "default")
        wait_for(
            lambda: admin.get("pods", "on-box1", "default")["spec"].get("nodeName") == "box1",
            "pod bound to box1",
        )
        with pytest.raises(ApiError) as exc:
            node.delete("pods", "on-box1", "default")
        assert exc.value.code == 403

        # A bootstrap token cannot take the name, and so the credentials, of a live node:
        # neither the first box's nor the second's.
        for taken in ("box1", "box2"):
            thief = _join_no_run(cluster, flags, tmp_path / f"thief-{taken}", taken)
            assert thief.returncode == 1, thief.stdout
            assert f"node {taken} is already part of the cluster and alive" in thief.stderr
            assert "another --node-name" in thief.stderr
            assert not (tmp_path / f"thief-{taken}" / "kubeconfig").exists()
        # The box that joined as box2 may run join again (same home, same identity).
        again = _join_no_run(cluster, flags, home2, "box2")
        assert again.returncode == 0, again.stderr
        assert Client.from_kubeconfig(str(home2 / "kubeconfig")).get("nodes", "box2")
    finally:
        kubelet.stop()


def test_user_token_gets_its_role_only(cluster: UpCluster) -> None:
    r = _run(
        cluster, "token", "create", "--home", str(cluster.home),
        "--user", "alice", "--role", "view", "--namespace", "default",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip().rsplit(": ", 1)[1])
    from client import Client

    alice = Client.from_kubeconfig(str(path))
    assert alice.list("pods", "default")["items"] == []
    with pytest.raises(ApiError) as exc:
        alice.create(
            "configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            "default",
        )
    assert exc.value.code == 403 and 'User "alice"' in str(exc.value)
