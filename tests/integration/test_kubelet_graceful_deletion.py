"""A pod deleted with a grace period reports that it is stopping before its object goes
(the fake runtime in-process, a real apiserver and controller manager): once the kubelet
starts stopping it, its containers are not ready and Ready/ContainersReady are False while
the object still exists with its deletionTimestamp; the Endpoints controller drops it from
the Service meanwhile, and the EndpointSlice keeps it as terminating, not ready."""

from __future__ import annotations

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
                await c.delete("pods", name, NS)

                async def stopping() -> dict[str, Any] | None:
                    p = await c.get("pods", name, NS)
                    return p if _conditions(p).get("Ready") == "False" else None

                p = await wait_for_async(stopping, "Ready=False while the pod stops", PRE_STOP)
                assert p["metadata"].get("deletionTimestamp")
                assert _conditions(p)["ContainersReady"] == "False"
                (cs,) = p["status"]["containerStatuses"]
                assert cs["ready"] is False and "running" in cs["state"], cs
                assert p["status"]["phase"] == "Running"

                async def dropped() -> bool:
                    ready, not_ready = await _addresses(c, name)
                    return not ready and not not_ready

                await wait_for_async(dropped, "the Endpoints drop the stopping pod", PRE_STOP)
                slices = (
                    await c.list(
                        "endpointslices",
                        NS,
                        label_selector=f"kubernetes.io/service-name={name}",
                    )
                )["items"]
                conds = [e["conditions"] for s in slices for e in s.get("endpoints") or []]
                assert conds == [{"ready": False, "serving": False, "terminating": True}], conds
                # All of this happened while the object still existed.
                still = await c.get("pods", name, NS)
                assert still["metadata"]["uid"] == p["metadata"]["uid"]

                async def gone() -> bool:
                    try:
                        await c.get("pods", name, NS)
                    except ApiError as e:
                        return e.code == 404
                    return False

                await wait_for_async(gone, "the pod goes once its container stopped", 20)
            finally:
                await k.stop()
                await c.delete("services", name, NS)
                await c.close()

        run(scenario())
