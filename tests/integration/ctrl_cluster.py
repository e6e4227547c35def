"""A small real cluster for the controller integration tests and benchmark: apiserver,
scheduler, fake-runtime kubelets and the controller manager, each its own process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import ApiServer, Component, start_apiserver
from tests.wait import wait_for

# Shortened timings so node failure, leases and Job back-off play out in seconds.
FAST_CONTROLLER_FLAGS = [
    "--node-monitor-grace-period",
    "4",
    "--node-monitor-period",
    "0.5",
    "--pod-eviction-timeout",
    "2",
    "--job-backoff-base",
    "0.2",
    "--leader-elect-lease-duration",
    "3",
    "--leader-elect-renew-deadline",
    "2",
    "--leader-elect-retry-period",
    "0.5",
]


class Cluster:
    """Processes of one test cluster; ``stop`` ends every one of them."""

    def __init__(
        self, home: Path, nodes: int = 2, hollow: int = 0, controller_flags: list[str] | None = None
    ) -> None:
        self.api: ApiServer = start_apiserver(home)
        self.client = self.api.client()
        self.procs: list[Component] = []
        self.kubelets: dict[str, Component] = {}
        self.scheduler = self._start("scheduler", "--metrics-port", "0")
        for i in range(nodes):
            self.start_kubelet(f"node-{i}")
        if hollow:
            self._start(
                "kubelet",
                "--home",
                str(self.api.home),
                "--runtime",
                "fake",
                "--hollow",
                str(hollow),
                "--node-name",
                "hollow",
                "--port",
                "0",
                "--scheme",
                "http",
            )
        self.controller_flags = list(
            controller_flags if controller_flags is not None else FAST_CONTROLLER_FLAGS
        )
        self.controllers = self.start_controllers()

    def _start(self, name: str, *args: str) -> Component:
        c = self.api.component_proc(name, *args).start()
        self.procs.append(c)
        return c

    def start_kubelet(self, node: str) -> Component:
        k = self._start(
            "kubelet",
            "--home",
            str(self.api.home),
            "--runtime",
            "fake",
            "--node-name",
            node,
            "--port",
            "0",
            "--scheme",
            "http",
            "--lease-renew",
            "1",
            "--status-report-period",
            "1",
        )
        self.kubelets[node] = k
        return k

    def start_controllers(self, *extra: str) -> Component:
        return self._start("controllers", *self.controller_flags, *extra)

    def wait_nodes(self, n: int, timeout: float = 30) -> None:
        wait_for(lambda: len(self.ready_nodes()) >= n, f"{n} ready nodes", timeout)

    def ready_nodes(self) -> list[str]:
        out = []
        for node in self.client.list("nodes")["items"]:
            for c in (node.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready" and c.get("status") == "True":
                    out.append(node["metadata"]["name"])
        return out

    def logs(self) -> str:
        return "\n".join(f"==== {' '.join(p.args[:1])}\n{p.log()[-3000:]}" for p in self.procs)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop(5)
        self.api.stop()


def deployment(name: str, replicas: int, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "srv",
                            "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                        }
                    ],
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def live_pods(client: Any, ns: str, selector: str | None = None) -> list[dict[str, Any]]:
    """Pods that count: not terminating, not finished."""
    items = client.list("pods", ns, label_selector=selector)["items"]
    return [
        p
        for p in items
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def rollout_done(d: dict[str, Any]) -> bool:
    """`kubectl rollout status`'s test (API-COMPAT §7)."""
    st = d.get("status") or {}
    n = d["spec"]["replicas"]
    prog = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), {})
    return bool(
        d["metadata"].get("generation", 0) <= st.get("observedGeneration", 0)
        and st.get("updatedReplicas", 0) >= n
        and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
        and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0)
        and prog.get("reason") != "ProgressDeadlineExceeded"
    )
