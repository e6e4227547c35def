"""What a lab user hits in the first hour, against the real Docker engine: two clusters on
one engine keep their own containers, ConfigMap and Secret volumes are read-only yet
refreshed, a pod's hostname is its name, and hostNetwork puts it on the node's network.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.e2e.test_kubelet_docker import NS, DockerNode, running_node
from tests.harness import ApiServer, Component, free_port, start_apiserver
from tests.wait import wait_for

pytestmark = pytest.mark.docker


class _KubeletArgs:
    """An ApiServer whose kubelets get extra flags (here: a short volume refresh period),
    so the shared ``running_node()`` set-up serves this module unchanged."""

    def __init__(self, srv: ApiServer, *extra: str) -> None:
        self._srv = srv
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._srv, name)

    def component_proc(self, name: str, *args: str) -> Component:
        return self._srv.component_proc(name, *args, *self._extra)


def _privileged(srv: ApiServer) -> None:
    # hostNetwork is a host namespace: PodSecurity "baseline" refuses it elsewhere.
    srv.client().patch(
        "namespaces",
        NS,
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
    )


@pytest.fixture(scope="module")
def node(
    shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerNode]:
    _privileged(shared_apiserver)
    srv = cast(ApiServer, _KubeletArgs(shared_apiserver, "--volume-refresh-period", "1"))
    with running_node(srv, "pods", tmp_path_factory.mktemp("kubelet-root")) as cl:
        yield cl


def _logs(cl: DockerNode, pod: str) -> str:
    (c,) = cl.containers(pod)
    return str(c.logs().decode(errors="replace"))


def _exec(cl: DockerNode, pod: str, *cmd: str) -> str:
    (c,) = cl.containers(pod)
    return str(c.exec_run(list(cmd)).output.decode(errors="replace"))


def test_configmap_and_secret_volumes_are_read_only_and_still_refreshed(node: DockerNode) -> None:
    api = node.api
    api.create(
        "configmaps",
        {"metadata": {"name": "ro-cm"}, "data": {"greeting": "one"}},
        NS,
    )
    api.create(
        "secrets",
        {"metadata": {"name": "ro-sec"}, "data": {"token": base64.b64encode(b"s1").decode()}},
        NS,
    )
    body = node.pod(
        "ro-vols",
        "exec 2>&1; echo x > /cfg/greeting; echo cfg-rc=$?; touch /sec/new; echo sec-rc=$?; "
        "echo y > /sub-greeting; echo sub-rc=$?; exec sleep 3600",
        volumeMounts=[
            {"name": "cfg", "mountPath": "/cfg"},
            {"name": "sec", "mountPath": "/sec"},
            {"name": "cfg", "mountPath": "/sub-greeting", "subPath": "greeting"},
        ],
    )
    body["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "ro-cm"}},
        {"name": "sec", "secret": {"secretName": "ro-sec"}},
    ]
    node.create(body)
    node.wait_phase("ro-vols", "Running")
    out = wait_for(
        lambda: (lambda s: s if "sub-rc=" in s else None)(_logs(node, "ro-vols")),
        "the write attempts logged",
    )
    assert "Read-only file system" in out
    assert "cfg-rc=1" in out and "sec-rc=1" in out and "sub-rc=1" in out, out
    assert _exec(node, "ro-vols", "cat", "/cfg/greeting") == "one"
    (c,) = node.containers("ro-vols")
    volumes = [
        m
        for m in c.attrs["Mounts"]
        if m["Destination"] not in ("/dev/termination-log", "/etc/resolv.conf")
    ]
    assert len(volumes) == 3 and not any(m["RW"] for m in volumes), volumes
    # The kubelet refreshes from the host side (atomic replace), read-only or not.
    api.patch("configmaps", "ro-cm", {"data": {"greeting": "two"}}, NS)
    wait_for(
        lambda: _exec(node, "ro-vols", "cat", "/cfg/greeting") == "two",
        "the refreshed ConfigMap inside the container",
    )
    node.delete("ro-vols", wait=True)


def test_pod_hostname_is_its_name_and_subdomain_gives_the_fqdn(node: DockerNode) -> None:
    plain = node.pod("host-plain", "hostname; exec sleep 3600")
    named = node.pod("host-named", "hostname; exec sleep 3600")
    named["spec"]["hostname"] = "web-0"
    named["spec"]["subdomain"] = "grp"
    node.create(plain)
    node.create(named)
    for name in ("host-plain", "host-named"):
        node.wait_phase(name, "Running")
    wait_for(lambda: _logs(node, "host-plain").strip() == "host-plain", "hostname = pod name")
    wait_for(lambda: _logs(node, "host-named").strip() == "web-0", "hostname = spec.hostname")
    hosts = _exec(node, "host-named", "cat", "/etc/hosts")
    assert "web-0.grp.default.svc.cluster.local" in hosts, hosts
    for name in ("host-plain", "host-named"):
        node.delete(name, wait=True)


def test_host_network_pid_and_ipc_pod_is_on_the_nodes_namespaces(node: DockerNode) -> None:
    import httpx

    port = free_port()
    body = node.pod(
        "hostnet",
        f"exec httpd -f -p {port} -h /www",
        ports=[{"containerPort": port}],
        readinessProbe={"httpGet": {"port": port, "path": "/"}, "periodSeconds": 1},
    )
    body["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True)
    node.create(body)
    st = node.wait_running_ready("hostnet")
    (c,) = node.containers("hostnet")
    assert c.attrs["HostConfig"]["NetworkMode"] == "host"
    assert c.attrs["HostConfig"]["PidMode"] == "host" == c.attrs["HostConfig"]["IpcMode"]
    # In the node's PID namespace, PID 1 is the node's init, not the container's httpd.
    assert _exec(node, "hostnet", "cat", "/proc/1/comm").strip() != "httpd"
    assert not c.attrs["HostConfig"].get("PortBindings")
    assert st["podIP"] == st["hostIP"] == "127.0.0.1"
    ann = node.get("hostnet")["metadata"]["annotations"]["kubelab.io/host-ports"]
    assert ann == f'{{"main/{port}":{port}}}'
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok\n"
    node.delete("hostnet", wait=True)


def test_security_context_and_host_aliases_reach_the_container(node: DockerNode) -> None:
    node.api.create(
        "secrets",
        {"metadata": {"name": "fs-sec"}, "data": {"token": base64.b64encode(b"s3").decode()}},
        NS,
    )
    body = node.pod(
        "secure",
        "exec 2>&1; id -u; id -G; touch /rootfs-write; echo rootfs-rc=$?; cat /sec/token; echo; "
        "touch /scratch/f; echo scratch-rc=$?; exec sleep 3600",
        securityContext={
            "runAsUser": 1234,
            "runAsGroup": 2345,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        volumeMounts=[
            {"name": "sec", "mountPath": "/sec"},
            {"name": "scratch", "mountPath": "/scratch"},
        ],
    )
    body["spec"]["securityContext"] = {"supplementalGroups": [777], "fsGroup": 888}
    body["spec"]["hostAliases"] = [{"ip": "10.9.8.7", "hostnames": ["db.lab"]}]
    body["spec"]["volumes"] = [
        {"name": "sec", "secret": {"secretName": "fs-sec"}},
        {"name": "scratch", "emptyDir": {}},
    ]
    node.create(body)
    node.wait_phase("secure", "Running")
    out = wait_for(
        lambda: (lambda s: s if "scratch-rc=" in s else None)(_logs(node, "secure")),
        "the container's report",
    )
    lines = out.splitlines()
    assert lines[0] == "1234", out
    assert {"2345", "777", "888"} <= set(lines[1].split()), out
    assert "rootfs-rc=1" in out, out
    # A non-root user of the fsGroup reads the Secret and writes to the emptyDir.
    assert "s3" in lines and "scratch-rc=0" in out, out
    assert "10.9.8.7\tdb.lab" in _exec(node, "secure", "cat", "/etc/hosts")
    (c,) = node.containers("secure")
    hc = c.attrs["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and "no-new-privileges:true" in hc["SecurityOpt"]
    node.delete("secure", wait=True)


def test_run_as_non_root_checks_the_images_user(node: DockerNode) -> None:
    # The test image sets no USER, so it would run as root: the container is not made.
    root = node.pod("nonroot-refused", "exec sleep 3600", securityContext={"runAsNonRoot": True})
    ok = node.pod(
        "nonroot-ok",
        "id -u; exec sleep 3600",
        securityContext={"runAsNonRoot": True, "runAsUser": 4242},
    )
    node.create(root)
    node.create(ok)
    wait_for(
        lambda: (
            (node.cstatus("nonroot-refused").get("state") or {}).get("waiting", {}).get("reason")
            == "CreateContainerConfigError"
        ),
        "CreateContainerConfigError",
    )
    message = node.cstatus("nonroot-refused")["state"]["waiting"]["message"]
    assert "container has runAsNonRoot and image will run as root" in message
    assert node.containers("nonroot-refused") == []
    node.wait_phase("nonroot-ok", "Running")
    wait_for(lambda: _logs(node, "nonroot-ok").strip() == "4242", "the pod's uid")
    for name in ("nonroot-refused", "nonroot-ok"):
        node.delete(name, wait=True)


def test_lifecycle_hooks_run_post_start_and_pre_stop(node: DockerNode, tmp_path: Path) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    body = node.pod(
        "hooked",
        "while [ ! -f /tmp/hook ]; do sleep 0.1; done; cat /tmp/hook; exec sleep 3600",
        volumeMounts=[{"name": "out", "mountPath": "/out"}],
        lifecycle={
            "postStart": {"exec": {"command": ["sh", "-c", "echo started > /tmp/hook"]}},
            "preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /out/pre-stop"]}},
        },
    )
    body["spec"]["volumes"] = [{"name": "out", "hostPath": {"path": str(out)}}]
    failing = node.pod(
        "hook-fails",
        "exec sleep 3600",
        policy="Never",
        lifecycle={"postStart": {"exec": {"command": ["false"]}}},
    )
    node.create(body)
    node.create(failing)
    node.wait_phase("hooked", "Running")
    wait_for(lambda: _logs(node, "hooked").strip() == "started", "the postStart hook's file")
    node.delete("hooked", wait=True)
    assert (out / "pre-stop").read_text() == "stopping\n"  # preStop ran before the stop
    node.wait_phase("hook-fails", "Failed")
    reasons = {e["reason"] for e in node.events("hook-fails")}
    assert "FailedPostStartHook" in reasons, reasons
    node.delete("hook-fails", wait=True)


def test_termination_messages_reach_the_status(node: DockerNode) -> None:
    written = node.pod(
        "msg-file",
        "echo 'disk full' > /dev/termination-log; exit 3",
        policy="Never",
        securityContext={"runAsUser": 1234, "readOnlyRootFilesystem": True},
    )
    custom = node.pod(
        "msg-path", "echo done > /tmp/why", policy="Never", terminationMessagePath="/tmp/why"
    )
    logged = node.pod(
        "msg-logs",
        "echo first; echo boom; exit 2",
        policy="Never",
        terminationMessagePolicy="FallbackToLogsOnError",
    )
    for body in (written, custom, logged):
        node.create(body)
    expected = {"msg-file": "disk full\n", "msg-path": "done\n", "msg-logs": "first\nboom\n"}
    for name, message in expected.items():
        term = wait_for(
            lambda n=name: (node.cstatus(n).get("state") or {}).get("terminated"),
            f"{name} terminated",
        )
        assert term.get("message") == message, (name, term)
    for name in expected:
        node.delete(name, wait=True)


# -- two clusters on one engine -------------------------------------------------------------


def _ids(cl: DockerNode, pod: str) -> list[str]:
    return sorted(c.id for c in cl.containers(pod) if c.status == "running")


def _cluster_uid(cl: DockerNode) -> str:
    return str(cl.api.get("namespaces", "kube-system")["metadata"]["uid"])


def test_two_clusters_with_one_node_name_keep_each_others_containers(
    shared_apiserver: ApiServer, tmp_path: Path
) -> None:
    other = start_apiserver(tmp_path / "other-home")
    try:
        with running_node(shared_apiserver, "twin", tmp_path / "root-a") as a:
            b = DockerNode(other, a.node, tmp_path / "root-b")  # the same node name
            b.start_kubelet()
            try:
                _run_twins(a, b)
            finally:
                for p in b.api.list("pods", NS)["items"]:
                    b.delete(p["metadata"]["name"])
                if b.kubelet is not None:
                    b.kubelet.stop()
                label = f"io.kubelab.cluster.uid={_cluster_uid(b)}"
                for c in b.docker.containers.list(all=True, filters={"label": label}):
                    c.remove(force=True)
    finally:
        other.stop()


def _run_twins(a: DockerNode, b: DockerNode) -> None:
    assert _cluster_uid(a) != _cluster_uid(b)
    a.create(a.pod("twin-a", "exec sleep 3600"))
    b.create(b.pod("twin-b", "exec sleep 3600"))
    a.wait_phase("twin-a", "Running")
    b.wait_phase("twin-b", "Running")
    before = {"a": _ids(a, "twin-a"), "b": _ids(b, "twin-b")}
    assert len(before["a"]) == len(before["b"]) == 1
    for cl in (a, b):
        assert cl.kubelet is not None
        cl.kubelet.stop()
    for cl in (a, b):
        cl.start_kubelet()
    # Each kubelet's start-up scan sees the other cluster's container under its node
    # name; once it says so, the scan (and any clean-up it would do) is over.
    for cl in (a, b):
        kubelet = cl.kubelet
        assert kubelet is not None
        wait_for(
            lambda k=kubelet: "from another cluster" in k.log(),
            "the kubelet noticing the other cluster's container",
            diagnostics=kubelet.log,
        )
        assert kubelet.log().count("from another cluster") == 1
    for cl, pod, key in ((a, "twin-a", "a"), (b, "twin-b", "b")):
        cl.wait_phase(pod, "Running")
        assert _ids(cl, pod) == before[key], f"{pod}'s container was replaced or removed"
        status_id = cl.cstatus(pod)["containerID"]
        assert status_id == f"docker://{before[key][0]}"
    # Nothing more happens later either: a resync would have recreated a removed one.
    time.sleep(2)  # proving a removal does NOT happen needs a short, fixed look
    assert _ids(a, "twin-a") == before["a"] and _ids(b, "twin-b") == before["b"]


def test_memory_empty_dir_is_one_tmpfs_the_pods_containers_share(node: DockerNode) -> None:
    """emptyDir medium Memory (bitnami postgresql's /dev/shm): what the init container
    writes, the main container reads, from a tmpfs of the sizeLimit; it is unmounted from
    the node when the pod goes."""
    body = node.pod(
        "shm",
        "cat /shm/greeting; grep ' /shm ' /proc/mounts; exec sleep 3600",
        volumeMounts=[{"name": "shm", "mountPath": "/shm"}],
    )
    body["spec"]["initContainers"] = [
        {
            "name": "fill",
            "image": body["spec"]["containers"][0]["image"],
            "command": ["sh", "-c", "echo hello-from-init > /shm/greeting"],
            "volumeMounts": [{"name": "shm", "mountPath": "/shm"}],
        }
    ]
    body["spec"]["volumes"] = [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}
    ]
    uid = node.create(body)["metadata"]["uid"]
    node.wait_phase("shm", "Running", timeout=60)

    def main_log() -> str | None:
        # The pod's containers are the finished init container's and the main one's.
        logs = [c.logs().decode(errors="replace") for c in node.containers("shm")]
        return next((text for text in logs if "tmpfs" in text), None)

    out = wait_for(main_log, "the main container's report")
    assert "hello-from-init" in out and "size=8192k" in out, out
    node.delete("shm", wait=True)
    wait_for(
        lambda: uid not in Path("/proc/self/mounts").read_text(),
        "the pod's tmpfs unmounted from the node",
        30,
    )
