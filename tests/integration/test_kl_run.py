"""``kl run`` on a fake-runtime cluster (scheduler and one kubelet): the pod it creates
(as ``kubectl run`` makes it), ``-i --rm --restart=Never`` attaching to the container's
output, deleting the pod and exiting with the container's code, the fall back to the log
for a container that ended before the attach, and kubectl's messages for wrong flags."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.errors import ApiError
from tests.cluster import Cluster
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("kl-run") / "home") as c:
        c.add_scheduler()
        c.add_kubelet("n1", scheme=None)
        c.wait_nodes_ready(timeout=60)
        yield c


def gone(cluster: Cluster, name: str, ns: str = "default") -> bool:
    try:
        cluster.api.client().get("pods", name, ns)
    except ApiError as e:
        return e.code == 404
    return False


def test_run_creates_the_pod_kubectl_would(cluster: Cluster) -> None:
    cfg = cluster.api.kubeconfig
    r = kl(cfg, "run", "web", "--image=busybox", "--port=80", "--", "sleep", "infinity")
    assert (r.rc, r.out, r.err) == (0, "pod/web created\n", "")
    pod = cluster.api.client().get("pods", "web", "default")
    assert pod["metadata"]["labels"] == {"run": "web"}
    assert pod["spec"]["restartPolicy"] == "Always"
    [c] = pod["spec"]["containers"]
    assert (c["name"], c["image"], c["args"]) == ("web", "busybox", ["sleep", "infinity"])
    assert "command" not in c and "stdin" not in c
    assert c["ports"][0]["containerPort"] == 80
    wait_for(
        lambda: (
            cluster.api.client().get("pods", "web", "default")["status"].get("phase") == "Running"
        ),
        "web running",
    )
    taken = kl(cfg, "run", "web", "--image=busybox")
    assert taken.one_error_line() == 'error: pods "web" already exists'


def test_run_with_command_env_labels_in_a_namespace(cluster: Cluster) -> None:
    cfg = cluster.api.kubeconfig
    kl(cfg, "create", "namespace", "team").ok()
    r = kl(
        cfg,
        "run",
        "probe",
        "-n",
        "team",
        "--image=busybox",
        "--restart=OnFailure",
        "--env=MODE=fast,slow",
        "--env=N=1",
        "--labels=app=probe,team=ml",
        "--command",
        "--",
        "sh",
        "-c",
        "true",
    )
    assert r.ok().out == "pod/probe created\n"
    pod = cluster.api.client().get("pods", "probe", "team")
    assert pod["metadata"]["labels"] == {"app": "probe", "team": "ml"}
    [c] = pod["spec"]["containers"]
    assert c["command"] == ["sh", "-c", "true"] and "args" not in c
    assert c["env"] == [{"name": "MODE", "value": "fast,slow"}, {"name": "N", "value": "1"}]
    assert pod["spec"]["restartPolicy"] == "OnFailure"


def test_run_attached_removed_with_the_exit_code(cluster: Cluster) -> None:
    # The output comes after the attach is made (2 s in), through the attach stream.
    r = kl(
        cluster.api.kubeconfig,
        "run",
        "once",
        "--image=busybox",
        "-i",
        "--rm",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "sleep 2; echo got; exit 3",
        timeout=120,
    )
    assert r.rc == 3, r.err
    assert r.out == 'got\npod "once" deleted from default namespace\n'
    assert "warning" not in r.err
    assert r.err.endswith("pod default/once terminated (Error)\n")
    wait_for(lambda: gone(cluster, "once"), "once deleted")


def test_run_attached_to_a_container_that_already_ended_prints_its_log(
    cluster: Cluster,
) -> None:
    r = kl(
        cluster.api.kubeconfig,
        "run",
        "quick",
        "--image=busybox",
        "-i",
        "--rm",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo quick",
        timeout=120,
    )
    assert r.rc == 0, r.err
    assert r.out == 'quick\npod "quick" deleted from default namespace\n'


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["x", "--image=busybox", "--rm"], "--rm should only be used for attached containers"),
        (["x", "--image=busybox", "-t"], "-i/--stdin is required for containers with -t/--tty"),
        (["x", "--image=busybox", "--restart=Sometimes"], "invalid restart policy: Sometimes"),
        (["x"], 'required flag(s) "image" not set'),
        (["--image=busybox"], "NAME is required for run"),
    ],
)
def test_run_refuses_what_kubectl_refuses(cluster: Cluster, args: list[str], line: str) -> None:
    assert line in kl(cluster.api.kubeconfig, "run", *args).one_error_line()
    assert gone(cluster, "x")
