"""Init containers with the fake runtime against a real apiserver: run in order, each to
a zero exit before the next and before the app containers; a failing one is restarted
with backoff (Pending, Init:CrashLoopBackOff) or fails the pod under Never (Init:Error);
`kl get pods` shows Init:N/M; a restarted kubelet does not run them again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from client import AsyncClient
from kubelet.runtime.fake import FakeRuntime
from tests.harness import ApiServer
from tests.integration.kl_helpers import kl
from tests.integration.test_kubelet_fake import NS, make_kubelet, run
from tests.wait import wait_for_async


def init_pod(
    name: str, node: str, inits: list[list[str]], policy: str = "Always"
) -> dict[str, Any]:
    mount = [{"name": "work", "mountPath": "/work"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "nodeName": node,
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "work", "emptyDir": {}}],
            "initContainers": [
                {
                    "name": f"init{i}",
                    "image": "img:1",
                    "command": cmd,
                    "env": [{"name": "STEP", "value": str(i)}],
                    "volumeMounts": mount,
                }
                for i, cmd in enumerate(inits)
            ],
            "containers": [{"name": "app", "image": "img:1", "volumeMounts": mount}],
        },
    }


async def _status(c: AsyncClient, name: str) -> dict[str, Any]:
    return (await c.get("pods", name, NS)).get("status") or {}


def _state(s: dict[str, Any]) -> str:
    return next(iter(s.get("state") or {"none": 1}))


async def kl_status(srv: ApiServer, name: str) -> str:
    """The STATUS column of `kl get pods NAME`."""
    res = await asyncio.to_thread(kl, srv.kubeconfig, "get", "pods", name, "-n", NS)
    lines = res.ok().out.splitlines()
    header = lines[0].split()
    return lines[1].split()[header.index("STATUS")]


def test_init_containers_run_in_order_then_the_app(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "init1")
        try:
            await k.start()
            await k.wait_ready(10)
            # init0 exits 0 at once; init1 sleeps until the test lets it finish.
            spec = init_pod("ordered", "init1", [["sh", "-c", "date > /work/x"], ["sleep", "9"]])
            await c.create("pods", spec, NS)

            async def second_running() -> dict[str, Any]:
                st = await _status(c, "ordered")
                inits = st.get("initContainerStatuses") or []
                ok = [_state(s) for s in inits] == ["terminated", "running"]
                return st if ok else {}

            st = await wait_for_async(second_running, "init0 done, init1 running", 10)
            assert st["phase"] == "Pending"
            assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
            assert st["initContainerStatuses"][0]["ready"] is True
            assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
            init = next(x for x in st["conditions"] if x["type"] == "Initialized")
            assert init["status"] == "False" and "[init1]" in init["message"]
            assert await rt.list({"io.kubelab.container.name": "app"}) == []
            assert await kl_status(shared_apiserver, "ordered") == "Init:1/2"

            (running,) = await rt.list({"io.kubelab.container.name": "init1"})
            assert running.labels["io.kubelab.container.init"] == "true"
            (first,) = await rt.list({"io.kubelab.container.name": "init0"})
            # The same emptyDir and env handling as app containers.
            s0, s1 = rt.spec(first.id), rt.spec(running.id)
            assert s0 is not None and s1 is not None
            assert s0.env["STEP"] == "0" and s1.env["STEP"] == "1"
            assert s0.mounts == s1.mounts and s0.mounts[0].container_path == "/work"
            rt.exit(running.id, 0)

            async def app_running() -> dict[str, Any]:
                st = await _status(c, "ordered")
                return st if st.get("phase") == "Running" else {}

            st = await wait_for_async(app_running, "app Running", 10)
            init = next(x for x in st["conditions"] if x["type"] == "Initialized")
            assert init["status"] == "True"
            (app,) = await rt.list({"io.kubelab.container.name": "app"})
            spec_app = rt.spec(app.id)
            assert spec_app is not None and spec_app.mounts == s0.mounts
            assert "io.kubelab.container.init" not in app.labels
            assert await kl_status(shared_apiserver, "ordered") == "Running"
            before = {i.id for i in await rt.list({"io.kubelab.pod.name": "ordered"})}
        finally:
            await k.stop()
        # A restarted kubelet adopts the app container and does not run init again.
        k2 = make_kubelet(c, rt, tmp_path, "init1")
        try:
            await k2.start()
            await k2.wait_ready(10)
            # A resync or two (resync_period=1): to prove init does not run again.
            await asyncio.sleep(1.5)
            after = {i.id for i in await rt.list({"io.kubelab.pod.name": "ordered"})}
            assert after == before
            st = await _status(c, "ordered")
            assert st["phase"] == "Running"
            assert [s["restartCount"] for s in st["initContainerStatuses"]] == [0, 0]
        finally:
            await k2.stop()
            await c.close()

    run(scenario())


def test_failing_init_container_backs_off_or_fails_the_pod(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "init2", backoff_initial=30.0)
        try:
            await k.start()
            await k.wait_ready(10)
            crash = ["sh", "-c", "exit 1"]
            await c.create("pods", init_pod("crashing", "init2", [crash, ["true"]]), NS)
            await c.create(
                "pods", init_pod("never", "init2", [["sh", "-c", "exit 2"]], "Never"), NS
            )

            async def backing_off() -> dict[str, Any]:
                st = await _status(c, "crashing")
                s = (st.get("initContainerStatuses") or [{}])[0]
                waiting = (s.get("state") or {}).get("waiting") or {}
                return st if waiting.get("reason") == "CrashLoopBackOff" else {}

            # The first restart is immediate, the second waits 30 s.
            st = await wait_for_async(backing_off, "Init:CrashLoopBackOff", 10)
            assert st["phase"] == "Pending"
            first = st["initContainerStatuses"][0]
            assert first["restartCount"] == 1
            assert first["lastState"]["terminated"]["exitCode"] == 1
            assert _state(st["initContainerStatuses"][1]) == "waiting"
            assert await rt.list({"io.kubelab.container.name": "init1"}) == []
            assert await rt.list({"io.kubelab.container.name": "app"}) == []
            assert await kl_status(shared_apiserver, "crashing") == "Init:CrashLoopBackOff"
            evs = await c.list("events", NS, field_selector="involvedObject.name=crashing")
            backoff = [e for e in evs["items"] if e["reason"] == "BackOff"]
            assert backoff
            assert backoff[0]["involvedObject"]["fieldPath"] == "spec.initContainers{init0}"

            async def failed() -> dict[str, Any]:
                st = await _status(c, "never")
                return st if st.get("phase") == "Failed" else {}

            st = await wait_for_async(failed, "Failed under Never", 10)
            term = st["initContainerStatuses"][0]["state"]["terminated"]
            assert term["exitCode"] == 2 and term["reason"] == "Error"
            assert st["initContainerStatuses"][0]["restartCount"] == 0
            assert len(await rt.list({"io.kubelab.pod.name": "never"})) == 1  # not restarted
            assert await kl_status(shared_apiserver, "never") == "Init:Error"
        finally:
            await k.stop()
            await c.close()

    run(scenario())
