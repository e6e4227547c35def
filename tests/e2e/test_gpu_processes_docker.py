"""A GPU process is matched to its container by its cgroup: checked against a real
container of the engine (the host PID Docker reports, as NVML would report it)."""

from __future__ import annotations

import uuid

import pytest

from kubelet.gpu_processes import container_of_pid
from tests.e2e.images import IMAGE, ensure_busybox_image

pytestmark = pytest.mark.docker


def test_container_of_a_real_containers_pid() -> None:
    import docker

    dc = docker.from_env()
    ensure_busybox_image(dc)
    c = dc.containers.run(
        IMAGE, ["sleep", "60"], detach=True, name=f"gpuproc-{uuid.uuid4().hex[:8]}"
    )
    try:
        c.reload()
        pid = int(c.attrs["State"]["Pid"])
        assert container_of_pid(pid) == c.id
    finally:
        c.remove(force=True)
