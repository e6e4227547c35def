"""``kubectl debug`` (the real kubectl 1.35) on the compat cluster: ``--copy-to`` makes a
copy of the pod with the debug container beside the pod's own, and ``-it --copy-to``
attaches to it; an ephemeral container (``debug -it --image`` on the pod itself) is
refused with a 422 on ``pods/NAME/ephemeralcontainers`` that names the field and
``--copy-to`` (kubectl panicked on the bare 404 before). The subresource answers GET with
the pod, and a write that adds no ephemeral container with the pod as it is."""

from __future__ import annotations

import json

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl_exec import running_pod
from tests.wait import wait_for


def test_debug_copy_to_runs_a_copy_with_the_debug_container(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "app")
    p = kubectl.run("-n", namespace, "debug", "app", "--copy-to=app-copy", "--image=busybox")
    assert p.returncode == 0, p.stderr
    assert "panic" not in p.stderr
    c = cluster.api.client()
    copy = c.get("pods", "app-copy", namespace)
    names = [x["name"] for x in copy["spec"]["containers"]]
    images = [x["image"] for x in copy["spec"]["containers"]]
    assert names[0] == "main" and names[1].startswith("debugger-") and images[1] == "busybox"
    wait_for(
        lambda: c.get("pods", "app-copy", namespace)["status"].get("phase") == "Running",
        "the copy running",
    )
    # -i attaches to the debug container of a new copy (stdin is no terminal here).
    p = kubectl.run(
        "-n",
        namespace,
        "debug",
        "app",
        "-i",
        "--copy-to=app-c2",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "sleep 2; echo from-the-copy",
        input="",
    )
    assert p.returncode == 0, p.stderr
    assert "from-the-copy\n" in p.stdout


def test_debug_with_an_ephemeral_container_is_refused_readably(
    cluster: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    running_pod(cluster, namespace, "eph")
    p = kubectl.run("-n", namespace, "debug", "eph", "-it", "--image=busybox", input="")
    assert p.returncode == 1 and "panic" not in p.stderr, p.stderr
    assert 'The Pod "eph" is invalid: spec.ephemeralContainers: Forbidden:' in p.stderr
    assert "--copy-to=eph-debug" in p.stderr
    path = f"/api/v1/namespaces/{namespace}/pods/eph/ephemeralcontainers"
    got = json.loads(kubectl("get", "--raw", path))
    assert (got["kind"], got["metadata"]["name"]) == ("Pod", "eph")
    assert not got["spec"].get("ephemeralContainers")


def test_the_ephemeralcontainers_status_has_details(cluster: Cluster, namespace: str) -> None:
    running_pod(cluster, namespace, "det")
    http = cluster.api.client()
    path = f"/api/v1/namespaces/{namespace}/pods/det/ephemeralcontainers"
    patch = {"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}
    r = http.request(
        "PATCH",
        path,
        content=json.dumps(patch),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
        raise_for_status=False,
    )
    assert r.status_code == 422
    status = r.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["name"] == "det" and status["details"]["kind"] == "Pod"
    [cause] = status["details"]["causes"]
    assert cause["field"] == "spec.ephemeralContainers"
    # A write that adds nothing is answered with the pod, unchanged.
    same = http.request(
        "PATCH",
        path,
        content=json.dumps({"metadata": {"labels": {"x": "y"}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert same.status_code == 200 and same.json()["metadata"]["name"] == "det"
    assert "x" not in (http.get("pods", "det", namespace)["metadata"].get("labels") or {})
