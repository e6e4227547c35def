"""Pod volumes written under the kubelet root: configMap, secret (0400), emptyDir, hostPath."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kubelet.volumes import VolumeError, container_mounts, prepare_volumes, remove_pod_dir


def pod(volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "d", "uid": "uid-1"},
        "spec": {"volumes": volumes},
    }


CMS = {"cfg": {"data": {"app.conf": "port=80\n", "other": "x"}}}
SECRETS = {"creds": {"data": {"token": base64.b64encode(b"t0k").decode()}}}


def test_configmap_secret_emptydir(tmp_path: Path) -> None:
    p = pod(
        [
            {"name": "c", "configMap": {"name": "cfg"}},
            {"name": "s", "secret": {"secretName": "creds"}},
            {"name": "e", "emptyDir": {}},
        ]
    )
    paths = prepare_volumes(tmp_path, p, CMS, SECRETS)
    assert Path(paths["c"], "app.conf").read_text() == "port=80\n"
    token = Path(paths["s"], "token")
    assert token.read_bytes() == b"t0k"
    assert stat.S_IMODE(os.stat(token).st_mode) == 0o400
    assert Path(paths["e"]).is_dir()
    assert str(tmp_path) in paths["e"]
    # Refresh: a removed key disappears, a changed one is rewritten.
    prepare_volumes(tmp_path, p, {"cfg": {"data": {"app.conf": "port=81\n"}}}, SECRETS)
    assert Path(paths["c"], "app.conf").read_text() == "port=81\n"
    assert not Path(paths["c"], "other").exists()
    remove_pod_dir(tmp_path, "uid-1")
    assert not Path(paths["e"]).exists()


def test_secret_mode_defaults_to_owner_read_only(tmp_path: Path) -> None:
    # 420 (0644) is what the API fills in when the manifest says nothing.
    for spec, mode in (({}, 0o400), ({"defaultMode": 420}, 0o400), ({"defaultMode": 0o440}, 0o440)):
        p = pod([{"name": "s", "secret": {"secretName": "creds", **spec}}])
        paths = prepare_volumes(tmp_path, p, {}, SECRETS)
        assert stat.S_IMODE(os.stat(Path(paths["s"], "token")).st_mode) == mode


def test_items_and_modes(tmp_path: Path) -> None:
    p = pod(
        [
            {
                "name": "c",
                "configMap": {
                    "name": "cfg",
                    "items": [{"key": "app.conf", "path": "conf/a.conf", "mode": 0o600}],
                },
            }
        ]
    )
    paths = prepare_volumes(tmp_path, p, CMS, {})
    f = Path(paths["c"], "conf/a.conf")
    assert f.read_text() == "port=80\n" and stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert not Path(paths["c"], "other").exists()


def test_missing_objects(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match='configmap "gone" not found'):
        prepare_volumes(
            tmp_path, pod([{"name": "c", "configMap": {"name": "gone"}}]), {"gone": None}, {}
        )
    paths = prepare_volumes(
        tmp_path,
        pod([{"name": "c", "configMap": {"name": "gone", "optional": True}}]),
        {"gone": None},
        {},
    )
    assert Path(paths["c"]).is_dir()


def test_host_path_and_mounts(tmp_path: Path) -> None:
    target = tmp_path / "data"
    p = pod([{"name": "h", "hostPath": {"path": str(target), "type": "DirectoryOrCreate"}}])
    paths = prepare_volumes(tmp_path, p, {}, {})
    assert target.is_dir() and paths["h"] == str(target)
    mounts = container_mounts(
        {
            "volumeMounts": [
                {"name": "h", "mountPath": "/data", "readOnly": True},
                {"name": "h", "mountPath": "/sub", "subPath": "x"},
            ]
        },
        paths,
    )
    assert mounts[0].host_path == str(target) and mounts[0].read_only
    assert mounts[1].host_path == str(target / "x") and (target / "x").is_dir()
    with pytest.raises(VolumeError, match="names no volume"):
        container_mounts({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, paths)
    with pytest.raises(VolumeError, match="does not exist"):
        prepare_volumes(
            tmp_path,
            pod([{"name": "h", "hostPath": {"path": str(tmp_path / "no"), "type": "Directory"}}]),
            {},
            {},
        )


def _mount_of(path: Path) -> tuple[str, str] | None:
    """(fstype, options) of the mount at exactly ``path``, from /proc/self/mounts."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _dev, point, fstype, opts, *_ = line.split()
        if point == str(path):
            return fstype, opts
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_memory_empty_dir_is_a_shared_tmpfs_of_its_size_unmounted_with_the_pod(
    tmp_path: Path,
) -> None:
    p = pod(
        [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
            {"name": "disk", "emptyDir": {}},
        ]
    )
    paths = prepare_volumes(tmp_path, p, {}, {})
    try:
        mounted = _mount_of(Path(paths["shm"]))
        assert mounted is not None and mounted[0] == "tmpfs", mounted
        assert "size=8192k" in mounted[1], mounted
        assert _mount_of(Path(paths["disk"])) is None  # a plain directory on the disk
        Path(paths["shm"], "data").write_bytes(b"x")
        # A refresh (kubelet restart, ConfigMap change) keeps the tmpfs and its content.
        prepare_volumes(tmp_path, p, {}, {})
        assert Path(paths["shm"], "data").read_bytes() == b"x"
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        assert sum(1 for ln in mounts if f" {paths['shm']} " in ln) == 1  # not mounted twice
    finally:
        remove_pod_dir(tmp_path, "uid-1")
    assert _mount_of(Path(paths["shm"])) is None
    assert not Path(paths["shm"]).exists()


def test_tmpfs_size_follows_size_limit_then_memory_limits() -> None:
    from kubelet.volume_memory import tmpfs_size

    def limited(*limits: str | None) -> dict[str, Any]:
        cs = [{"name": f"c{i}", "resources": {"limits": {"memory": m}} if m else {}}
              for i, m in enumerate(limits)]  # fmt: skip
        return {"spec": {"containers": cs}}

    assert tmpfs_size(limited("1Gi"), {"sizeLimit": "64Mi"}) == 64 * 2**20
    assert tmpfs_size(limited("1Gi", "512Mi"), {}) == 1536 * 2**20
    assert tmpfs_size(limited("1Gi", None), {}) is None  # the kernel's default


def test_on_root_mismatch_changes_a_claim_only_while_its_root_is_not_the_groups(
    tmp_path: Path,
) -> None:
    from kubelet.volumes import needs_ownership_change

    claim = tmp_path / "claim"
    claim.mkdir()
    gid = claim.stat().st_gid
    assert needs_ownership_change(claim, gid, "Always")
    assert not needs_ownership_change(claim, gid, "OnRootMismatch")
    assert needs_ownership_change(claim, gid + 1, "OnRootMismatch")
