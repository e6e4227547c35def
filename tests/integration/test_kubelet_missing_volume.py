"""A pod whose ConfigMap or Secret volume does not exist yet waits in ContainerCreating with
a FailedMount event naming the object (the fake runtime, a real apiserver), and starts
once the object is created; an optional one does not hold it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client import AsyncClient
from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, pod, run
from tests.wait import wait_for_async


async def _waiting(c: AsyncClient, name: str) -> dict[str, Any]:
    status = (await c.get("pods", name, NS)).get("status") or {}
    statuses = status.get("containerStatuses") or [{}]
    return dict(statuses[0].get("state", {}).get("waiting") or {})


def _mounting(name: str, node: str, volume: dict[str, Any]) -> dict[str, Any]:
    p = pod(name, node, volumes=[{"name": "cfg", **volume}])
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/etc/cfg"}]
    return p


def test_missing_configmap_or_secret_volume_holds_the_pod_until_it_exists(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "mnt1", backoff_initial=0.5)
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create("pods", _mounting("needvol", "mnt1", {"configMap": {"name": "app"}}), NS)
            await c.create(
                "pods", _mounting("needsec", "mnt1", {"secret": {"secretName": "creds"}}), NS
            )
            optional = {"configMap": {"name": "nowhere", "optional": True}}
            await c.create("pods", _mounting("optvol", "mnt1", optional), NS)

            async def failed_mounts() -> list[str]:
                events = (await c.list("events", NS))["items"]
                return [
                    e["message"]
                    for e in events
                    if e["reason"] == "FailedMount" and e["type"] == "Warning"
                ]

            async def both_reported() -> bool:
                messages = await failed_mounts()
                return any('configmap "app" not found' in m for m in messages) and any(
                    'secret "creds" not found' in m for m in messages
                )

            await wait_for_async(both_reported, "FailedMount events for both pods", 15)
            assert (
                'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found'
                in await failed_mounts()
            )
            for name in ("needvol", "needsec"):
                got = await c.get("pods", name, NS)
                assert got["status"]["phase"] == "Pending", got["status"]
                assert (await _waiting(c, name))["reason"] == "ContainerCreating"
                assert not await rt.list({"io.kubelab.pod.name": name})  # nothing created

            async def running(name: str) -> bool:
                return ((await c.get("pods", name, NS)).get("status") or {}).get(
                    "phase"
                ) == "Running"

            await wait_for_async(lambda: running("optvol"), "the optional volume's pod runs", 15)
            await c.create("configmaps", {"metadata": {"name": "app"}, "data": {"k": "v"}}, NS)
            await c.create("secrets", {"metadata": {"name": "creds"}, "data": {"k": "dg=="}}, NS)
            await wait_for_async(
                lambda: running("needvol"), "Running once the ConfigMap exists", 15
            )
            await wait_for_async(lambda: running("needsec"), "Running once the Secret exists", 15)
        finally:
            await k.stop()
            await c.close()

    run(scenario())
