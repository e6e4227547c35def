"""A real kubelab cluster for the compatibility tests, and the real kubectl to drive it.

One cluster serves the whole compat session (an apiserver over HTTPS, and the
scheduler, controller manager and a fake-runtime kubelet as subprocesses). Each
test works in its own namespace, so tests do not see each other's objects.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.harness import ApiServer, Component, free_port, start_apiserver
from tests.tools.kubectl import ensure_kubectl
from tests.wait import wait_for

NODE_NAME = "compat-node"
T = TypeVar("T")


def component_available(name: str) -> bool:
    """True once ``<name>/main.py`` (the component's entry point) exists."""
    return importlib.util.find_spec(f"{name}.main") is not None


@dataclass
class Cluster:
    """The running cluster: the apiserver, the other components, and a client."""

    api: ApiServer
    components: dict[str, Component] = field(default_factory=dict)
    node_name: str = ""

    def client(self) -> Any:
        return self.api.client()

    def has(self, *names: str) -> bool:
        return all(n in self.components and self.components[n].alive() for n in names)

    def require(self, *names: str) -> None:
        """Skip a test that needs components which do not exist in this tree yet."""
        missing = [n for n in names if n not in self.components]
        if missing:
            pytest.skip(f"needs {', '.join(missing)} (no {missing[0]}/main.py yet)")
        dead = [n for n in names if not self.components[n].alive()]
        assert not dead, "component exited: " + "; ".join(
            f"{n}:\n{self.components[n].log()[-3000:]}" for n in dead
        )

    def logs(self) -> str:
        parts = [f"--- apiserver\n{self.api.component.log()[-4000:] if self.api.component else ''}"]
        for name, comp in self.components.items():
            parts.append(f"--- {name}\n{comp.log()[-4000:]}")
        return "\n".join(parts)


def _start_components(api: ApiServer) -> dict[str, Component]:
    comps: dict[str, Component] = {}
    if component_available("scheduler"):
        comps["scheduler"] = api.component_proc("scheduler").start()
    if component_available("controllers"):
        comps["controllers"] = api.component_proc("controllers").start()
    if component_available("kubelet"):
        secret = api.home / "kubelet-secret"
        # Simulated GPUs, so GPU scheduling and the GPU columns show through kubectl.
        args = ["--runtime", "fake", "--node-name", NODE_NAME, "--address", "127.0.0.1"]
        args += ["--port", str(free_port()), "--fake-gpus", "2xH100-80GB"]
        if secret.exists():
            args += ["--kubelet-secret-file", str(secret)]
        comps["kubelet"] = api.component_proc("kubelet", *args).start()
    return comps


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A whole kubelab cluster for the compat session."""
    api = start_apiserver(tmp_path_factory.mktemp("compat") / "home")
    comps = _start_components(api)
    c = Cluster(api, comps, NODE_NAME if "kubelet" in comps else "")
    try:
        if "kubelet" in comps:
            cl = c.client()

            def node_ready() -> bool:
                node = cl.get("nodes", NODE_NAME)
                conds = (node.get("status") or {}).get("conditions") or []
                return any(x.get("type") == "Ready" and x.get("status") == "True" for x in conds)

            try:
                wait_for(node_ready, "the kubelet's node to be Ready", 60, interval=0.2)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{c.logs()}") from None
        yield c
    finally:
        for comp in comps.values():
            comp.stop(5)
        api.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test (deleted afterwards, best effort)."""
    name = "t-" + uuid.uuid4().hex[:8]
    cl = cluster.client()
    cl.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    try:
        cl.delete("namespaces", name)
    except Exception:
        pass


@dataclass
class Kubectl:
    """The real kubectl binary, pointed at the cluster with a private HOME (fresh cache)."""

    binary: Path
    kubeconfig: Path
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # kubectl warns on stderr when it cannot find a pager or editor; keep it quiet.
            "KUBECTL_INTERACTIVE_DELETE": "false",
        }

    def run(
        self, *args: str, input: str | None = None, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; return the finished process whatever its exit code."""
        return subprocess.run(
            [str(self.binary), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )

    def __call__(self, *args: str, input: str | None = None, timeout: float = 90) -> str:
        """Run kubectl, assert exit code 0, return stdout."""
        p = self.run(*args, input=input, timeout=timeout)
        assert p.returncode == 0, (
            f"kubectl {' '.join(args)} exited {p.returncode}\n"
            f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        )
        return p.stdout

    def fails(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl expecting a non-zero exit code."""
        p = self.run(*args, input=input)
        assert p.returncode != 0, f"kubectl {' '.join(args)} unexpectedly succeeded:\n{p.stdout}"
        return p

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running kubectl (``get -w``, ``logs -f``); stdout is a raw pipe."""
        return subprocess.Popen(
            [str(self.binary), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env(),
        )


@pytest.fixture(scope="session")
def kubectl_binary() -> Path:
    return ensure_kubectl()


@pytest.fixture(scope="session")
def kubectl(
    cluster: Cluster, kubectl_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    return Kubectl(kubectl_binary, cluster.api.kubeconfig, tmp_path_factory.mktemp("kube-home"))
