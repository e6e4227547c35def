"""The kubelet against the real Docker engine and a real apiserver.

One `kubelab kubelet --runtime docker` subprocess serves the whole module, with short
backoffs and a long resync period (30 s): anything that happens within a few seconds was
driven by Docker events and watches, not by the periodic resync.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests import cluster as builder
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer, Component
from tests.wait import wait_for

pytestmark = pytest.mark.docker

NS = "default"
RESYNC = 30.0


class DockerNode:
    """One Docker-backed kubelet on a real apiserver (started by tests/cluster.py's
    builder), with pod helpers and the Docker client to look at its containers."""

    def __init__(self, srv: ApiServer, node: str, root: Path) -> None:
        import docker

        self.srv = srv
        self.node = node
        self.root = root
        self.cluster = builder.Cluster.on(srv)
        self.api = srv.client()
        self.docker = docker.from_env()
        ensure_busybox_image(self.docker)

    @property
    def kubelet(self) -> Component | None:
        return self.cluster.components.get(f"kubelet/{self.node}")

    def start_kubelet(self) -> None:
        """Start the kubelet (again, after a stop or kill: into a log of its own) and wait
        for its node to be Ready."""
        if self.kubelet is None:
            self.cluster.add_kubelet(
                self.node,
                "--backoff-initial", "2",
                "--backoff-max", "4",
                "--resync-period", str(RESYNC),
                "--lease-renew", "2",
                runtime="docker",
                scheme=None,
                root_dir=self.root,
                fake_gpus="2xH100-80GB",
            )  # fmt: skip
        else:
            self.cluster.start(f"kubelet/{self.node}", new_log=True)
        self.cluster.wait_nodes_ready(self.node, timeout=30)

    def pod(
        self, name: str, script: str, *, policy: str = "Always", grace: int = 2, **container: Any
    ) -> dict[str, Any]:
        c = {"name": "main", "image": IMAGE, "command": ["sh", "-c", script], **container}
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "nodeName": self.node,
                "restartPolicy": policy,
                "terminationGracePeriodSeconds": grace,
                "containers": [c],
            },
        }
        return body

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.create("pods", body, NS)

    def get(self, name: str) -> dict[str, Any]:
        return self.api.get("pods", name, NS)

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def cstatus(self, name: str) -> dict[str, Any]:
        return (self.status(name).get("containerStatuses") or [{}])[0]

    def wait_phase(self, name: str, phase: str, timeout: float = 20) -> dict[str, Any]:
        return wait_for(
            lambda: self.status(name) if self.status(name).get("phase") == phase else None,
            f"{name} {phase}",
            timeout,
        )

    def wait_running_ready(self, name: str, timeout: float = 20) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            st = self.status(name)
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or []
            )
            return st if st.get("phase") == "Running" and ready else None

        return wait_for(ok, f"{name} Running and Ready", timeout)

    def containers(self, pod: str) -> list[Any]:
        """The pod's containers on this node (ones removed while we look are skipped: the
        SDK's own list would fail on them)."""
        import docker.errors

        rows = self.docker.api.containers(
            all=True,
            filters={"label": [f"io.kubelab.pod.name={pod}", f"io.kubelab.node={self.node}"]},
        )
        out = []
        for r in rows:
            try:
                out.append(self.docker.containers.get(r["Id"]))
            except docker.errors.NotFound:
                pass
        return out

    def delete(self, name: str, wait: bool = False) -> None:
        try:
            self.api.delete("pods", name, NS)
        except ApiError:
            return
        if wait:
            self.wait_gone(name)

    def wait_gone(self, name: str, timeout: float = 30) -> None:
        def gone() -> bool:
            try:
                self.get(name)
                return False
            except ApiError as e:
                return e.code == 404

        wait_for(gone, f"{name} deleted", timeout)

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.api.list("events", NS, field_selector=f"involvedObject.name={name}")["items"]


@contextmanager
def running_node(
    api: ApiServer, prefix: str, root: Path, all_pods: bool = False
) -> Iterator[DockerNode]:
    """A docker kubelet for a fresh node name. On exit its pods (or, with ``all_pods``, every
    pod of the namespace), the kubelet and any container left of the node are removed."""
    node = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cl = DockerNode(api, node, root)
    cl.start_kubelet()
    try:
        yield cl
    finally:
        selector = None if all_pods else f"spec.nodeName={node}"
        for p in cl.api.list("pods", NS, field_selector=selector)["items"]:
            cl.delete(p["metadata"]["name"])
        # The kubelet finishes its pods' deletion before it stops (no pod left terminating).
        wait_for(
            lambda: not cl.api.list("pods", NS, field_selector=selector)["items"],
            f"the pods of {node} deleted",
        )
        if cl.kubelet is not None:
            cl.kubelet.stop()
        for c in cl.docker.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            c.remove(force=True)


@pytest.fixture(scope="module")
def cluster(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    # The graceful-termination test mounts a hostPath, which PodSecurity "baseline" forbids.
    shared_apiserver.client().patch(
        "namespaces",
        NS,
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
    )
    root = tmp_path_factory.mktemp("kubelet-root")
    with running_node(shared_apiserver, "dock", root, all_pods=True) as cl:
        yield cl


def test_pod_runs_with_labels_logs_and_published_port(cluster: DockerNode) -> None:
    import httpx

    p = cluster.pod(
        "web",
        "echo hello; echo world; exec httpd -f -p 80 -h /www",
        ports=[{"containerPort": 80, "name": "http"}],
        readinessProbe={"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 1},
    )
    created = cluster.create(p)
    st = cluster.wait_running_ready("web")
    pod = cluster.get("web")
    (c,) = cluster.containers("web")
    labels = c.labels
    assert labels["io.kubelab.pod.uid"] == created["metadata"]["uid"]
    assert labels["io.kubelab.pod.namespace"] == NS
    assert labels["io.kubelab.pod.name"] == "web"
    assert labels["io.kubelab.container.name"] == "main"
    assert len(labels["io.kubelab.container.hash"]) == 12
    cs = st["containerStatuses"][0]
    assert cs["containerID"] == f"docker://{c.id}"
    assert cs["imageID"].startswith("docker://sha256:")
    assert st["hostIP"] == st["podIP"] == "127.0.0.1"
    host_port = json.loads(pod["metadata"]["annotations"]["kubelab.io/host-ports"])["main/80"]
    assert httpx.get(f"http://127.0.0.1:{host_port}/").text == "ok\n"
    assert cluster.api.log("web", NS) == "hello\nworld\n"
    assert cluster.api.log("web", NS, tail_lines=1) == "world\n"
    stamped = cluster.api.log("web", NS, timestamps=True).splitlines()
    assert stamped[0].endswith(" hello") and stamped[0][:4].isdigit()
    env = c.attrs["Config"]["Env"]
    assert "NVIDIA_VISIBLE_DEVICES=void" in env
    cluster.delete("web")


def test_docker_kill_restarts_then_backs_off(cluster: DockerNode) -> None:
    cluster.create(
        cluster.pod("crash", 'echo "run $(cat /proc/sys/kernel/random/uuid)"; exec sleep 3600')
    )
    cluster.wait_phase("crash", "Running")
    first = cluster.cstatus("crash")["containerID"].removeprefix("docker://")
    killed_at = time.monotonic()
    cluster.docker.containers.get(first).kill()

    def restarted() -> dict[str, Any] | None:
        cs = cluster.cstatus("crash")
        return cs if cs.get("restartCount") == 1 and "running" in cs.get("state", {}) else None

    cs = wait_for(restarted, "first restart", 15)
    # Seen through Docker's die event, long before the 30 s resync.
    assert time.monotonic() - killed_at < RESYNC / 3
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["containerID"] != f"docker://{first}"
    previous = cluster.api.log("crash", NS, previous=True)
    current = cluster.api.log("crash", NS)
    assert previous.startswith("run ") and current.startswith("run ") and previous != current

    second = cs["containerID"].removeprefix("docker://")
    cluster.docker.containers.get(second).kill()

    def backing_off() -> dict[str, Any] | None:
        cs = cluster.cstatus("crash")
        waiting = cs.get("state", {}).get("waiting") or {}
        return cs if waiting.get("reason") == "CrashLoopBackOff" else None

    cs = wait_for(backing_off, "CrashLoopBackOff", 10)
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["exitCode"] == 137

    def restarted_twice() -> bool:
        cs = cluster.cstatus("crash")
        return cs.get("restartCount") == 2 and "running" in cs.get("state", {})

    wait_for(restarted_twice, "second restart after the backoff", 15)
    assert any(e["reason"] == "BackOff" for e in cluster.events("crash"))
    # Only the current and the previous instance are kept.
    assert len(cluster.containers("crash")) == 2
    cluster.delete("crash")


def test_liveness_failure_restarts_and_readiness_failure_does_not(cluster: DockerNode) -> None:
    live = cluster.pod(
        "live",
        "mkdir -p /w && echo ok > /w/healthz && httpd -p 80 -h /w && sleep 3 && rm /w/healthz; exec sleep 3600",
        ports=[{"containerPort": 80}],
        livenessProbe={
            "httpGet": {"port": 80, "path": "/healthz"},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    )
    ready = cluster.pod(
        "unready",
        "exec httpd -f -p 80 -h /www",
        ports=[{"containerPort": 80}],
        readinessProbe={"httpGet": {"port": 80, "path": "/missing"}, "periodSeconds": 1},
        livenessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 1},
    )
    cluster.create(live)
    cluster.create(ready)
    cluster.wait_running_ready("live")

    def restarted() -> bool:
        return cluster.cstatus("live").get("restartCount", 0) >= 1

    wait_for(restarted, "liveness restart")
    reasons = [(e["reason"], e["message"]) for e in cluster.events("live")]
    assert any(r == "Unhealthy" and "Liveness probe failed" in m for r, m in reasons), reasons
    assert any(r == "Killing" and "failed liveness probe" in m for r, m in reasons), reasons

    st = cluster.wait_phase("unready", "Running")
    time.sleep(3)  # readiness probes fail all along: to prove it stays unready, not restarted
    st = cluster.status("unready")
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds["Ready"] == "False" and conds["ContainersReady"] == "False"
    cs = st["containerStatuses"][0]
    assert cs["ready"] is False and cs["restartCount"] == 0 and "running" in cs["state"]
    assert any(
        e["reason"] == "Unhealthy" and "Readiness" in e["message"]
        for e in cluster.events("unready")
    )
    cluster.delete("live")
    cluster.delete("unready")


def test_exit_codes_and_restart_policies(cluster: DockerNode) -> None:
    cluster.create(cluster.pod("fail-never", "echo bye; exit 3", policy="Never"))
    cluster.create(cluster.pod("ok-onfailure", "exit 0", policy="OnFailure"))
    flaky = cluster.pod(
        "flaky-onfailure",
        "if [ -f /state/ran ]; then exit 0; fi; touch /state/ran; exit 1",
        policy="OnFailure",
        volumeMounts=[{"name": "state", "mountPath": "/state"}],
    )
    flaky["spec"]["volumes"] = [{"name": "state", "emptyDir": {}}]
    cluster.create(flaky)
    cluster.create(cluster.pod("bad-cmd", "exit 0", policy="Never", command=["/nonexistent"]))

    st = cluster.wait_phase("fail-never", "Failed")
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    assert st["containerStatuses"][0]["restartCount"] == 0
    assert cluster.api.log("fail-never", NS) == "bye\n"

    st = cluster.wait_phase("ok-onfailure", "Succeeded")
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"

    st = cluster.wait_phase("flaky-onfailure", "Succeeded", timeout=30)
    cs = st["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 1

    st = cluster.wait_phase("bad-cmd", "Failed")
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] != 0 and "nonexistent" in term.get("message", "")
    for n in ("fail-never", "ok-onfailure", "flaky-onfailure", "bad-cmd"):
        cluster.delete(n)


def test_graceful_termination(cluster: DockerNode, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    polite = cluster.pod(
        "polite",
        "trap 'echo term > /out/polite; exit 0' TERM; while true; do sleep 0.1; done",
        grace=20,
        volumeMounts=[{"name": "out", "mountPath": "/out"}],
    )
    polite["spec"]["volumes"] = [{"name": "out", "hostPath": {"path": str(out)}}]
    stubborn = cluster.pod("stubborn", "trap '' TERM; while true; do sleep 0.1; done", grace=3)
    cluster.create(polite)
    cluster.create(stubborn)
    cluster.wait_phase("polite", "Running")
    cluster.wait_phase("stubborn", "Running")

    t0 = time.monotonic()
    cluster.delete("polite")
    cluster.wait_gone("polite")
    polite_took = time.monotonic() - t0
    assert (out / "polite").read_text() == "term\n"  # it got SIGTERM and ran its handler
    assert polite_took < 15  # and did not wait out its 20 s grace period

    t0 = time.monotonic()
    cluster.delete("stubborn")
    cluster.wait_gone("stubborn")
    stubborn_took = time.monotonic() - t0
    assert stubborn_took >= 3  # given its whole grace period, then killed
    assert cluster.containers("polite") == [] and cluster.containers("stubborn") == []
    assert any(e["reason"] == "Killing" for e in cluster.events("stubborn"))


def test_env_configmap_secret_and_volume(cluster: DockerNode) -> None:
    cluster.api.create(
        "configmaps",
        {"metadata": {"name": "appcfg"}, "data": {"MODE": "fast", "app.conf": "port=80"}},
        NS,
    )
    cluster.api.create(
        "secrets", {"metadata": {"name": "appsecret"}, "stringData": {"PASSWORD": "s3cret"}}, NS
    )
    p = cluster.pod(
        "envpod",
        'echo "MODE=$MODE PW=$PW FROM_CM=$CM_MODE"; cat /etc/cfg/app.conf; echo; '
        "ls -l /etc/secret/PASSWORD; exec sleep 3600",
        env=[
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "appcfg", "key": "MODE"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "appsecret", "key": "PASSWORD"}}},
        ],
        envFrom=[{"configMapRef": {"name": "appcfg"}, "prefix": "CM_"}],
        volumeMounts=[
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "sec", "mountPath": "/etc/secret"},
        ],
    )
    p["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "appcfg"}},
        {"name": "sec", "secret": {"secretName": "appsecret"}},
    ]
    cluster.create(p)
    cluster.wait_phase("envpod", "Running")
    log = wait_for(
        lambda: cluster.api.log("envpod", NS) if "-r--" in cluster.api.log("envpod", NS) else None,
        "log",
        10,
    )
    lines = log.splitlines()
    assert lines[0] == "MODE=fast PW=s3cret FROM_CM=fast"
    assert lines[1] == "port=80"
    assert lines[2].startswith("-r--------")  # secret files are 0400
    cluster.delete("envpod")


def test_cpu_and_memory_limits_in_docker(cluster: DockerNode) -> None:
    cluster.create(
        cluster.pod(
            "limited", "exec sleep 3600", resources={"limits": {"cpu": "250m", "memory": "64Mi"}}
        )
    )
    cluster.wait_phase("limited", "Running")
    (c,) = cluster.containers("limited")
    host = c.attrs["HostConfig"]
    assert host["NanoCpus"] == 250_000_000
    assert host["Memory"] == 64 * 1024 * 1024
    assert cluster.status("limited")["qosClass"] == "Guaranteed"
    cluster.delete("limited")


def test_missing_image_err_image_pull_then_backoff(cluster: DockerNode) -> None:
    image = "kubelab-test/does-not-exist:1"
    cluster.create(cluster.pod("noimage", "true", image=image))
    seen: dict[str, str] = {}

    def both() -> bool:
        waiting = cluster.cstatus("noimage").get("state", {}).get("waiting") or {}
        if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
            seen[waiting["reason"]] = waiting.get("message", "")
        return len(seen) == 2

    wait_for(both, "ErrImagePull and ImagePullBackOff")
    assert all(image in m for m in seen.values()), seen
    assert cluster.status("noimage")["phase"] == "Pending"
    reasons = {e["reason"] for e in cluster.events("noimage")}
    assert {"Pulling", "Failed"} <= reasons
    cluster.delete("noimage")


def test_simulated_gpus_visible_devices(cluster: DockerNode) -> None:
    gpus = [g["uuid"] for g in cluster.api.get("nodes", cluster.node)["status"]["gpus"]]
    assert len(gpus) == 2
    p = cluster.pod("gpujob", 'echo "$NVIDIA_VISIBLE_DEVICES"; exec sleep 3600')
    p["metadata"]["annotations"] = {"kubelab.io/gpu-uuids": gpus[1]}
    cluster.create(p)
    cluster.wait_phase("gpujob", "Running")
    assert wait_for(lambda: cluster.api.log("gpujob", NS), "log", 10) == f"{gpus[1]}\n"
    (c,) = cluster.containers("gpujob")
    assert not c.attrs["HostConfig"].get("DeviceRequests")  # simulated: no device request
    cluster.delete("gpujob")


def test_kubelet_kill9_restart_adopts_and_cleans_up(cluster: DockerNode) -> None:
    cluster.create(cluster.pod("survivor", "exec sleep 3600"))
    cluster.create(cluster.pod("doomed", "exec sleep 3600"))
    cluster.wait_phase("survivor", "Running")
    cluster.wait_phase("doomed", "Running")
    before = {c.id for c in cluster.containers("survivor")}
    doomed_ids = [c.id for c in cluster.containers("doomed")]
    assert cluster.kubelet is not None
    cluster.kubelet.kill()
    cluster.api.delete("pods", "doomed", NS, grace_period_seconds=0)
    cluster.start_kubelet()

    def doomed_removed() -> bool:
        return not any(r["Id"] in doomed_ids for r in cluster.docker.api.containers(all=True))

    wait_for(doomed_removed, "orphan container removed", 20)
    time.sleep(2)  # to prove the adopted survivor is neither restarted nor replaced
    after = {c.id for c in cluster.containers("survivor")}
    assert after == before
    cs = cluster.cstatus("survivor")
    assert cs["restartCount"] == 0 and "running" in cs["state"]
    assert cs["containerID"] == f"docker://{next(iter(before))}"
    # The adopted pod is still fully managed: its log works and deletion completes.
    assert cluster.api.log("survivor", NS) == ""
    cluster.delete("survivor", wait=True)
    assert cluster.containers("survivor") == []


def test_follow_logs_and_exec_through_the_api(cluster: DockerNode) -> None:
    cluster.create(
        cluster.pod("ticker", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done")
    )
    cluster.wait_phase("ticker", "Running")
    lines = []
    for line in cluster.api.stream_log("ticker", NS):
        lines.append(line.rstrip("\n"))
        if len(lines) == 4:
            break
    assert lines == ["tick 0", "tick 1", "tick 2", "tick 3"]
    r = cluster.api.request(
        "POST",
        f"/api/v1/namespaces/{NS}/pods/ticker/exec",
        json={"command": ["sh", "-c", "echo out; echo err >&2; exit 7"]},
    )
    body = r.json()
    assert (body["stdout"], body["stderr"], body["exitCode"]) == ("out\n", "err\n", 7)
    cluster.delete("ticker")


# The old name, for tests/e2e/test_kubelet_pods_docker.py, which still imports it.
Cluster = DockerNode
