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
