"""CronJobs against a real apiserver, controller manager (its Job controller) and a
fake-runtime kubelet, with the CronJob controller run here on a clock the test moves:
Jobs at each scheduled minute, Forbid holding back while one runs, history limits, and
``kl create job --from=cronjob/x``. No test waits for a real minute."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from client import AsyncClient, InformerFactory
from client.events import EventRecorder
from controllers.base import Context, Options
from controllers.cronjob import CronJobController
from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(240)


class MovedClock:
    """The CronJob controller's time: starts now, moves only when the test says."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingCronJobs(CronJobController):
    """The controller, counting syncs that have finished (with their writes made)."""

    finished = 0

    async def sync(self, key: str) -> float | None:
        try:
            return await super().sync(key)
        finally:
            self.finished += 1


class InProcessCronJobs:
    """A CronJob controller on its own event loop thread, fed by shared informers."""

    def __init__(self, kubeconfig: str, clock: MovedClock) -> None:
        self.kubeconfig = kubeconfig
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.controller: CountingCronJobs | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        client = AsyncClient.from_kubeconfig(self.kubeconfig)
        informers = InformerFactory(client)
        recorder = EventRecorder(client, "test-cronjob", clock=self.clock)
        ctx = Context(client, informers, recorder, Options(), self.clock)
        self.controller = CountingCronJobs(ctx)
        self.controller.setup()
        self._stop = asyncio.Event()
        informers.start()
        events = asyncio.create_task(recorder.run())
        try:
            await informers.wait_synced()
            worker = asyncio.create_task(self.controller.run(2))
            self.ready.set()
            await self._stop.wait()
            self.controller.queue.shutdown()
            worker.cancel()
        finally:
            events.cancel()
            await informers.stop()
            await client.close()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(30), "the in-process CronJob controller did not start"

    def tick(self, seconds: float, key: str) -> int:
        """Move the clock and look at ``key`` again; returns the finished syncs before."""
        assert self.controller is not None
        before = self.controller.finished
        self.clock.now += seconds
        self.loop.call_soon_threadsafe(self.controller.enqueue, key)
        return before

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("cj") / "home") as c:
        c.add_scheduler()
        # Every controller but the CronJob one, which runs in this process on a test clock.
        c.add_controllers(*FAST_CONTROLLER_FLAGS, "--controllers", "*,-cronjob")
        c.add_kubelet("node-0")
        c.wait_nodes_ready("node-0", timeout=60)
        yield c


@pytest.fixture
def cronjobs(cluster: Cluster) -> Iterator[InProcessCronJobs]:
    cj = InProcessCronJobs(str(cluster.api.kubeconfig), MovedClock())
    cj.start()
    yield cj
    cj.stop()


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-").lower()[:50].strip("-")
    cluster.client.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def cronjob(name: str, script: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {
                "metadata": {"labels": {"cron": name}},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "busybox",
                                    "command": ["sh", "-c", script],
                                }
                            ],
                        }
                    },
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def jobs_of(c: Any, ns: str) -> list[dict[str, Any]]:
    return c.list("jobs", ns)["items"]


def complete(job: dict[str, Any]) -> bool:
    return any(
        x.get("type") == "Complete" and x.get("status") == "True"
        for x in (job.get("status") or {}).get("conditions") or []
    )


def test_jobs_each_minute_and_history_limit(
    cluster: Cluster, cronjobs: InProcessCronJobs, ns: str
) -> None:
    c = cluster.client
    c.create("cronjobs", cronjob("tick", "echo tick", successfulJobsHistoryLimit=2), ns)
    key = f"{ns}/tick"
    made: list[str] = []
    for _ in range(4):
        cronjobs.tick(60, key)
        minute = int(cronjobs.clock.now) // 60
        name = f"tick-{minute}"
        job = wait_for(
            lambda n=name: next((j for j in jobs_of(c, ns) if j["metadata"]["name"] == n), None),
            f"job {name}",
        )
        assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        wait_for(lambda n=name: complete(c.get("jobs", n, ns)), f"{name} complete")
        made.append(name)
    cronjobs.tick(1, key)
    wait_for(
        lambda: sorted(j["metadata"]["name"] for j in jobs_of(c, ns)) == made[-2:],
        "the two newest successful Jobs kept",
    )
    st = c.get("cronjobs", "tick", ns)["status"]
    assert st["lastScheduleTime"] and st["lastSuccessfulTime"] and "active" not in st
    table = kl(cluster.api.kubeconfig, "get", "cj", "-n", ns).ok().out
    header, row = table.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert row.startswith("tick ") and "*/1 * * * *" in row
    assert row.split()[6:9] == ["<none>", "False", "0"]


def test_forbid_skips_while_one_runs(
    cluster: Cluster, cronjobs: InProcessCronJobs, ns: str
) -> None:
    c = cluster.client
    c.create("cronjobs", cronjob("slow", "sleep 3600", concurrencyPolicy="Forbid"), ns)
    key = f"{ns}/slow"
    cronjobs.tick(60, key)
    first = f"slow-{int(cronjobs.clock.now) // 60}"
    wait_for(lambda: [j["metadata"]["name"] for j in jobs_of(c, ns)] == [first], "the first Job")
    wait_for(lambda: c.get("cronjobs", "slow", ns).get("status", {}).get("active"), "active")
    before = cronjobs.tick(60, key)
    # The controller looked again at the later minute (a sync finished since) ...
    ctrl = cronjobs.controller
    assert ctrl is not None
    wait_for(lambda: ctrl.finished > before, "a sync at the next minute")
    # ... and started nothing while the first one runs.
    assert [j["metadata"]["name"] for j in jobs_of(c, ns)] == [first]
    c.delete("jobs", first, ns, propagation_policy="Background")
    wait_for(lambda: not any(j["metadata"]["name"] == first for j in jobs_of(c, ns)), "gone")
    # The Job's deletion alone wakes the controller; the clock stays put, so the name to
    # expect cannot cross a minute (moving it a second here once raced that wake-up).
    cronjobs.tick(0, key)
    second = f"slow-{int(cronjobs.clock.now) // 60}"
    wait_for(
        lambda: [j["metadata"]["name"] for j in jobs_of(c, ns)] == [second],
        "the later minute's Job once the first is gone",
    )


def test_kl_create_job_from_cronjob(cluster: Cluster, ns: str) -> None:
    c = cluster.client
    c.create("cronjobs", cronjob("nightly", "echo now", suspend=True), ns)
    out = kl(cluster.api.kubeconfig, "create", "job", "by-hand", "--from=cronjob/nightly", "-n", ns)
    assert out.ok().out.strip() == "job.batch/by-hand created"
    job = c.get("jobs", "by-hand", ns)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["labels"]["cron"] == "nightly"
    owner = job["metadata"]["ownerReferences"][0]
    assert (
        owner["kind"] == "CronJob"
        and owner["uid"] == c.get("cronjobs", "nightly", ns)["metadata"]["uid"]
    )
    wait_for(lambda: complete(c.get("jobs", "by-hand", ns)), "the Job runs")
    page = kl(cluster.api.kubeconfig, "describe", "cj", "nightly", "-n", ns).ok().out
    assert "Schedule:" in page and "*/1 * * * *" in page and "Suspend:" in page
    err = kl(cluster.api.kubeconfig, "create", "job", "x", "--from=deploy/web", "-n", ns)
    assert "--from must name a CronJob" in err.one_error_line()
