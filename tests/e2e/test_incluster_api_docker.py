"""In-cluster API access on the real Docker engine: a busybox pod finds its token,
ca.crt and namespace at /var/run/secrets/kubernetes.io/serviceaccount (the projected
volume the ServiceAccount admission adds, the kubelet writes, with a token it requests
through TokenRequest), and reaches the API through the ``kubernetes`` Service with them:
pod -> $KUBERNETES_SERVICE_HOST:443 (10.43.0.1) -> the kubelet's kernel DNAT -> the
apiserver's listener on the node's pod bridge (``--pod-bridge-node``; the apiserver
listens on 127.0.0.1 otherwise, as ``kubelab up``'s default). The pod opens a TCP
connection that way; busybox has no TLS client that completes a handshake with the
apiserver (and none verifies), so the official Python client's in-cluster loader is run
here on the host with the pod's own token and ca.crt, to the same ClusterIP through the
same DNAT: it checks the certificate for 10.43.0.1 against the mounted ca.crt. Once the
pod is deleted its token is refused.

Every address reached is on this machine: the cluster's ClusterIP and its own bridge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

NS = "default"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class Lab:
    def __init__(self, cluster: Cluster, node: str) -> None:
        import docker

        self.cluster, self.node = cluster, node
        self.api = cluster.client
        self.docker = docker.from_env()
        self.uid = str(self.api.get("namespaces", "kube-system")["metadata"]["uid"])

    def container(self, pod: str) -> Any:
        (c,) = self.docker.containers.list(
            filters={
                "label": [
                    f"io.kubelab.pod.name={pod}",
                    f"io.kubelab.cluster.uid={self.uid}",
                    "io.kubelab.container.name=c",
                ]
            }
        )
        return c

    def sh(self, pod: str, script: str) -> tuple[int, str]:
        r = self.container(pod).exec_run(["sh", "-c", script])
        return int(r.exit_code), r.output.decode(errors="replace")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    import docker

    ensure_busybox_image(docker.from_env())
    home = tmp_path_factory.mktemp("incluster")
    node = f"sa-{uuid.uuid4().hex[:6]}"
    cl = Cluster(home, apiserver_args=["--pod-bridge-node", node])
    lab: Lab | None = None
    try:
        controllers = "nodeipam,endpoints,serviceaccount,root-ca-cert-publisher"
        cl.add_controllers("--controllers", controllers, "--no-leader-elect")
        cl.add_kubelet(node, "--resync-period", "2", runtime="docker", root_dir=Path(home) / "root")
        cl.wait_nodes_ready(node, timeout=60)
        lab = Lab(cl, node)
        yield lab
    finally:
        if lab is not None:
            for p in lab.api.list("pods", NS)["items"]:
                try:
                    lab.api.delete("pods", p["metadata"]["name"], NS)
                except ApiError:
                    pass
        cl.stop()
        if lab is not None:
            for c in lab.docker.containers.list(
                all=True, filters={"label": f"io.kubelab.cluster.uid={lab.uid}"}
            ):
                c.remove(force=True)
            for net in lab.docker.networks.list(
                filters={"label": f"io.kubelab.cluster.uid={lab.uid}"}
            ):
                net.remove()


def _incluster_client(host: str, port: str, token: Path, ca: Path) -> Any:
    """The official client configured by load_incluster_config's own loader."""
    from kubernetes import client
    from kubernetes.config.incluster_config import InClusterConfigLoader

    cfg = client.Configuration()
    InClusterConfigLoader(
        token_filename=str(token),
        cert_filename=str(ca),
        environ={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
    ).load_and_set(cfg)
    return client.ApiClient(cfg)


def test_a_pod_reaches_the_api_with_its_mounted_token(lab: Lab, tmp_path: Path) -> None:
    wait_for(
        lambda: _has_default_account(lab),
        "the default ServiceAccount",
        30,
        diagnostics=lab.cluster.logs,
    )
    body = {
        "metadata": {"name": "client", "namespace": NS},
        "spec": {
            "nodeName": lab.node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
        },
    }
    lab.api.create("pods", body, NS)

    def running() -> bool:
        st = lab.api.get("pods", "client", NS).get("status") or {}
        return st.get("phase") == "Running"

    wait_for(running, "client running", 90, diagnostics=lab.cluster.logs)
    code, namespace = lab.sh("client", f"cat {SA_DIR}/namespace")
    assert (code, namespace) == (0, NS)
    code, ca = lab.sh("client", f"cat {SA_DIR}/ca.crt")
    assert code == 0 and ca == (lab.cluster.api.home / "pki" / "ca.crt").read_text()
    code, token = lab.sh("client", f"cat {SA_DIR}/token")
    assert code == 0 and token.startswith("eyJ"), token
    code, env = lab.sh("client", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT")
    assert env.strip() == "10.43.0.1:443"
    # From inside the pod, the ClusterIP leads to the API: a TCP connection through the
    # kernel DNAT (busybox's TLS client cannot complete a handshake with the apiserver's
    # TLS 1.2+/SHA-256 settings, so the HTTPS request itself is made below).
    script = "nc -w 3 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT </dev/null && echo open"
    last = [""]

    def reached() -> bool:
        code, out = lab.sh("client", script)
        last[0] = out
        return code == 0 and "open" in out

    wait_for(reached, "the API from the pod", 30, diagnostics=lambda: last[0] + lab.cluster.logs())
    # The official client's in-cluster config, with the pod's files, verifies the
    # apiserver's certificate for 10.43.0.1 against the mounted ca.crt.
    (tmp_path / "token").write_text(token)
    (tmp_path / "ca.crt").write_text(ca)
    from kubernetes import client

    api = _incluster_client("10.43.0.1", "443", tmp_path / "token", tmp_path / "ca.crt")
    versions = client.CoreApi(api).get_api_versions()
    assert versions.versions == ["v1"]
    who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    user = who.status.user_info if who.status else None
    assert user is not None and user.username == "system:serviceaccount:default:default"
    # The token is bound to the pod: deleted, the pod's token is refused.
    lab.api.delete("pods", "client", NS)
    wait_for(lambda: not _exists(lab, "client"), "client deleted", 60, diagnostics=lab.cluster.logs)
    review = lab.api.create(
        "tokenreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
    )
    assert review["status"]["authenticated"] is False
    assert "no longer exists" in review["status"]["error"]
    with pytest.raises(client.ApiException) as refused:
        client.CoreApi(api).get_api_versions()
    assert refused.value.status == 401


def _has_default_account(lab: Lab) -> bool:
    try:
        lab.api.get("serviceaccounts", "default", NS)
        lab.api.get("configmaps", "kube-root-ca.crt", NS)
        return True
    except ApiError:
        return False


def _exists(lab: Lab, pod: str) -> bool:
    try:
        lab.api.get("pods", pod, NS)
        return True
    except ApiError:
        return False
