"""A kubelet's start-up clean-up on an engine it shares (fake runtime, real apiserver):
its own orphan goes, another cluster's container under the same node name stays, and a
container of an older kubelab (no cluster label) is adopted only by its own pod."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kubelet.containers import spec_hash
from kubelet.runtime.base import (
    LABEL_CLUSTER,
    LABEL_CONTAINER_HASH,
    LABEL_CONTAINER_NAME,
    LABEL_NODE,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerSpec,
)
from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, pod
from tests.wait import wait_for_async


async def _container(
    rt: FakeRuntime, node: str, uid: str, cluster: str | None, spec_of: str = ""
) -> str:
    labels = {
        LABEL_NODE: node,
        LABEL_POD_UID: uid,
        LABEL_POD_NAMESPACE: NS,
        LABEL_POD_NAME: f"p-{uid[:6]}",
        LABEL_CONTAINER_NAME: "main",
        LABEL_CONTAINER_HASH: spec_of,
    }
    if cluster is not None:
        labels[LABEL_CLUSTER] = cluster
    cid = await rt.create(ContainerSpec(f"kl_{uid}", "img:1", labels))
    await rt.start(cid)
    return cid


def test_startup_scan_touches_only_this_clusters_containers(
    shared_apiserver: ApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        node = "owner1"
        ours = (await c.get("namespaces", "kube-system"))["metadata"]["uid"]
        legacy_pod = await c.create("pods", pod("legacy-owner", node), NS)
        legacy_uid = legacy_pod["metadata"]["uid"]
        rt = FakeRuntime()
        theirs = await _container(rt, node, "uid-of-another-cluster", "another-cluster")
        theirs_same_uid = await _container(rt, node, legacy_uid, "another-cluster")
        orphan = await _container(rt, node, "uid-of-a-pod-that-is-gone", ours)
        stray_legacy = await _container(rt, node, "uid-unknown-here", None)
        # The adopted one runs the pod's current spec, so the worker keeps it.
        current = spec_hash(legacy_pod["spec"]["containers"][0])
        adopted = await _container(rt, node, legacy_uid, None, current)
        k = make_kubelet(c, rt, tmp_path, node)
        try:
            with caplog.at_level(logging.INFO, logger="kubelet"):
                await k.start()
                await k.wait_ready(10)

                async def settled() -> bool:
                    st = (await c.get("pods", "legacy-owner", NS)).get("status") or {}
                    return st.get("phase") == "Running"

                await wait_for_async(settled, "the legacy container's pod Running")
            left = {i.id for i in await rt.list({LABEL_NODE: node})}
            assert orphan not in left
            assert {theirs, theirs_same_uid, stray_legacy, adopted} <= left
            (cs,) = (await c.get("pods", "legacy-owner", NS))["status"]["containerStatuses"]
            assert cs["containerID"] == f"fake://{adopted}"
            text = caplog.text
            assert text.count("from another cluster") == 1
            assert "adopting container" in text and "older kubelab" in text
        finally:
            await k.stop()
            await c.delete("pods", "legacy-owner", NS, grace_period_seconds=0)
            await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
