"""--enforce-volume-capacity: a local-path volume is an ext4 filesystem of its capacity,
loop-mounted by the node's kubelet (fake runtime, real mounts; needs root and loop
devices): writing past the claim's size fails with ENOSPC, the PV says the capacity is
enforced, and reclaim Delete unmounts and removes the filesystem."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet.loop_volumes import loop_problem
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.integration.test_storage import claim, get, pod, wait_running
from tests.wait import wait_for

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(loop_problem() is not None, reason=f"no loop mounts: {loop_problem()}"),
]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, Path]]:
    storage = tmp_path / "volumes"
    cl = Cluster(tmp_path / "home")
    try:
        cl.add_scheduler()
        cl.add_kubelet(
            "loop-node",
            *FAST_KUBELET_FLAGS,
            "--storage-dir",
            str(storage),
            "--enforce-volume-capacity",
        )
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.wait_nodes_ready(timeout=30)
        yield cl, storage
    finally:
        cl.stop()
        # Whatever a failed test left mounted goes with it.
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1]
            if target.startswith(str(storage)):
                subprocess.run(["umount", "-l", target], check=False)


def test_a_claim_holds_no_more_than_it_asked_for(cluster: tuple[Cluster, Path]) -> None:
    cl, storage = cluster
    c = cl.client
    c.create("persistentvolumeclaims", claim("small", "16Mi"), "default")
    c.create("pods", pod("user", "small"), "default")
    wait_running(c, "default", "user")
    pv_name = c.get("persistentvolumeclaims", "small", "default")["spec"]["volumeName"]
    path = Path(c.get("persistentvolumes", pv_name)["spec"]["local"]["path"])
    assert os.path.ismount(path)
    image = storage / ".images" / f"{path.name}.img"
    assert image.stat().st_size == 16 * 1024 * 1024

    def enforced() -> Any:
        for e in c.list("events", "default")["items"]:
            if e["involvedObject"]["name"] == pv_name and e["reason"] == "CapacityEnforced":
                return e
        return None

    assert "loop-mounted" in wait_for(enforced, "the CapacityEnforced event", 15)["message"]
    with pytest.raises(OSError) as full:
        with open(path / "too-big", "wb") as f:
            for _ in range(20):
                f.write(b"\0" * (1024 * 1024))
                f.flush()
                os.fsync(f.fileno())
    assert full.value.errno == errno.ENOSPC

    c.delete("pods", "user", "default", grace_period_seconds=0)
    c.delete("persistentvolumeclaims", "small", "default")
    wait_for(lambda: get(c, "persistentvolumes", pv_name) is None, "the PV deleted", 30)
    assert not os.path.ismount(path)
    assert not path.exists() and not image.exists()
