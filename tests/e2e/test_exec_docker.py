"""``kubectl exec`` and ``kubectl attach`` (the real kubectl 1.35, WebSocket v5) and the
official Python client's ``stream()`` against real containers: an apiserver and one
Docker-backed kubelet over HTTPS (pods are bound by name, so no scheduler is needed).

The TTY case runs kubectl in a pseudo-terminal (python's ``pty``), as a person would:
the shell's prompt, the window size following the terminal (``stty size`` before and
after a resize), Ctrl-C interrupting a foreground ``sleep``, and ``exit 5`` ending
kubectl with 5."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.stream import stream

from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import ApiServer
from tests.integration.kl_helpers import kl
from tests.tools.kubectl import ensure_kubectl
from tests.tools.terminal import Terminal
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def node(shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    name = f"ex-{uuid.uuid4().hex[:6]}"
    cl = Cluster.on(shared_apiserver)
    try:
        cl.add_kubelet(name, runtime="docker", scheme=None, root_dir=tmp_path_factory.mktemp("k"))
        cl.wait_nodes_ready(timeout=60)
        yield name
    finally:
        cl.stop()
        for ctr in engine.containers.list(all=True, filters={"label": f"io.kubelab.node={name}"}):
            ctr.remove(force=True)


@pytest.fixture(scope="module")
def env(shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "KUBECONFIG": str(shared_apiserver.kubeconfig),
        "HOME": str(tmp_path_factory.mktemp("kube-home")),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return ensure_kubectl()


@pytest.fixture
def ns(shared_apiserver: ApiServer) -> Iterator[str]:
    name = "ex-" + uuid.uuid4().hex[:6]
    c = shared_apiserver.client()
    c.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    for pod in c.list("pods", name)["items"]:
        c.delete("pods", pod["metadata"]["name"], name, grace_period_seconds=0)
    c.delete("namespaces", name)


def run_pod(api: ApiServer, node: str, ns: str, name: str, script: str, **extra: Any) -> None:
    c = api.client()
    container = {"name": "main", "image": IMAGE, "command": ["sh", "-c", script], **extra}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [container]},
    }
    c.create("pods", pod, ns)
    wait_for(
        lambda: (c.get("pods", name, ns).get("status") or {}).get("phase") == "Running",
        f"pod {name} running",
        60,
    )


def kc(kubectl: Path, env: dict[str, str], ns: str, *args: str, stdin: str | None = None) -> Any:
    return subprocess.run(
        [str(kubectl), "-n", ns, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_kubectl_exec_streams_output_stdin_and_the_exit_code(
    shared_apiserver: ApiServer, node: str, ns: str, kubectl: Path, env: dict[str, str]
) -> None:
    run_pod(shared_apiserver, node, ns, "shell", "sleep 3600")
    p = kc(kubectl, env, ns, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2")
    assert (p.returncode, p.stdout, p.stderr) == (0, "out\n", "err\n")
    p = kc(kubectl, env, ns, "exec", "shell", "--", "sh", "-c", "echo partial; exit 3")
    assert (p.returncode, p.stdout) == (3, "partial\n")
    assert p.stderr == "command terminated with exit code 3\n"
    # stdin's EOF reaches the process (v5's close signal), so cat ends and kubectl returns.
    p = kc(
        kubectl, env, ns, "exec", "-i", "shell", "--", "sh", "-c", "cat; echo done", stdin="a\nb\n"
    )
    assert (p.returncode, p.stdout) == (0, "a\nb\ndone\n"), p.stderr
    big = "x" * 200_000 + "\n"  # many frames each way
    p = kc(kubectl, env, ns, "exec", "-i", "shell", "--", "wc", "-c", stdin=big)
    assert p.stdout.strip() == str(len(big)), p.stderr


def test_kubectl_exec_with_a_terminal(
    shared_apiserver: ApiServer, node: str, ns: str, kubectl: Path, env: dict[str, str]
) -> None:
    run_pod(shared_apiserver, node, ns, "tty", "sleep 3600")
    term = Terminal.spawn([str(kubectl), "-n", ns, "exec", "-it", "tty", "--", "sh"], env)
    try:
        term.resize(100, 30)
        term.expect("# ")
        term.ask_until("busybox stty size\r", "30 100")
        term.resize(132, 43)  # kubectl sends the new size beside stdin: ask until it arrived
        term.ask_until("busybox stty size\r", "43 132")
        term.send("echo sleeping; sleep 600\r")
        term.expect("sleeping\r\n")  # (a Ctrl-C before sleep starts aborts the line: alike)
        term.send("\x03")  # Ctrl-C: the remote terminal's SIGINT ends the sleep...
        term.send("echo alive\r")
        term.expect("alive\r\n")  # ...so the shell runs the next line within the deadline
        term.send("exit 5\r")
        assert term.wait() == 5
    finally:
        term.close()


def test_kubectl_attach_follows_a_running_container(
    shared_apiserver: ApiServer, node: str, ns: str, kubectl: Path, env: dict[str, str]
) -> None:
    run_pod(
        shared_apiserver,
        node,
        ns,
        "ticker",
        "i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.2; done",
    )
    proc = subprocess.Popen(
        [str(kubectl), "-n", ns, "attach", "ticker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("tick"), (line, proc.stderr.read() if proc.poll() else "")
    finally:
        proc.kill()
        proc.wait()
    # A container with stdin open: what is typed reaches its process.
    run_pod(shared_apiserver, node, ns, "reader", "while read l; do echo got:$l; done", stdin=True)
    proc = subprocess.Popen(
        [str(kubectl), "-n", ns, "attach", "-i", "reader"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"got:hello\n"
    finally:
        proc.kill()
        proc.wait()


def test_python_client_stream_exec(shared_apiserver: ApiServer, node: str, ns: str) -> None:
    run_pod(shared_apiserver, node, ns, "py", "sleep 3600")
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(shared_apiserver.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        core = k8s.CoreV1Api(api)
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            "py",
            ns,
            command=["sh", "-c", "read l; echo got:$l; echo oops >&2; exit 7"],
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        resp.write_stdin("hello\n")
        out, err = "", ""
        deadline = time.monotonic() + 30
        while resp.is_open() and time.monotonic() < deadline:
            resp.update(timeout=1)
            out += resp.read_stdout() if resp.peek_stdout() else ""
            err += resp.read_stderr() if resp.peek_stderr() else ""
        assert (out, err) == ("got:hello\n", "oops\n")
        assert resp.returncode == 7
        # The one-shot form returns the output as a string.
        text = stream(core.connect_get_namespaced_pod_exec, "py", ns, command=["echo", "hi"])
        assert text == "hi\n"


def test_kubectl_cp_both_ways_and_run_rm(
    shared_apiserver: ApiServer,
    node: str,
    ns: str,
    kubectl: Path,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """``kubectl cp`` runs tar through exec (stdin one way, stdout the other); ``kubectl run
    -i --rm`` attaches to the new pod's stdin and deletes it once it ends."""
    run_pod(shared_apiserver, node, ns, "files", "sleep 3600")
    # The test image has no tar link; busybox has the applet.
    assert (
        kc(
            kubectl, env, ns, "exec", "files", "--", "busybox", "ln", "-s", "busybox", "/bin/tar"
        ).returncode
        == 0
    )
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(10 * 1024 * 1024))
    p = kc(kubectl, env, ns, "cp", str(src), "files:/tmp/f.bin")
    assert p.returncode == 0, p.stderr
    back = tmp_path / "back.bin"
    p = kc(kubectl, env, ns, "cp", "files:/tmp/f.bin", str(back))
    assert p.returncode == 0, p.stderr
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()

    overrides = json.dumps({"spec": {"nodeName": node}})
    p = kc(
        kubectl,
        env,
        ns,
        "run",
        "once",
        f"--image={IMAGE}",
        "-i",
        "--rm",
        "--restart=Never",
        "--overrides",
        overrides,
        "--",
        "sh",
        "-c",
        "read l; echo got:$l; exit 3",
        stdin="hello\n",
    )
    assert p.returncode == 3, p.stderr
    assert p.stdout.startswith("got:hello\n") and 'pod "once" deleted' in p.stdout


def test_kl_cp_both_ways(
    shared_apiserver: ApiServer,
    node: str,
    ns: str,
    kubectl: Path,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """``kl cp``: a 10 MiB file and a directory into the pod and back, checksums equal; an
    existing directory as the destination takes the source's name, as kubectl's."""
    run_pod(shared_apiserver, node, ns, "klcp", "sleep 3600")
    assert (
        kc(
            kubectl, env, ns, "exec", "klcp", "--", "busybox", "ln", "-s", "busybox", "/bin/tar"
        ).returncode
        == 0
    )
    cfg = shared_apiserver.kubeconfig
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(10 * 1024 * 1024))
    tree = tmp_path / "conf"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.yaml").write_text("a: 1\n")
    (tree / "sub" / "b.txt").write_text("b\n")
    kl(cfg, "-n", ns, "cp", str(src), "klcp:/tmp/w.bin").ok()
    kl(cfg, "-n", ns, "cp", str(tree), f"{ns}/klcp:/tmp").ok()  # into /tmp/conf
    assert kc(kubectl, env, ns, "exec", "klcp", "--", "cat", "/tmp/conf/sub/b.txt").stdout == "b\n"
    back = tmp_path / "back"
    back.mkdir()
    kl(cfg, "-n", ns, "cp", "klcp:/tmp/w.bin", str(back / "w.bin")).ok()
    assert (
        hashlib.sha256((back / "w.bin").read_bytes()).digest()
        == hashlib.sha256(src.read_bytes()).digest()
    )
    kl(cfg, "-n", ns, "cp", "klcp:/tmp/conf", str(back)).ok()  # an existing directory
    assert (back / "conf" / "a.yaml").read_text() == "a: 1\n"
    assert (back / "conf" / "sub" / "b.txt").read_text() == "b\n"
    missing = kl(cfg, "-n", ns, "cp", "klcp:/tmp/nope", str(back / "x"))
    assert missing.rc == 1 and "command terminated with exit code" in missing.err
    assert kl(cfg, "cp", str(src), str(back)).one_error_line() == (
        "error: one of src or dest must be a local file specification"
    )


def test_port_forward_with_the_python_client(
    shared_apiserver: ApiServer, node: str, ns: str
) -> None:
    """The Python client's portforward(): HTTP requests to a server in the pod, each over
    its own WebSocket (a data and an error channel per port, the port header first), and
    a port nothing listens on reported on the error channel."""
    from kubernetes.stream import portforward

    run_pod(shared_apiserver, node, ns, "web", "exec httpd -f -p 8080 -h /www")
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(shared_apiserver.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        core = k8s.CoreV1Api(api)

        def get() -> bytes:
            pf = portforward(core.connect_get_namespaced_pod_portforward, "web", ns, ports="8080")
            sock = pf.socket(8080)
            sock.setblocking(True)
            sock.settimeout(30)
            sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: web\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            assert pf.error(8080) is None
            pf.close()
            return reply

        def ok(reply: bytes) -> bool:
            return reply.split(b"\r\n")[0].endswith(b" 200 OK") and reply.endswith(b"\r\n\r\nok\n")

        wait_for(lambda: ok(get()), "httpd answers through port-forward")
        for _ in range(20):
            reply = get()
            assert ok(reply), reply[:300]
        # Nothing listens on 9999: the port's error channel says why.
        pf = portforward(core.connect_get_namespaced_pod_portforward, "web", ns, ports="9999")
        sock = pf.socket(9999)
        sock.settimeout(30)
        assert sock.recv(10) == b""
        assert "connection refused" in (pf.error(9999) or "").lower()
        pf.close()


def forwarded_requests(argv: list[str], env: dict[str, str], count: int) -> None:
    """Start a port-forward command (kl's or kubectl's) to a free local port, read the
    port from its first line, and make ``count`` HTTP requests through it, each on its
    own connection (so each is its own forwarded stream)."""
    import http.client

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("Forwarding from 127.0.0.1:") and line.endswith(" -> 8080\n"), (
            line,
            proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else "",
        )
        local = int(line.split(":")[1].split()[0])
        for i in range(count):
            h = http.client.HTTPConnection("127.0.0.1", local, timeout=30)
            try:
                h.request("GET", "/index.html")
                r = h.getresponse()
                assert (r.status, r.read()) == (200, b"ok\n")
            except (OSError, http.client.HTTPException) as e:
                proc.kill()
                raise AssertionError(
                    f"request {i} via {argv}: {e}: {proc.communicate()[1][-3000:]!r}"
                ) from e
            h.close()
    finally:
        proc.kill()
        proc.wait()


def web_pod_and_service(api: ApiServer, node: str, ns: str, name: str) -> None:
    """busybox httpd on 8080 (container port "http"), and a Service port 80 to it."""
    run_pod(
        api,
        node,
        ns,
        name,
        "exec httpd -f -p 8080 -h /www",
        ports=[{"containerPort": 8080, "name": "http"}],
    )
    c = api.client()
    c.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
        ns,
    )
    c.patch("pods", name, {"metadata": {"labels": {"app": name}}}, ns)


def test_kubectl_port_forward_pod_and_service(
    shared_apiserver: ApiServer, node: str, ns: str, kubectl: Path, env: dict[str, str]
) -> None:
    """The real kubectl's port-forward (SPDY/3.1 tunnelled in WebSocket, 1.35's first
    choice): 100 HTTP requests through ``pod/NAME`` and 100 through ``svc/NAME`` (kubectl
    maps the Service port to the pod's named targetPort), 100 more over a plain SPDY
    upgrade; then a port nothing listens on gets kubectl's error line from the error
    stream."""
    web_pod_and_service(shared_apiserver, node, ns, "kpf")
    for target, remote in (("pod/kpf", "8080"), ("svc/kpf", "80")):
        argv = [str(kubectl), "-n", ns, "port-forward", target, f":{remote}"]
        forwarded_requests(argv, env, 100)
    # The plain SPDY/3.1 upgrade (kubectl's fallback; before 1.31 its only way).
    spdy_env = {**env, "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
    forwarded_requests([str(kubectl), "-n", ns, "port-forward", "pod/kpf", ":8080"], spdy_env, 100)
    proc = subprocess.Popen(
        [str(kubectl), "-n", ns, "port-forward", "pod/kpf", ":9999"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        local = int(proc.stdout.readline().split(":")[1].split()[0])
        import socket

        with socket.create_connection(("127.0.0.1", local), timeout=30) as sock:
            assert sock.recv(10) == b""
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "an error occurred forwarding" in err and "connection refused" in err.lower(), err


def test_kl_port_forward_pod_and_service(
    shared_apiserver: ApiServer, node: str, ns: str, tmp_path: Path
) -> None:
    """``kl port-forward``: 100 HTTP requests through a local port to the pod's httpd, and
    ``svc/NAME`` mapping the Service port to its targetPort."""
    import sys

    from tests.harness import REPO

    web_pod_and_service(shared_apiserver, node, ns, "pfweb")
    env = {**os.environ, "KUBECONFIG": str(shared_apiserver.kubeconfig), "PYTHONPATH": str(REPO)}
    for target, remote, count in (("pod/pfweb", "8080", 100), ("svc/pfweb", "80", 10)):
        argv = [sys.executable, "-m", "kubectl.main", "-n", ns, "port-forward", target]
        forwarded_requests([*argv, f":{remote}"], env, count)
