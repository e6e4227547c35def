"""ConfigMap and Secret volumes of a running pod follow updates of their objects (fake
runtime, real apiserver): changed keys rewritten, removed keys removed, new keys added,
secret files still 0400, and nothing restarted."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from kubelet.context import KubeletConfig
from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, run
from tests.wait import wait_for_async


def test_configmap_and_secret_volumes_refresh_in_a_running_pod(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    assert KubeletConfig(node_name="x").volume_refresh_period == 60.0  # "about a minute"

    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "vol1", volume_refresh_period=0.3)
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create(
                "configmaps", {"metadata": {"name": "live"}, "data": {"a": "1", "b": "2"}}, NS
            )
            await c.create(
                "secrets", {"metadata": {"name": "livesec"}, "stringData": {"pw": "x"}}, NS
            )
            body: dict[str, Any] = {
                "metadata": {"name": "reader", "namespace": NS},
                "spec": {
                    "nodeName": "vol1",
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "live"}},
                        {"name": "sec", "secret": {"secretName": "livesec"}},
                    ],
                    "containers": [
                        {
                            "name": "main",
                            "image": "img:1",
                            "volumeMounts": [
                                {"name": "cfg", "mountPath": "/cfg"},
                                {"name": "sec", "mountPath": "/sec"},
                            ],
                        }
                    ],
                },
            }
            created = await c.create("pods", body, NS)
            vols = tmp_path / "vol1" / "pods" / created["metadata"]["uid"] / "volumes"
            cfg, sec = vols / "configmap" / "cfg", vols / "secret" / "sec"

            async def running() -> bool:
                p = await c.get("pods", "reader", NS)
                return (p.get("status") or {}).get("phase") == "Running"

            await wait_for_async(running, "Running", 10)
            assert (cfg / "a").read_text() == "1" and (sec / "pw").read_text() == "x"
            (before,) = await rt.list({"io.kubelab.pod.name": "reader"})

            await c.patch("configmaps", "live", {"data": {"a": "10", "b": None, "c": "3"}}, NS)
            await c.patch("secrets", "livesec", {"stringData": {"pw": "y"}}, NS)

            async def refreshed() -> bool:
                try:
                    files = {p.name: p.read_text() for p in cfg.iterdir() if p.is_file()}
                    return files == {"a": "10", "c": "3"} and (sec / "pw").read_text() == "y"
                except FileNotFoundError:
                    return False  # listed, then removed by the refresh: look again

            await wait_for_async(refreshed, "volume files follow the objects", 10)
            assert stat.S_IMODE((sec / "pw").stat().st_mode) == 0o400
            (after,) = await rt.list({"io.kubelab.pod.name": "reader"})
            assert after.id == before.id and after.running  # nothing restarted
        finally:
            await k.stop()
            await c.close()

    run(scenario())
