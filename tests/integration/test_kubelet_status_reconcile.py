"""The kubelet's pod status against what others write: the node lifecycle controller marks
a silent node's pods NotReady (``status.conditions`` Ready=False, reason NodeNotReady); when
the kubelet is heard again, it must put back the status it computes, even though that is
what it wrote last (Kubernetes' status manager: ``needsReconcile``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, pod, run
from tests.wait import wait_for_async


def _ready(p: dict[str, Any]) -> str | None:
    for c in (p.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status"))
    return None


def test_pod_marked_not_ready_by_another_writer_is_made_ready_again(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        k = make_kubelet(c, FakeRuntime(), tmp_path, "recon1")
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create("pods", pod("rec", "recon1"), NS)

            async def ready() -> bool:
                return _ready(await c.get("pods", "rec", NS)) == "True"

            await wait_for_async(ready, "pod Ready", 10)
            # What the node lifecycle controller writes for a node it thinks is silent.
            p = await c.get("pods", "rec", NS)
            conds = [dict(x) for x in p["status"]["conditions"]]
            for x in conds:
                if x["type"] in ("Ready", "ContainersReady"):
                    x.update(status="False", reason="NodeNotReady")
            await c.patch(
                "pods", "rec", {"status": {"conditions": conds}}, NS, subresource="status"
            )
            assert _ready(await c.get("pods", "rec", NS)) == "False"
            await wait_for_async(ready, "pod Ready again after NodeNotReady", 10)
            # ...and only once: comparing with the API's version must not turn every resync
            # into a write. A sleep, as this proves something does not happen: three
            # resync periods (1 s each) in which the pod's resourceVersion stays put.
            rv = (await c.get("pods", "rec", NS))["metadata"]["resourceVersion"]
            await asyncio.sleep(3.0)
            assert (await c.get("pods", "rec", NS))["metadata"]["resourceVersion"] == rv
        finally:
            await k.stop()
            await c.close()

    run(scenario())
