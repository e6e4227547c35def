"""The HorizontalPodAutoscaler against a real apiserver, scheduler, controller manager and
a fake-runtime kubelet whose pods report the usage their ``kubelab.io/simulated-usage``
annotation says: raising it scales a Deployment up, lowering it scales it back down after
the (shortened) stabilization window; the conditions, the events and the status kubectl
shows. ``kl autoscale``, ``kl get hpa`` and ``kl describe hpa``; the real kubectl's
``get hpa`` TARGETS column and ``describe``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.integration.hpa_cluster import USAGE, hpa_cluster
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with hpa_cluster(tmp_path_factory.mktemp("hpa") / "home") as c:
        yield c


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "busybox",
                            "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }


def pods_of(c: Any, app: str) -> list[dict[str, Any]]:
    items = c.list("pods", "default", label_selector=f"app={app}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def set_usage(c: Any, app: str, cpu: str) -> None:
    for p in pods_of(c, app):
        c.patch(
            "pods",
            p["metadata"]["name"],
            {"metadata": {"annotations": {USAGE: f"cpu={cpu},memory=32Mi"}}},
            "default",
        )


def replicas(c: Any, name: str) -> int:
    return int(c.get("deployments", name, "default")["spec"]["replicas"])


def conditions(hpa: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        x["type"]: (x["status"], x["reason"])
        for x in (hpa.get("status") or {}).get("conditions") or []
    }


def events_of(c: Any, name: str) -> list[tuple[str, str]]:
    items = c.list(
        "events",
        "default",
        field_selector=f"involvedObject.name={name},involvedObject.kind=HorizontalPodAutoscaler",
    )["items"]
    return [(e["reason"], e["message"]) for e in items]


def test_usage_scales_a_deployment_up_then_down(cluster: Cluster) -> None:
    c = cluster.client
    c.create("deployments", deployment("web"), "default")
    wait_for(lambda: len(pods_of(c, "web")) == 2, "two pods")
    r = kl(
        cluster.api.kubeconfig,
        "autoscale",
        "deployment/web",
        "--min",
        "1",
        "--max",
        "4",
        "--cpu-percent",
        "50",
    )
    assert r.rc == 0, r.err
    assert r.out.strip() == "horizontalpodautoscaler.autoscaling/web autoscaled"

    # At 25 % of the request each (50 m of 200 m): below the target, down to the minimum.
    set_usage(c, "web", "50m")
    wait_for(lambda: replicas(c, "web") == 1, "scaled down to minReplicas", timeout=60)
    wait_for(lambda: len(pods_of(c, "web")) == 1, "one pod left", timeout=60)

    # 400 m of 200 m = 200 % against 50 %: four times as many, capped at maxReplicas.
    set_usage(c, "web", "400m")
    wait_for(lambda: replicas(c, "web") == 4, "scaled up to maxReplicas", timeout=60)
    assert (
        "SuccessfulRescale",
        "New size: 4; reason: cpu resource utilization (percentage of request) above target",
    ) in events_of(c, "web")
    hpa = c.get("horizontalpodautoscalers", "web", "default")
    assert conditions(hpa)["ScalingActive"] == ("True", "ValidMetricFound")
    assert hpa["status"]["lastScaleTime"]

    # The new pods report nothing until annotated (missing: taken as 0 % on a scale up).
    wait_for(lambda: len(pods_of(c, "web")) == 4, "four pods", timeout=60)
    # Every pod at 200 %: 16 wanted, held at maxReplicas, and the condition says so.
    set_usage(c, "web", "400m")
    wait_for(
        lambda: (
            conditions(c.get("horizontalpodautoscalers", "web", "default")).get("ScalingLimited")
            == ("True", "TooManyReplicas")
        ),
        "limited by maxReplicas",
        timeout=30,
    )
    # At the target: the table and describe pages show the measured utilization.
    set_usage(c, "web", "100m")
    wait_for(
        lambda: (
            (
                (
                    (c.get("horizontalpodautoscalers", "web", "default").get("status") or {}).get(
                        "currentMetrics"
                    )
                    or [{}]
                )[0]
                .get("resource", {})
                .get("current", {})
                .get("averageUtilization")
            )
            == 50
        ),
        "50 % measured",
        timeout=30,
    )
    r = kl(cluster.api.kubeconfig, "get", "hpa")
    assert r.rc == 0, r.err
    assert r.out.split("\n")[0].split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert "Deployment/web   cpu: 50%/50%   1         4         4" in r.out
    r = kl(cluster.api.kubeconfig, "describe", "hpa", "web")
    assert r.rc == 0, r.err
    assert "resource cpu on pods  (as a percentage of request):  50% (100m) / 50%" in r.out
    assert "Deployment pods:" in r.out and "4 current / 4 desired" in r.out
    assert "SuccessfulRescale" in r.out

    # Idle: 10 %. Down to the minimum once the 3 s stabilization window has passed.
    set_usage(c, "web", "20m")
    wait_for(lambda: replicas(c, "web") == 1, "scaled back down", timeout=60)
    assert any(
        reason == "SuccessfulRescale" and msg == "New size: 1; reason: All metrics below target"
        for reason, msg in events_of(c, "web")
    )


def test_missing_target_and_missing_metrics_are_reported(cluster: Cluster) -> None:
    c = cluster.client
    r = kl(cluster.api.kubeconfig, "autoscale", "deployment/nothere", "--max", "3")
    assert r.rc == 1 and "nothere" in r.err and "not found" in r.err
    body: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "ghost"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost"},
            "maxReplicas": 3,
        },
    }
    c.create("horizontalpodautoscalers", body, "default")
    wait_for(
        lambda: (
            conditions(c.get("horizontalpodautoscalers", "ghost", "default")).get("AbleToScale")
            == ("False", "FailedGetScale")
        ),
        "FailedGetScale",
        timeout=30,
    )
    # A Deployment whose pods report no usage (no annotation): FailedGetResourceMetric.
    c.create("deployments", deployment("quiet", replicas=1), "default")
    wait_for(lambda: len(pods_of(c, "quiet")) == 1, "one pod")
    body["metadata"]["name"] = "quiet"
    body["spec"]["scaleTargetRef"]["name"] = "quiet"
    c.create("horizontalpodautoscalers", body, "default")
    wait_for(
        lambda: (
            conditions(c.get("horizontalpodautoscalers", "quiet", "default")).get(
                "ScalingActive", ("", "")
            )[1]
            == "FailedGetResourceMetric"
        ),
        "FailedGetResourceMetric",
        timeout=30,
    )
    assert replicas(c, "quiet") == 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_get_and_describe(cluster: Cluster) -> None:
    c = cluster.client
    wait_for(lambda: c.get("horizontalpodautoscalers", "web", "default").get("status"), "status")
    env = {"KUBECONFIG": str(cluster.api.kubeconfig), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        ["kubectl", "get", "hpa", "web"], capture_output=True, text=True, env=env, timeout=30
    )
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert row.split()[:3] == ["web", "Deployment/web", "cpu:"]
    ours = kl(cluster.api.kubeconfig, "describe", "hpa", "web").out
    theirs = subprocess.run(
        ["kubectl", "describe", "hpa", "web"], capture_output=True, text=True, env=env, timeout=30
    )
    assert theirs.returncode == 0, theirs.stderr
    # Line for line, up to the events' ages (which tick between the two calls).
    cut = lambda s: s.split("Events:")[0]  # noqa: E731
    assert cut(ours) == cut(theirs.stdout)
