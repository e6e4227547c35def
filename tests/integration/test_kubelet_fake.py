"""The kubelet with the fake runtime against a real apiserver: registration, heartbeat,
pod lifecycle, restart policies, backoff, image pull errors, deletion, adoption after a
kubelet restart, and hollow nodes with the log proxy.

The kubelet runs in-process (so tests can make fake containers exit); `--hollow` runs as
a real `kubelab kubelet` subprocess.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from api.errors import ApiError
from client import AsyncClient
from kubelet.agent import NodeKubelet
from kubelet.context import KubeletConfig
from kubelet.gpu import discover_gpus
from kubelet.node import NodeFacts
from kubelet.runtime.fake import FakeRuntime
from tests.cluster import Cluster
from tests.harness import ApiServer
from tests.wait import wait_for, wait_for_async

NS = "default"


def pod(
    name: str, node: str, policy: str = "Always", image: str = "img:1", **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, **extra.pop("meta", {})},
        "spec": {
            "nodeName": node,
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": image, "ports": [{"containerPort": 8080}]}],
            **extra,
        },
    }


def make_kubelet(
    client: AsyncClient, runtime: FakeRuntime, root: Path, name: str = "fake1", **cfg: Any
) -> NodeKubelet:
    config = KubeletConfig(
        node_name=name,
        address="127.0.0.1",
        root_dir=root / name,
        backoff_initial=cfg.pop("backoff_initial", 30.0),
        backoff_max=60.0,
        resync_period=1.0,
        lease_renew=cfg.pop("lease_renew", 0.2),
        **cfg,
    )
    facts = NodeFacts(
        name=name,
        address="127.0.0.1",
        kubelet_port=10250,
        scheme="https",
        runtime_version="fake://0.1.0",
        hollow=True,
    )
    return NodeKubelet(config, client, runtime, facts, lambda: discover_gpus("2xH100-80GB", name))


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def _status(c: AsyncClient, name: str) -> dict[str, Any]:
    return (await c.get("pods", name, NS)).get("status") or {}


async def _cstatus(c: AsyncClient, name: str) -> dict[str, Any]:
    statuses = (await _status(c, name)).get("containerStatuses") or [{}]
    return statuses[0]


def test_node_registration_lease_and_pod_lifecycle(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "reg1")
        try:
            await k.start()
            await k.wait_ready(10)
            node = await c.get("nodes", "reg1")
            assert node["metadata"]["labels"]["nvidia.com/gpu.count"] == "2"
            assert node["status"]["capacity"]["nvidia.com/gpu"] == "2"
            assert len(node["status"]["gpus"]) == 2
            assert len(node["status"]["nodeInfo"]) == 10
            lease = await c.get("leases", "reg1", "kube-node-lease")
            assert lease["spec"]["holderIdentity"] == "reg1"
            assert lease["spec"]["leaseDurationSeconds"] == 40
            first = lease["spec"]["renewTime"]

            async def renewed() -> bool:
                lease = await c.get("leases", "reg1", "kube-node-lease")
                return bool(lease["spec"]["renewTime"] != first)

            await wait_for_async(renewed, "lease renewal", 5)

            await c.create("pods", pod("life", "reg1"), NS)

            async def running() -> bool:
                return (await _status(c, "life")).get("phase") == "Running"

            await wait_for_async(running, "Running", 10)
            p = await c.get("pods", "life", NS)
            ports = json.loads(p["metadata"]["annotations"]["kubelab.io/host-ports"])
            assert set(ports) == {"main/8080"}
            cs = p["status"]["containerStatuses"][0]
            assert (
                cs["ready"] and cs["restartCount"] == 0 and cs["containerID"].startswith("fake://")
            )
            (cid,) = [x.id for x in await rt.list({"io.kubelab.pod.name": "life"})]
            spec = rt.spec(cid)
            assert spec is not None and spec.env["NVIDIA_VISIBLE_DEVICES"] == "void"

            async def events() -> set[str]:
                evs = await c.list("events", NS, field_selector="involvedObject.name=life")
                reasons = {e["reason"] for e in evs["items"]}
                return reasons if {"Pulling", "Pulled", "Created", "Started"} <= reasons else set()

            await wait_for_async(events, "events", 5)

            await c.delete("pods", "life", NS)

            async def gone() -> bool:
                try:
                    await c.get("pods", "life", NS)
                    return False
                except ApiError as e:
                    return e.code == 404

            await wait_for_async(gone, "pod deleted", 10)
            assert await rt.list({"io.kubelab.pod.name": "life"}) == []
            assert not (tmp_path / "reg1" / "pods" / p["metadata"]["uid"]).exists()
        finally:
            await k.stop()
            await c.close()

    run(scenario())


def test_restart_policies_and_crash_loop_backoff(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "rp1", backoff_initial=30.0)
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create("pods", pod("always", "rp1"), NS)
            await c.create("pods", pod("never", "rp1", "Never"), NS)
            await c.create("pods", pod("onfail", "rp1", "OnFailure"), NS)
            await c.create("pods", pod("done", "rp1", "OnFailure"), NS)

            async def all_running() -> bool:
                phases = [
                    (await _status(c, n)).get("phase")
                    for n in ("always", "never", "onfail", "done")
                ]
                return phases == ["Running"] * 4

            await wait_for_async(all_running, "all Running", 10)

            async def cid(name: str) -> str:
                infos = [i for i in await rt.list({"io.kubelab.pod.name": name}) if i.running]
                return infos[0].id if infos else ""

            # Always: the first crash restarts at once; the second waits (CrashLoopBackOff).
            rt.exit(await cid("always"), 1)

            async def restarted_once() -> bool:
                cs = await _cstatus(c, "always")
                return cs.get("restartCount") == 1 and "running" in cs.get("state", {})

            await wait_for_async(restarted_once, "first restart", 10)
            cs = await _cstatus(c, "always")
            assert cs["lastState"]["terminated"]["exitCode"] == 1
            rt.exit(await cid("always"), 2)

            async def backing_off() -> dict[str, Any]:
                cs = await _cstatus(c, "always")
                waiting = cs.get("state", {}).get("waiting") or {}
                return cs if waiting.get("reason") == "CrashLoopBackOff" else {}

            cs = await wait_for_async(backing_off, "CrashLoopBackOff", 10)
            assert "back-off 30s" in cs["state"]["waiting"]["message"]
            assert cs["lastState"]["terminated"]["exitCode"] == 2
            assert cs["restartCount"] == 1

            # Never: a failure is final.
            rt.exit(await cid("never"), 3)

            async def failed() -> dict[str, Any]:
                st = await _status(c, "never")
                return st if st.get("phase") == "Failed" else {}

            st = await wait_for_async(failed, "Failed", 10)
            term = st["containerStatuses"][0]["state"]["terminated"]
            assert term["exitCode"] == 3 and term["reason"] == "Error"

            # OnFailure: a failure restarts, a success finishes.
            rt.exit(await cid("onfail"), 1)

            async def onfail_restarted() -> bool:
                return (await _cstatus(c, "onfail")).get("restartCount") == 1

            await wait_for_async(onfail_restarted, "OnFailure restart", 10)
            rt.exit(await cid("done"), 0)

            async def succeeded() -> bool:
                return (await _status(c, "done")).get("phase") == "Succeeded"

            await wait_for_async(succeeded, "Succeeded", 10)
            assert (await _cstatus(c, "done"))["state"]["terminated"]["reason"] == "Completed"
            assert len(await rt.list({"io.kubelab.pod.name": "done"})) == 1  # not restarted

            async def backoff_event() -> bool:
                evs = await c.list("events", NS, field_selector="involvedObject.name=always")
                return any(e["reason"] == "BackOff" for e in evs["items"])

            await wait_for_async(backoff_event, "BackOff event", 5)
        finally:
            await k.stop()
            await c.close()

    run(scenario())


def test_image_pull_errors_and_env_config_errors(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()
        k = make_kubelet(c, rt, tmp_path, "img1", backoff_initial=0.5)
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create("pods", pod("noimg", "img1", image="example/does-not-exist:1"), NS)
            seen: set[str] = set()

            async def both_reasons() -> bool:
                waiting = (await _cstatus(c, "noimg")).get("state", {}).get("waiting") or {}
                if waiting.get("reason"):
                    seen.add(waiting["reason"])
                    assert "example/does-not-exist:1" in waiting.get("message", "")
                return {"ErrImagePull", "ImagePullBackOff"} <= seen

            await wait_for_async(both_reasons, "ErrImagePull then ImagePullBackOff", 15)
            assert (await _status(c, "noimg"))["phase"] == "Pending"

            spec = pod("needcm", "img1")
            spec["spec"]["containers"][0]["env"] = [
                {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}
            ]
            await c.create("pods", spec, NS)

            async def config_error() -> bool:
                waiting = (await _cstatus(c, "needcm")).get("state", {}).get("waiting") or {}
                return waiting.get("reason") == "CreateContainerConfigError"

            await wait_for_async(config_error, "CreateContainerConfigError", 10)
            await c.create("configmaps", {"metadata": {"name": "later"}, "data": {"x": "42"}}, NS)

            async def runs_now() -> bool:
                return (await _status(c, "needcm")).get("phase") == "Running"

            await wait_for_async(runs_now, "Running once the ConfigMap exists", 15)
            (info,) = await rt.list({"io.kubelab.pod.name": "needcm"})
            spec_used = rt.spec(info.id)
            assert spec_used is not None and spec_used.env["X"] == "42"
        finally:
            await k.stop()
            await c.close()

    run(scenario())


def test_kubelet_restart_adopts_containers_and_removes_orphans(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        c = shared_apiserver.async_client()
        rt = FakeRuntime()  # the "engine" outlives the kubelet, like dockerd does
        k = make_kubelet(c, rt, tmp_path, "adopt1")
        try:
            await k.start()
            await k.wait_ready(10)
            await c.create("pods", pod("keep", "adopt1"), NS)
            await c.create("pods", pod("drop", "adopt1"), NS)

            async def both_running() -> bool:
                return all(
                    [(await _status(c, n)).get("phase") == "Running" for n in ("keep", "drop")]
                )

            await wait_for_async(both_running, "Running", 10)
            before = {i.id for i in await rt.list({"io.kubelab.pod.name": "keep"})}
            keep_rv = (await c.get("pods", "keep", NS))["metadata"]["resourceVersion"]
        finally:
            await k.stop()
        # While the kubelet is down, "drop" is force-deleted.
        await c.delete("pods", "drop", NS, grace_period_seconds=0)
        k2 = make_kubelet(c, rt, tmp_path, "adopt1")
        try:
            await k2.start()
            await k2.wait_ready(10)
            assert await rt.list({"io.kubelab.pod.name": "drop"}) == []
            # A resync or two (resync_period=1): to prove the adopted containers are kept.
            await asyncio.sleep(1.5)
            after = {i.id for i in await rt.list({"io.kubelab.pod.name": "keep"})}
            assert after == before
            p = await c.get("pods", "keep", NS)
            assert p["status"]["containerStatuses"][0]["restartCount"] == 0
            # Nothing changed, so nothing was written.
            assert p["metadata"]["resourceVersion"] == keep_rv
        finally:
            await k2.stop()
            await c.close()

    run(scenario())


def test_hollow_nodes_and_log_proxy(shared_apiserver: ApiServer) -> None:
    kubelet = Cluster.on(shared_apiserver).add_kubelet(
        "hollow",
        "--capacity-cpu",
        "64",
        "--capacity-memory",
        "512Gi",
        scheme=None,
        fake_gpus="4",
        hollow=3,
    )
    c = shared_apiserver.client()
    try:

        def three_hollow() -> list[str] | None:
            # A kubelet creates its Node, then writes its status (the apiserver drops status
            # on create): wait for both, or a node read in between has none.
            names = sorted(
                n["metadata"]["name"]
                for n in c.list("nodes")["items"]
                if n["metadata"]["name"].startswith("hollow-")
                and (n.get("status") or {}).get("gpus")
            )
            return names if len(names) == 3 else None

        names = wait_for(three_hollow, "three hollow nodes", 20, diagnostics=kubelet.tail)
        assert names == ["hollow-0", "hollow-1", "hollow-2"], kubelet.log()
        node = c.get("nodes", "hollow-1")
        assert node["status"]["capacity"]["cpu"] == "64"
        assert node["status"]["capacity"]["nvidia.com/gpu"] == "4"
        gpu_uuids = {g["uuid"] for n in names for g in c.get("nodes", n)["status"]["gpus"]}
        assert len(gpu_uuids) == 12
        c.create("pods", pod("hp", "hollow-2"), NS)
        wait_for(
            lambda: (c.get("pods", "hp", NS).get("status") or {}).get("phase") == "Running",
            "pod hp Running",
            10,
        )
        assert c.get("pods", "hp", NS)["status"]["phase"] == "Running"
        text = c.log("hp", NS)
        assert "fake runtime" in text
        c.delete("pods", "hp", NS)
    finally:
        kubelet.stop()
        assert kubelet.proc is not None and kubelet.proc.returncode == 0, kubelet.log()


def test_log_server_refuses_requests_without_the_secret(shared_apiserver: ApiServer) -> None:
    import httpx

    kubelet = Cluster.on(shared_apiserver).add_kubelet("sec1")
    c = shared_apiserver.client()
    try:
        port = wait_for(
            lambda: c.get("nodes", "sec1")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
            "node sec1 with its kubelet port",
            20,
        )
        assert port
        assert (
            c.get("nodes", "sec1")["metadata"]["annotations"]["kubelab.io/kubelet-scheme"] == "http"
        )
        url = f"http://127.0.0.1:{port}/containerLogs/{NS}/x/y"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        secret = (shared_apiserver.home / "kubelet-secret").read_text().strip()
        r = httpx.get(url, headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 404 and r.json()["kind"] == "Status"
    finally:
        kubelet.stop()


def test_unreachable_docker_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    import subprocess

    from tests.harness import kubelab_cmd

    proc = subprocess.run(
        kubelab_cmd(
            "kubelet",
            "--docker-host",
            f"unix://{tmp_path}/no-docker.sock",
            "--home",
            str(tmp_path),
            "--port",
            "0",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "cannot reach the Docker engine" in lines[0] and "--runtime fake" in lines[0]
