"""A pod deleted with a grace period, as Kubernetes reports it (the fake runtime in-process,
a real apiserver and controller manager): while its preStop hook runs, its container still
runs and is ready (kubectl: `1/1 Terminating`); the Endpoints drop it at once and the
EndpointSlice keeps it `terminating`, `serving`, not `ready`, as Kubernetes' tutorial on
the termination flow shows; once the container stopped, the kubelet writes its terminated
state, not ready, Ready and ContainersReady False, before the object goes (a watch sees
that MODIFIED before the DELETED)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api.errors import ApiError
from client import AsyncClient
from kubelet.runtime.fake import FakeRuntime
from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.harness import ApiServer
from tests.integration.test_kubelet_fake import NS, make_kubelet, pod, run
from tests.wait import wait_for_async

PRE_STOP = 6  # seconds the preStop hook sleeps: the window in which the pod is stopping


def _slow_stopper(name: str, node: str) -> dict[str, Any]:
    p = pod(name, node, meta={"labels": {"app": name}})
    p["spec"]["terminationGracePeriodSeconds"] = 20
    p["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": PRE_STOP}}}
    return p


def _conditions(p: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}


async def _addresses(c: AsyncClient, name: str) -> tuple[list[str], list[str]]:
    """The ready and not-ready addresses of the Endpoints ``name``."""
    try:
        ep = await c.get("endpoints", name, NS)
    except ApiError:
        return [], []
    subsets = ep.get("subsets") or []
    ready = [a["ip"] for s in subsets for a in s.get("addresses") or []]
    not_ready = [a["ip"] for s in subsets for a in s.get("notReadyAddresses") or []]
    return ready, not_ready


def test_a_pod_being_deleted_is_not_ready_while_it_stops(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    name = "graceful"
    with Cluster.on(shared_apiserver) as cl:
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)

        async def scenario() -> None:
            c = shared_apiserver.async_client()
            k = make_kubelet(c, FakeRuntime(), tmp_path, "grace1")
            try:
                await k.start()
                await k.wait_ready(10)
                service = {
                    "metadata": {"name": name},
                    "spec": {
                        "selector": {"app": name},
                        "ports": [{"port": 80, "targetPort": 8080}],
                    },
                }
                await c.create("services", service, NS)
                await c.create("pods", _slow_stopper(name, "grace1"), NS)

                async def served() -> bool:
                    return bool((await _addresses(c, name))[0])

                await wait_for_async(served, "the running pod is a ready endpoint", 20)
                running = await c.get("pods", name, NS)
                events: list[dict[str, Any]] = []

                async def follow() -> None:
                    rv = running["metadata"]["resourceVersion"]
                    async for ev in c.watch(
                        "pods", NS, resource_version=rv, field_selector=f"metadata.name={name}"
                    ):
                        if ev["type"] != "BOOKMARK":
                            events.append(ev)
                        if ev["type"] == "DELETED":
                            return

                watching = asyncio.create_task(follow())
                await c.delete("pods", name, NS)

                async def dropped() -> bool:
                    ready, not_ready = await _addresses(c, name)
                    return not ready and not not_ready

                await wait_for_async(dropped, "the Endpoints drop the deleted pod", PRE_STOP)
                p = await c.get("pods", name, NS)
                assert p["metadata"].get("deletionTimestamp")  # still there: preStop runs
                assert _conditions(p)["Ready"] == "True"
                (cs,) = p["status"]["containerStatuses"]
                assert cs["ready"] is True and "running" in cs["state"], cs

                async def slice_conditions() -> list[dict[str, Any]] | None:
                    slices = (
                        await c.list(
                            "endpointslices",
                            NS,
                            label_selector=f"kubernetes.io/service-name={name}",
                        )
                    )["items"]
                    conds = [e["conditions"] for s in slices for e in s.get("endpoints") or []]
                    return conds if conds and conds[0].get("terminating") else None

                conds = await wait_for_async(slice_conditions, "the slice says terminating", 5)
                assert conds == [{"ready": False, "serving": True, "terminating": True}], conds

                await asyncio.wait_for(watching, PRE_STOP + 15)
                assert events[-1]["type"] == "DELETED"
                last = events[-2]["object"]
                assert events[-2]["type"] == "MODIFIED"
                assert last["metadata"]["uid"] == p["metadata"]["uid"]
                assert _conditions(last)["Ready"] == "False"
                assert _conditions(last)["ContainersReady"] == "False"
                (cs,) = last["status"]["containerStatuses"]
                assert cs["ready"] is False and "terminated" in cs["state"], cs
                assert last["status"]["phase"] == "Running"  # the object goes next
            finally:
                await k.stop()
                await c.delete("services", name, NS)
                await c.close()

        run(scenario())
