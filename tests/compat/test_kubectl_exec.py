"""``kubectl exec`` / ``attach`` (the real kubectl 1.35, WebSocket v5) and the Python
client's ``stream()`` on the compat cluster's fake runtime: the remote command protocol
end to end (kubectl → apiserver → kubelet over HTTPS), without Docker. Also what is
refused: SPDY with a message naming the WebSocket protocols, RBAC without ``create`` on
``pods/exec``, a node's credentials."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.stream import stream

from apiserver.auth import add_token
from apiserver.main import write_kubeconfig
from tests.compat.conftest import NODE_NAME, Cluster, Kubectl
from tests.tools.terminal import Terminal
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def running_pod(cluster: Cluster, ns: str, name: str, **container: object) -> None:
    c = cluster.api.client()
    spec = {"name": "main", "image": "busybox", "command": ["sleep", "infinity"], **container}
    c.create(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": NODE_NAME, "containers": [spec]},
        },
        ns,
    )
    wait_for(
        lambda: (c.get("pods", name, ns).get("status") or {}).get("phase") == "Running",
        f"pod {name} running",
    )


def test_exec_output_stdin_and_exit_code(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "p")
    assert kubectl("-n", namespace, "exec", "p", "--", "echo", "hello there") == "hello there\n"
    p = kubectl.run("-n", namespace, "exec", "p", "--", "sh", "-c", "echo partial; exit 3")
    assert (p.returncode, p.stdout) == (3, "partial\n")
    assert p.stderr == "command terminated with exit code 3\n"
    # stdin's EOF (v5's close signal) ends cat, so kubectl returns.
    assert kubectl("-n", namespace, "exec", "-i", "p", "--", "cat", input="a\nb\n") == "a\nb\n"
    p = kubectl.run("-n", namespace, "exec", "-i", "p", "--", "sh", input="echo one\nexit 4\n")
    assert (p.returncode, p.stdout) == (4, "one\n")


def test_exec_with_a_terminal_on_the_fake_runtime(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "t")
    argv = [str(kubectl.binary), "-n", namespace, "exec", "-it", "t", "--", "sh"]
    term = Terminal.spawn(argv, kubectl.env())
    try:
        term.resize(100, 30)
        term.expect("/ # ")
        term.ask_until("stty size\r", "30 100\r\n")
        term.resize(132, 43)  # sent beside stdin by kubectl: ask until it has arrived
        term.ask_until("stty size\r", "43 132\r\n")
        term.send("echo never\x03")  # Ctrl-C drops the typed line
        term.expect("^C\r\n/ # ")
        term.send("exit 5\r")
        assert term.wait() == 5
        assert b"never\r\n" not in term.seen
    finally:
        term.close()


def test_spdy_gets_a_status_naming_the_websocket_protocols(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "s")
    env = {**kubectl.env(), "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    p = subprocess.run(
        [str(kubectl.binary), "-n", namespace, "exec", "s", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert p.returncode == 1
    assert p.stderr.startswith("Error from server (BadRequest): kubelab streams exec and attach")
    assert "v5.channel.k8s.io" in p.stderr
    # A container that does not exist: the same error over WebSocket and SPDY.
    p = kubectl.fails("-n", namespace, "exec", "s", "-c", "nope", "--", "true")
    assert "container nope is not valid for pod s" in p.stderr


def _user_kubeconfig(cluster: Cluster, user: str, groups: list[str], tmp: Path) -> Path:
    token = add_token(cluster.api.home / "tokens.csv", user, groups)
    path = tmp / f"{user.replace(':', '-')}.kubeconfig"
    write_kubeconfig(path, cluster.api.url, cluster.api.ca_file.read_bytes(), token, user=user)
    return path


def test_exec_needs_create_on_pods_exec(
    cluster: Cluster, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    running_pod(cluster, namespace, "r")
    admin = cluster.api.client()
    viewer, editor = f"view-{uuid.uuid4().hex[:6]}", f"edit-{uuid.uuid4().hex[:6]}"
    for user, role in ((viewer, "view"), (editor, "edit")):
        admin.create(
            "rolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": user},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [
                    {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
            namespace,
        )
    as_viewer = Kubectl(
        kubectl.binary, _user_kubeconfig(cluster, viewer, [], tmp_path), kubectl.home
    )
    p = as_viewer.fails("-n", namespace, "exec", "r", "--", "echo", "hi")
    assert "Error from server (Forbidden)" in p.stderr and '"pods/exec"' in p.stderr, p.stderr
    as_editor = Kubectl(
        kubectl.binary, _user_kubeconfig(cluster, editor, [], tmp_path), kubectl.home
    )
    wait_for(
        lambda: as_editor.run("-n", namespace, "exec", "r", "--", "echo", "hi").stdout == "hi\n",
        "the edit role lets its user exec",
    )
    # A node's credentials never exec, not even into its own pods (the node authorizer).
    node = f"system:node:{NODE_NAME}"
    as_node = Kubectl(
        kubectl.binary, _user_kubeconfig(cluster, node, ["system:nodes"], tmp_path), kubectl.home
    )
    p = as_node.fails("-n", namespace, "exec", "r", "--", "echo", "hi")
    assert "Forbidden" in p.stderr, p.stderr


def test_kubelet_refuses_streams_without_the_apiserver_secret(
    cluster: Cluster, namespace: str
) -> None:
    """Anyone who reaches the kubelet's port gets a 401 Status, not a shell."""
    import ssl

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    running_pod(cluster, namespace, "k")
    node = cluster.api.client().get("nodes", NODE_NAME)
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    url = f"wss://127.0.0.1:{port}/exec/{namespace}/k/main?command=echo&command=hi&stdout=true"
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, ssl=ctx, subprotocols=["v5.channel.k8s.io"], additional_headers=headers)  # type: ignore[list-item]
        assert refused.value.response.status_code == 401


def test_python_client_stream(cluster: Cluster, namespace: str) -> None:
    running_pod(cluster, namespace, "py")
    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(cluster.api.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        core = k8s.CoreV1Api(api)
        assert (
            stream(core.connect_get_namespaced_pod_exec, "py", namespace, command=["echo", "hi"])
            == "hi\n"
        )
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            "py",
            namespace,
            command=["sh"],
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        resp.write_stdin("echo out\nnope\nexit 6\n")
        wait_for(lambda: resp.update(timeout=0.2) or not resp.is_open(), "the stream ends")
        out, err = resp.read_stdout(), resp.read_stderr()
        assert out == "out\n" and "nope: not modelled" in err
        assert resp.returncode == 6
