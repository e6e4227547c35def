"""A kubelet (fake runtime, a real apiserver) never runs a mirror pod bound to its node:
no container, no status of its own, and a graceful delete of it is not its to finish;
the ordinary pod beside it runs as usual."""

from __future__ import annotations

from pathlib import Path

from client import AsyncClient
from kubelab.mirror_pods import COMPONENTS, desired_pod
from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, pod, run
from tests.wait import wait_for_async


async def _phase(c: AsyncClient, name: str, ns: str) -> str:
    return str(((await c.get("pods", name, ns)).get("status") or {}).get("phase") or "")


def test_the_kubelet_leaves_mirror_pods_alone(shared_apiserver: ApiServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "mir1")
        try:
            await k.start()
            await k.wait_ready(10)
            node = await c.get("nodes", "mir1")
            mirror = desired_pod(COMPONENTS["scheduler"], node, ["py", "-m", "kubelab", "x"])
            made = await c.create("pods", mirror, "kube-system")
            name = made["metadata"]["name"]
            await c.create("pods", pod("witness", "mir1"), NS)

            async def witness_runs() -> bool:
                return await _phase(c, "witness", NS) == "Running"

            await wait_for_async(witness_runs, "the ordinary pod runs", 15)
            assert await rt.list({"io.kubelab.pod.name": name}) == []
            assert await _phase(c, name, "kube-system") in ("", "Pending")
            got = await c.get("pods", name, "kube-system")
            assert not (got.get("status") or {}).get("containerStatuses")

            await c.delete("pods", name, "kube-system")  # graceful: nobody finishes it here
            await c.delete("pods", "witness", NS)

            async def witness_gone() -> bool:
                return not [
                    p
                    for p in (await c.list("pods", NS))["items"]
                    if p["metadata"]["name"] == "witness"
                ]

            await wait_for_async(witness_gone, "the ordinary pod's deletion finished", 15)
            still = await c.get("pods", name, "kube-system")
            assert still["metadata"]["deletionTimestamp"]
            await c.delete("pods", name, "kube-system", grace_period_seconds=0)
        finally:
            await k.stop()
            await c.close()

    run(scenario())
