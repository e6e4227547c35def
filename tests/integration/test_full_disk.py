"""A full disk under the store: writes are refused with a 507 (or 500) Status, not
corruption; reads keep working; when space returns, writes work again and nothing that
was acknowledged is lost (also across a SIGKILL), and SQLite's integrity check passes.

The apiserver's home is a small tmpfs mounted for the test (we run as root in CI); where
mounting is not permitted the test is skipped with the reason.
"""

from __future__ import annotations

import errno
import sqlite3
import ssl
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import ApiServer, start_apiserver
from tests.wait import wait_for

NS = "default"
DISK_MIB = 6
CHUNK = 64 * 1024  # bytes of data per ConfigMap: a few dozen fill the disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A DISK_MIB tmpfs mounted for this test, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the full-disk test (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system has no space left."""
    with open(path, "wb", buffering=0) as f:
        block = b"\0" * 65536
        while True:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        # The last bytes, one at a time, so not even a partial page is left.
        while True:
            try:
                f.write(b"\0" * 512)
            except OSError:
                break


def _cm(name: str, fill: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"v": fill * (CHUNK // len(fill))},
    }


def _check_refusal(r: httpx.Response) -> None:
    assert r.status_code in (507, 500), f"{r.status_code} {r.text[:300]}"
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == r.status_code and body["message"]


def test_full_disk_refuses_writes_then_recovers(small_disk: Path, tmp_path: Path) -> None:
    home = small_disk / "home"
    home.mkdir()
    # Logs live off the small disk, so they can be read after it filled up.
    (tmp_path / "logs").mkdir()
    (home / "logs").symlink_to(tmp_path / "logs")
    api: ApiServer = start_apiserver(home)
    try:
        h = httpx.Client(
            base_url=api.url,
            verify=ssl.create_default_context(cafile=str(api.ca_file)),
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=30,
        )
        coll = f"/api/v1/namespaces/{NS}/configmaps"
        acked: dict[str, str] = {}  # name -> the fill of its last acknowledged write

        def write(name: str, fill: str, update: bool = False) -> httpx.Response:
            if update:
                r = h.put(f"{coll}/{name}", json=_cm(name, fill))
                ok = 200
            else:
                r = h.post(coll, json=_cm(name, fill))
                ok = 201
            if r.status_code == ok:
                acked[name] = fill
            return r

        for i in range(5):
            assert write(f"before-{i}", "a").status_code == 201

        _fill(small_disk / "filler")
        refused = 0
        for i in range(60):
            r = write(f"full-{i}", "b")
            if r.status_code != 201:
                _check_refusal(r)
                refused += 1
            # An update of an object that exists must not lose its old value when refused.
            r = write(f"before-{i % 5}", f"u{i}-", update=True)
            if r.status_code != 200:
                _check_refusal(r)
                refused += 1
            if refused >= 10:
                break
        assert refused >= 10, "the disk never filled up: the test proved nothing"
        codes = {write("one-more", "c").status_code for _ in range(3)}
        assert codes <= {507, 500}, codes
        # Concurrent writers: writes batched behind a failed commit fail too, none half-done.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: write(f"burst-{i}", "e"), range(24)))
        for r in answers:
            if r.status_code != 201:
                _check_refusal(r)

        # Reads still work while the disk is full.
        listed = h.get(coll)
        assert listed.status_code == 200
        names = {o["metadata"]["name"] for o in listed.json()["items"]}
        assert set(acked) <= names
        for name, fill in acked.items():
            got = h.get(f"{coll}/{name}")
            assert got.status_code == 200 and got.json()["data"]["v"].startswith(fill), name

        # Space returns: writes work again (within a few seconds), nothing acknowledged lost.
        (small_disk / "filler").unlink()
        wait_for(
            lambda: write("after-0", "d").status_code == 201, "a write after space returned", 15
        )
        for i in range(1, 5):
            assert write(f"after-{i}", "d").status_code == 201
        assert write("before-0", "final", update=True).status_code == 200

        def all_acked() -> None:
            for name, fill in acked.items():
                got = h.get(f"{coll}/{name}")
                assert got.status_code == 200, (name, got.text[:200])
                assert got.json()["data"]["v"] == fill * (CHUNK // len(fill)), name

        all_acked()
        # A crash right after: still everything acknowledged, from the database itself.
        api.kill()
        api.start()
        h.close()
        h = httpx.Client(
            base_url=api.url,
            verify=ssl.create_default_context(cafile=str(api.ca_file)),
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=30,
        )
        all_acked()
        assert "Traceback" not in api.component.log() if api.component else True
    finally:
        api.stop()
    con = sqlite3.connect(str(home / "state.db"))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
