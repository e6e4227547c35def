"""A real kubelab cluster for the compatibility tests, and the real kubectl to drive it.

One cluster serves the whole compat session (tests/cluster.py's: an apiserver over HTTPS,
and the scheduler, controller manager and a fake-runtime kubelet as subprocesses). Each
test works in its own namespace, so tests do not see each other's objects.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.harness import free_port
from tests.tools.kubectl import ensure_kubectl

NODE_NAME = "compat-node"


def component_available(name: str) -> bool:
    """True once ``<name>/main.py`` (the component's entry point) exists."""
    return importlib.util.find_spec(f"{name}.main") is not None


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A whole kubelab cluster for the compat session."""
    with Cluster(tmp_path_factory.mktemp("compat") / "home") as c:
        c.add_scheduler()
        c.add_controllers()
        # Simulated GPUs, so GPU scheduling and the GPU columns show through kubectl.
        c.add_kubelet(
            NODE_NAME,
            "--address",
            "127.0.0.1",
            scheme=None,
            port=free_port(),
            fake_gpus="2xH100-80GB",
        )
        c.wait_nodes_ready(timeout=60)
        yield c


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test (deleted afterwards, best effort)."""
    name = "t-" + uuid.uuid4().hex[:8]
    cl = cluster.api.client()
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
