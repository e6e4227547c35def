"""The dashboard in headless Chromium against a real cluster (apiserver over HTTPS,
scheduler, controllers, a fake-runtime kubelet with 2 simulated GPUs): sign in with a
token, the GPU grid following a GPU pod from start to end without a reload, a pod's log
followed, a page the user's Role does not allow refused in the API's words, and a
Deployment scaled by a user with the write role (recorded as an Event with their name,
and in the audit log as their request).

With KUBELAB_DASHBOARD_SCREENSHOTS=DIR the tests also save the main pages as PNGs there
(how docs/dashboard-*.png are made)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from apiserver.auth import add_token
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.wait import wait_for

pytestmark = [pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
NODE = "gpu-box"
SHOTS = os.environ.get("KUBELAB_DASHBOARD_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cl = Cluster(tmp_path_factory.mktemp("dashboard") / "home")
    try:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.add_kubelet(
            NODE, *FAST_KUBELET_FLAGS, "--metrics-report-period", "1", fake_gpus="2xH100-80GB"
        )
        cl.wait_nodes_ready(NODE)
        yield cl
    finally:
        cl.stop()


def namespace(cl: Cluster, name: str) -> str:
    cl.client.create("namespaces", {"metadata": {"name": name}})
    return name


def user_token(cl: Cluster, user: str) -> str:
    return add_token(cl.api.home / "tokens.csv", user, [])


def open_dashboard(browser_factory: Any, cl: Cluster, fragment: str = "") -> Any:
    b = browser_factory(cl.api.home / "pki" / "apiserver.crt")
    b.get(f"{cl.api.url}/dashboard/{fragment}")
    return b


def sign_in(b: Any, token: str) -> None:
    from selenium.webdriver.common.by import By

    field = wait_for(lambda: b.find_element(By.ID, "token"), "the login form")
    field.send_keys(token)
    b.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait_for(lambda: b.find_element(By.ID, "who").text, "signed in")


def text_of(b: Any, css: str) -> str:
    # Read in the page in one step: a live page re-renders between a find and a read, and
    # an element found before a watch update is stale after it.
    return str(
        b.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText).join(' ')",
            css,
        )
    )


def shot(b: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        b.save_screenshot(str(Path(SHOTS) / f"dashboard-{name}.png"))


def gpu_states(b: Any) -> list[tuple[str, str]]:
    cells = b.execute_script(
        "return [...document.querySelectorAll('#gpu-grid li.gpu')]"
        ".map(li => [li.dataset.state, li.innerText])"
    )
    return [(s, t) for s, t in cells]


def test_sign_in_and_the_gpu_grid_follows_a_gpu_pod_without_a_reload(
    cluster: Cluster, browser_factory: Any
) -> None:
    b = open_dashboard(browser_factory, cluster)
    sign_in(b, cluster.api.token)
    assert text_of(b, "#who") == "admin"
    wait_for(lambda: len(gpu_states(b)) == 2, "two GPU cells for the node's 2 simulated GPUs")
    assert [s for s, _ in gpu_states(b)] == ["free", "free"]
    # Model and memory as the node reports them, memory written as `kl` writes it.
    assert "H100 80GB" in gpu_states(b)[0][1] and "79.6Gi" in gpu_states(b)[0][1]
    # Survives only if the page is never reloaded: every change below comes by watch.
    b.execute_script("window.kubelabNoReload = 'still here'")

    ns = namespace(cluster, "dash-gpu")
    queue = {
        "apiVersion": "scheduling.kubelab.io/v1",
        "kind": "Queue",
        "metadata": {"name": "alice"},
        "spec": {"nominal": {"nvidia.com/gpu": 2}},
    }
    cluster.client.create("queues", queue)
    cluster.client.create(
        "pods",
        {
            "metadata": {
                "name": "train",
                "labels": {"kubelab.io/queue": "alice"},
                # The fake GPU's measured use follows this (kubelet/gpu_usage.py).
                "annotations": {"kubelab.io/simulated-usage": "gpu=80,gpu-memory=20Gi"},
            },
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "command": ["sh", "-c", "echo training; sleep 30"],
                        "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    }
                ],
            },
        },
        ns,
    )
    busy = wait_for(
        lambda: [t for s, t in gpu_states(b) if s == "in-use"], "a GPU cell in use", timeout=30
    )
    assert "dash-gpu/train" in busy[0] and "IN USE" in busy[0].upper()
    assert "(queue alice)" in busy[0], busy[0]
    # Measured use, as `kl top gpus` shows it: read again every report period (15 s).
    used = wait_for(
        lambda: [t for s, t in gpu_states(b) if s == "in-use" and "utilisation 80 %" in t],
        "the held GPU's measured utilisation",
        timeout=40,
    )
    assert "utilisation 80 % · 20Gi in use" in used[0], used[0]
    assert any("utilisation 0 %" in t for s, t in gpu_states(b) if s == "free")  # idle
    uuid_held = cluster.client.get("pods", "train", ns)["metadata"]["annotations"][
        "kubelab.io/gpu-uuids"
    ]
    held_cell = b.execute_script(
        "return document.querySelector('#gpu-grid li.gpu[data-state=in-use]').dataset.uuid"
    )
    assert held_cell == uuid_held
    assert "1 of 2 GPUs in use" in text_of(b, f"section[data-node={NODE}] h3")
    shot(b, "nodes")
    wait_for(
        lambda: [s for s, _ in gpu_states(b)] == ["free", "free"],
        "the GPU free again once the pod has ended",
        timeout=60,
    )
    assert cluster.client.get("pods", "train", ns)["status"]["phase"] == "Succeeded"
    assert b.execute_script("return window.kubelabNoReload") == "still here"


def test_a_pods_page_follows_its_log_and_says_why(cluster: Cluster, browser_factory: Any) -> None:
    ns = namespace(cluster, "dash-log")
    script = "echo first line; sleep 10; echo second line; sleep 600"
    cluster.client.create(
        "pods",
        {
            "metadata": {"name": "talker"},
            "spec": {
                "containers": [
                    {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                ]
            },
        },
        ns,
    )
    b = open_dashboard(browser_factory, cluster)
    sign_in(b, cluster.api.token)
    b.get(f"{cluster.api.url}/dashboard/#/pod/{ns}/talker")
    b.execute_script("window.kubelabNoReload = 'still here'")
    log = wait_for(
        lambda: "first line" in text_of(b, "#pod-log") and text_of(b, "#pod-log"),
        "the first log line",
        timeout=40,
    )
    # The second line is written 10 s after the first: seeing it arrive is following.
    assert "second line" not in log
    wait_for(
        lambda: "second line" in text_of(b, "#pod-log"), "the second log line, followed", timeout=40
    )
    why = text_of(b, "#pod-why")
    assert f"Running on node {NODE}" in why and "main: running" in why, why
    assert "Running" in text_of(b, "#pod-summary")
    wait_for(lambda: "Started" in text_of(b, "#pod-events"), "the pod's events")
    shot(b, "pod")
    assert b.execute_script("return window.kubelabNoReload") == "still here"


def test_a_page_the_role_does_not_allow_is_refused_in_the_apis_words(
    cluster: Cluster, browser_factory: Any
) -> None:
    ns = namespace(cluster, "team-a")
    cluster.client.create(
        "roles",
        {
            "metadata": {"name": "pod-reader"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log", "events"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        ns,
    )
    cluster.client.create(
        "rolebindings",
        {
            "metadata": {"name": "reader-reads"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [
                {"kind": "User", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
        ns,
    )
    cluster.client.create(
        "pods",
        {"metadata": {"name": "mine"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
        ns,
    )
    # The link `kl dashboard` prints: the token in the fragment, which no server sees.
    b = open_dashboard(browser_factory, cluster, f"#token={user_token(cluster, 'reader')}&ns={ns}")
    wait_for(lambda: text_of(b, "#who") == "reader", "signed in by the link")
    assert "token=" not in b.current_url  # wiped from the address bar and history
    alert = wait_for(lambda: text_of(b, "#problems [role=alert]"), "the nodes page refused")
    assert 'User "reader" cannot list resource "nodes"' in alert, alert
    b.get(f"{cluster.api.url}/dashboard/#/pods")
    wait_for(lambda: "mine" in text_of(b, "#pods-table tbody"), "the pods the Role allows")
    assert "Delete" not in text_of(b, "#pods-table")  # read-only: no write role
    b.get(f"{cluster.api.url}/dashboard/#/workloads")
    refused = wait_for(lambda: text_of(b, "#wl-deployments [role=alert]"), "deployments refused")
    assert 'cannot list resource "deployments"' in refused, refused


def test_scale_a_deployment_with_the_write_role(cluster: Cluster, browser_factory: Any) -> None:
    from selenium.webdriver.common.by import By

    ns = namespace(cluster, "dash-scale")
    role = yaml.safe_load((REPO / "deploy" / "examples" / "dashboard-operator.yaml").read_text())
    cluster.client.create("clusterroles", role)
    cluster.client.create(
        "clusterrolebindings",
        {
            "metadata": {"name": "op-operates"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role["metadata"]["name"],
            },
            "subjects": [{"kind": "User", "name": "op", "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )
    labels = {"app": "web"}
    cluster.client.create(
        "deployments",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
        ns,
    )
    b = open_dashboard(browser_factory, cluster, f"#token={user_token(cluster, 'op')}&ns={ns}")
    wait_for(lambda: text_of(b, "#who") == "op", "signed in")
    b.get(f"{cluster.api.url}/dashboard/#/workloads")
    wait_for(lambda: "1 of 1 updated, 1 ready" in text_of(b, "#wl-deployments"), "web rolled out")
    button = wait_for(
        lambda: b.find_element(
            By.CSS_SELECTOR, "button[aria-label='Scale deployment dash-scale/web']"
        ),
        "the Scale button the write role allows",
    )
    button.click()
    field = wait_for(lambda: b.find_element(By.ID, "confirm-field"), "the confirmation dialog")
    field.clear()
    field.send_keys("3")
    b.find_element(By.ID, "confirm-ok").click()
    wait_for(lambda: "scaled to 3" in text_of(b, "#status-line"), "the page saying it scaled")
    assert cluster.client.get("deployments", "web", ns)["spec"]["replicas"] == 3
    wait_for(
        lambda: "3 of 3 updated, 3 ready" in text_of(b, "#wl-deployments"),
        "3 ready, live",
        timeout=60,
    )
    shot(b, "workloads")
    events = cluster.client.list("events", ns, field_selector="involvedObject.name=web")["items"]
    mine = [e for e in events if e.get("source", {}).get("component") == "kubelab-dashboard"]
    assert mine and "by op" in mine[0]["message"] and "from 1 to 3" in mine[0]["message"], events
    audit = (cluster.api.home / "logs" / "audit.log").read_text().splitlines()
    scaled = [
        json.loads(line)
        for line in audit
        if '"scale"' in line and '"op"' in line and "/deployments/web/scale" in line
    ]
    assert scaled and scaled[-1]["verb"] == "patch", audit[-5:]


def test_the_dashboard_files_need_no_token_and_run_no_foreign_script(cluster: Cluster) -> None:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(cluster.api.ca_file))
    with urllib.request.urlopen(f"{cluster.api.url}/dashboard/", context=ctx) as r:
        csp = r.headers["Content-Security-Policy"]
        page = r.read().decode()
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert '<script type="module" src="app.js">' in page
    # The data is not public: an API list without a token is still refused.
    req = urllib.request.Request(f"{cluster.api.url}/api/v1/pods")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, context=ctx)
    assert err.value.code == 401


def test_the_link_kl_dashboard_prints_signs_in_and_leaves_no_token_in_the_address(
    cluster: Cluster, browser_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from kubectl.main import main as kl

    assert kl(["dashboard", "--kubeconfig", str(cluster.api.kubeconfig)]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith(f"{cluster.api.url}/dashboard/#token=")
    b = browser_factory(cluster.api.home / "pki" / "apiserver.crt")
    b.get(link)
    wait_for(lambda: text_of(b, "#who") == "admin", "signed in by the link alone")
    assert "token" not in b.current_url and b.current_url.endswith("/dashboard/#/nodes")
    assert kl(["dashboard", "--no-token", "--kubeconfig", str(cluster.api.kubeconfig)]) == 0
    assert capsys.readouterr().out.strip() == f"{cluster.api.url}/dashboard/"


def test_the_queues_page_shows_each_queues_share_and_follows_a_new_one(
    cluster: Cluster, browser_factory: Any
) -> None:
    def queue(name: str, gpus: int) -> dict[str, Any]:
        return {
            "apiVersion": "scheduling.kubelab.io/v1",
            "kind": "Queue",
            "metadata": {"name": name},
            "spec": {"nominal": {"nvidia.com/gpu": gpus}},
        }

    cluster.client.create("queues", queue("dash-alice", 1))
    try:
        b = open_dashboard(browser_factory, cluster, "#/queues")
        sign_in(b, cluster.api.token)
        b.get(f"{cluster.api.url}/dashboard/#/queues")
        wait_for(lambda: "dash-alice" in text_of(b, "#queues-table"), "alice's queue listed")
        header = text_of(b, "#queues-table th")
        assert "GPUS" in header and "FAIR-SHARE" in header, header
        b.execute_script("window.kubelabNoReload = 'still here'")
        cluster.client.create("queues", queue("dash-bob", 1))
        wait_for(lambda: "dash-bob" in text_of(b, "#queues-table"), "bob's queue, by watch")
        assert b.execute_script("return window.kubelabNoReload") == "still here"
    finally:
        for name in ("dash-alice", "dash-bob"):
            try:
                cluster.client.delete("queues", name)
            except Exception:  # noqa: BLE001 - a queue the test did not get to create
                pass
