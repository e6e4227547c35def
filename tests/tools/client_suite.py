"""Run the official Python client's own end-to-end suite (``kubernetes/e2e_test/`` of
kubernetes-client/python) unmodified against a fresh kubelab test cluster, and print its
pass/fail counts (docs/client-suites.md records them).

    python -m tests.tools.client_suite --repo /work/.mirror/kubernetes-client+python/repo

``--repo`` is a git directory of kubernetes-client/python (the ``fetch`` tool's snapshot).
The suite imports itself as ``kubernetes.e2e_test``, so it runs from a scratch folder
holding a copy of the installed ``kubernetes`` release with the suite's folder beside its
modules; neither is changed, and nothing of it is kept in this repository. The suite finds
the cluster through ``$KUBECONFIG`` (its base.py), which points at the test cluster's
admin kubeconfig: an apiserver, scheduler, controller manager and one fake-runtime kubelet
(no images can be pulled here, so containers are the fake runtime's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes

from tests.cluster import Cluster
from tests.harness import free_port

SUITE = "kubernetes/e2e_test"


def assemble(repo: Path, into: Path) -> Path:
    """A folder where ``kubernetes`` is the installed release plus the repo's e2e_test."""
    package = into / "kubernetes"
    shutil.copytree(Path(kubernetes.__file__).parent, package)
    listing = subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "-r", "HEAD", SUITE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        sha = meta.split()[2]
        target = into / path
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(
            ["git", "--git-dir", str(repo), "cat-file", "blob", sha],
            check=True,
            capture_output=True,
        ).stdout
        target.write_bytes(blob)
    return package / "e2e_test"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True, help="git dir of kubernetes-client/python")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k watch)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="client-suite-") as tmp:
        scratch = Path(tmp)
        suite = assemble(args.repo, scratch / "src")
        with Cluster(scratch / "home") as cl:
            cl.add_scheduler()
            cl.add_controllers()
            cl.add_kubelet("e2e-node", "--address", "127.0.0.1", scheme=None, port=free_port())
            cl.wait_nodes_ready(timeout=60)
            env = dict(os.environ, KUBECONFIG=str(cl.api.kubeconfig))
            env["PYTHONPATH"] = str(scratch / "src")
            cmd = [sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider"]
            cmd += ["-q", "-rfEs", "--rootdir", str(scratch / "src"), "-c", os.devnull]
            cmd += ["-o", "timeout=120", *args.pytest_args]
            return subprocess.run(cmd, env=env, cwd=str(scratch / "src")).returncode


if __name__ == "__main__":
    sys.exit(main())
