"""In-cluster API access on the real Docker engine: a pod runs the official Python
client's ``config.load_incluster_config()`` and lists the pods of its namespace, as its
ServiceAccount's RoleBinding allows (and is refused the secrets it does not). The pod finds
its token, ca.crt and namespace at /var/run/secrets/kubernetes.io/serviceaccount (the
projected volume the ServiceAccount admission adds, the kubelet writes, with a token it
requests through TokenRequest), and reaches the API through the ``kubernetes`` Service:
pod -> $KUBERNETES_SERVICE_HOST:443 (10.43.0.1) -> the kubelet's kernel DNAT -> the
apiserver's listener on the node's pod bridge (``--pod-bridge-node``; the apiserver
listens on 127.0.0.1 otherwise, as ``kubelab up``'s default); and by the name
``kubernetes.default`` through the cluster DNS, the certificate checked against the
mounted ca.crt for that name. Once the pod is deleted its token is refused.

The pod's Python: no registry is reachable, so the pod runs the host's interpreter and
this venv's ``kubernetes`` package through read-only hostPath mounts (the interpreter's
prefix, the venv, and the host's /usr and /lib* for libc, libssl and the rest) on the
busybox image; the namespace is PodSecurity ``privileged`` for the hostPaths. Chosen over
a locally built image because it runs exactly the client the venv has, copies nothing
(an image would have to carry ~200 MB: the standard library, the client with its pydantic
and aiohttp dependencies, and every shared library they load, found by ldd and kept in
step with the venv), and needs no build on the box; the client code itself runs wholly
inside the pod's network namespace, with only the pod's own files.

Every address reached is on this machine: the cluster's ClusterIPs and its own bridge.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.cluster import Cluster
from tests.e2e.cluster_dns import KUBELET_DNS_ARGS, cluster_dns
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

NS = "default"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SA = "lister"
# Run inside the pod: the official client's in-cluster config, as an in-cluster app has it.
IN_POD = r"""
import json
from kubernetes import client, config

config.load_incluster_config()
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
core = client.CoreV1Api()
out = {"host": client.Configuration.get_default_copy().host}
out["pods"] = sorted(p.metadata.name for p in core.list_namespaced_pod(ns).items)
try:
    core.list_namespaced_secret(ns)
    out["secrets"] = "listed"
except client.ApiException as e:
    out["secrets"] = e.status
who = client.AuthenticationV1Api().create_self_subject_review(client.V1SelfSubjectReview())
out["user"] = who.status.user_info.username
# By name: the cluster DNS (search path, ndots:5) and the certificate's SAN for it.
named = client.Configuration.get_default_copy()
named.host = "https://kubernetes.default"
by_name = client.CoreV1Api(client.ApiClient(named)).list_namespaced_pod(ns)
out["pods_by_name"] = sorted(p.metadata.name for p in by_name.items)
print(json.dumps(out))
"""


def host_python_mounts() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, volumeMounts) that show this interpreter and its venv read-only at the
    same paths inside a pod, with the host's shared libraries where the loader looks."""
    where = {
        os.path.realpath(sys.base_prefix): os.path.realpath(sys.base_prefix),
        sys.prefix: sys.prefix,  # the venv, at its own path (pyvenv.cfg names base_prefix)
        "/usr": "/usr",
        os.path.realpath("/lib"): "/lib",  # merged /usr: /lib is a link to usr/lib
        os.path.realpath("/lib64"): "/lib64",  # the ELF interpreter's path
    }
    volumes, mounts = [], []
    for i, (host, inside) in enumerate(where.items()):
        volumes.append({"name": f"py{i}", "hostPath": {"path": host, "type": "Directory"}})
        mounts.append({"name": f"py{i}", "mountPath": inside, "readOnly": True})
    return volumes, mounts


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
        # The pod's Python comes through hostPath mounts, which "baseline" forbids.
        cl.client.patch(
            "namespaces",
            NS,
            {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        )
        controllers = "nodeipam,endpoints,serviceaccount,root-ca-cert-publisher"
        cl.add_controllers("--controllers", controllers, "--no-leader-elect")
        cl.add_kubelet(
            node,
            "--resync-period",
            "2",
            *KUBELET_DNS_ARGS,
            runtime="docker",
            root_dir=Path(home) / "root",
        )
        cl.wait_nodes_ready(node, timeout=60)
        with cluster_dns(cl, node):
            lab = Lab(cl, node)
            yield lab
            for p in lab.api.list("pods", NS)["items"]:
                try:
                    lab.api.delete("pods", p["metadata"]["name"], NS)
                except ApiError:
                    pass
    finally:
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


def grant_pod_listing(lab: Lab) -> None:
    """ServiceAccount ``lister`` may get and list pods in NS, and nothing else."""
    lab.api.create("serviceaccounts", {"metadata": {"name": SA}}, NS)
    rbac = "rbac.authorization.k8s.io/v1"
    role = {
        "apiVersion": rbac,
        "kind": "Role",
        "metadata": {"name": "pod-lister"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    }
    lab.api.create("roles", role, NS)
    binding = {
        "apiVersion": rbac,
        "kind": "RoleBinding",
        "metadata": {"name": "pod-lister"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-lister"},
        "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": NS}],
    }
    lab.api.create("rolebindings", binding, NS)


def test_a_pod_lists_pods_with_the_official_clients_incluster_config(
    lab: Lab, tmp_path: Path
) -> None:
    wait_for(
        lambda: _has_default_account(lab),
        "the default ServiceAccount",
        30,
        diagnostics=lab.cluster.logs,
    )
    grant_pod_listing(lab)
    volumes, mounts = host_python_mounts()
    body = {
        "metadata": {"name": "client", "namespace": NS},
        "spec": {
            "nodeName": lab.node,
            "serviceAccountName": SA,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "c",
                    "image": IMAGE,
                    "command": ["sleep", "3600"],
                    "volumeMounts": mounts,
                    "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                }
            ],
            "volumes": volumes,
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

    # The official client, inside the pod. Retried: the first run may come before the
    # kubelet's rules for the ClusterIPs (a fresh node's first sync).
    last = [""]

    def listed() -> dict[str, Any] | None:
        r = lab.container("client").exec_run([f"{sys.prefix}/bin/python", "-c", IN_POD])
        last[0] = r.output.decode(errors="replace")
        if r.exit_code != 0:
            return None
        return dict(json.loads(last[0].strip().splitlines()[-1]))

    got = wait_for(
        listed,
        "the in-cluster client's answer",
        60,
        diagnostics=lambda: last[0] + lab.cluster.logs(),
    )
    assert got == {
        "host": "https://10.43.0.1:443",
        "pods": ["client"],
        "secrets": 403,
        "user": f"system:serviceaccount:{NS}:{SA}",
        "pods_by_name": ["client"],
    }, got

    # The token is bound to the pod: deleted, the pod's token is refused.
    lab.api.delete("pods", "client", NS)
    wait_for(lambda: not _exists(lab, "client"), "client deleted", 60, diagnostics=lab.cluster.logs)
    review = lab.api.create(
        "tokenreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
    )
    assert review["status"]["authenticated"] is False
    assert "no longer exists" in review["status"]["error"]
    # The same refusal through the official loader, with the pod's files, from the host.
    (tmp_path / "token").write_text(token)
    (tmp_path / "ca.crt").write_text(ca)
    from kubernetes import client

    api = _incluster_client("10.43.0.1", "443", tmp_path / "token", tmp_path / "ca.crt")
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
