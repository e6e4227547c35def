"""Scale to zero through the real kubelet's kernel proxy (issue 20 items 3 and 4), on the
real Docker engine (``tests/e2e/scale_to_zero_lab.py``): a Deployment at 0 replicas
behind a ClusterIP Service answers 50 concurrent requests from the host, and one from a
pod, with none failing (the kernel redirects them to the kubelet's holding listener,
whose demand scales the Deployment to 1; each is forwarded once the replica is Ready);
kept busy through the kernel's DNAT for twice its idle window it stays up (the kubelet
reads the Service chain's rule counter); then, with no request for its window, it goes
back to 0 and the Service's rules hold
connections again.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from controllers.scaletozero_decide import SLEPT, WOKEN
from kubelet.kernelproxy import unavailable_reason
from tests.e2e.images import IMAGE
from tests.e2e.scale_to_zero_lab import NS, ZeroLab, get, zero_lab
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]
CONCURRENT = 50
IDLE = 8.0
BUSY = 2 * IDLE  # seconds of steady requests, each counted by the kernel's rule counter


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[ZeroLab]:
    why = unavailable_reason("docker")
    if why:
        pytest.skip(f"kernel proxy unavailable: {why}")
    with zero_lab(tmp_path) as lab_:
        lab_.api.patch(
            "namespaces",
            NS,
            {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        )
        yield lab_


def test_a_service_at_zero_replicas_answers_every_request(lab: ZeroLab) -> None:
    client = {
        "metadata": {"name": "client"},
        "spec": {
            "nodeName": lab.node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
        },
    }
    lab.api.create("pods", client, NS)
    cip = lab.deployment("web", f"{IDLE:.0f}s")
    # At zero: the Service's port is redirected to the kubelet's holding listener.
    holder = re.search(r"redirect to :(\d+)", lab.table_text())
    assert holder is not None
    assert lab.replicas("web") == 0
    # The holding listener answers only what the kernel redirected to it.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(holder.group(1))), timeout=5)

    def from_pod() -> tuple[int, str]:
        (c,) = [
            c
            for c in lab.docker.containers.list(
                filters={
                    "label": ["io.kubelab.pod.name=client", f"io.kubelab.cluster.uid={lab.uid}"]
                }
            )
            if c.labels.get("io.kubelab.sandbox") != "true"
        ]
        r = c.exec_run(["sh", "-c", f"wget -qO- http://{cip}/"])
        return (200 if r.exit_code == 0 else r.exit_code), r.output.decode().strip()

    wait_for(
        lambda: lab.api.get("pods", "client", NS)["status"].get("phase") == "Running", "client", 90
    )
    with ThreadPoolExecutor(CONCURRENT + 1) as pool:
        started = time.monotonic()
        futures = [pool.submit(get, f"http://{cip}/") for _ in range(CONCURRENT)]
        futures.append(pool.submit(from_pod))
        answers = [f.result() for f in futures]
        took = time.monotonic() - started
    failed = [a for a in answers if a[0] != 200 or not a[1].startswith("web-")]
    assert not failed, f"{len(failed)} of {len(answers)} failed: {failed[:3]}"
    assert lab.replicas("web") == 1
    assert WOKEN in lab.events("web")
    assert took < 90, took

    # With a replica up the kernel forwards by itself (no redirect), and counts.
    wait_for(lambda: "redirect to :" not in lab.table_text(), "the DNAT rules", 30)
    # Busy for twice its window, through the kernel's DNAT alone: never idle, so every
    # answer comes from the one replica (one woken again would have another name).
    until = time.monotonic() + BUSY
    replica = {body for _, body in answers}
    while time.monotonic() < until:
        code, body = get(f"http://{cip}/")
        assert code == 200 and {body} == replica, f"scaled to zero while busy: {lab.events('web')}"
        time.sleep(1.0)
    assert SLEPT not in lab.events("web")
    # Idle for its window: back to 0, and held again.
    wait_for(
        lambda: lab.replicas("web") == 0, "scaled to zero", IDLE + 40, diagnostics=lab.cluster.logs
    )
    assert SLEPT in lab.events("web")
    wait_for(lambda: "redirect to :" in lab.table_text(), "the holding rules again", 30)
    wait_for(
        lambda: (
            not [
                p
                for p in lab.api.list("pods", NS)["items"]
                if p["metadata"]["name"].startswith("web-")
            ]
        ),
        "the replica gone",
        60,
    )
    # ... and wakes again for the next one.
    assert get(f"http://{cip}/")[0] == 200
