"""Running ``kl`` as a subprocess in tests, and comparing its tables with golden files."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness import REPO, ApiServer

GOLDEN = Path(__file__).parent / "golden"
UPDATE_ENV = "KL_UPDATE_GOLDEN"  # set to 1 to rewrite the golden files


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.rc == 0, f"kl failed (rc={self.rc}):\n{self.err}\n{self.out}"
        return self

    def one_error_line(self) -> str:
        """Assert kl failed with exactly one ``error: ...`` line on stderr; return it."""
        assert self.rc == 1, f"expected exit 1, got {self.rc}: {self.err}{self.out}"
        lines = self.err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {self.err!r}"
        assert lines[0].startswith("error: "), lines[0]
        assert "Traceback" not in self.err
        return lines[0]


def kl(
    kubeconfig: str | Path,
    *args: str,
    stdin: str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> Result:
    """Run ``python -m kubectl.main ARGS`` with ``KUBECONFIG`` pointing at ``kubeconfig``."""
    full_env = dict(os.environ)
    full_env.pop("KUBELAB_HOME", None)
    full_env["KUBECONFIG"] = str(kubeconfig)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    p = subprocess.run(
        [sys.executable, "-m", "kubectl.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
        env=full_env,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def mask_columns(table: str, columns: tuple[str, ...] = ("AGE",)) -> str:
    """Replace each cell under ``columns`` by stars as wide as the header ("AGE" → "***").

    Ages under 100 s are at most three characters, as wide as "AGE", so the column keeps
    its width and every other cell stays exactly where kl put it. A blank line starts a
    new table (with its own header)."""
    out: list[str] = []
    starts: list[tuple[int, int]] = []
    for line in table.splitlines():
        if not line.strip():
            starts = []
            out.append(line)
            continue
        if not starts:  # a header line
            starts = [(line.find(c), len(c)) for c in columns if line.find(c) >= 0]
            out.append(line)
            continue
        chars = list(line)
        for s, width in starts:
            end = s
            while end < len(chars) and chars[end] != " ":
                end += 1
            end = max(end, s + width)
            chars.extend(" " * (end - len(chars)))
            chars[s:end] = "*" * (end - s)
        out.append("".join(chars))
    return "\n".join(out) + ("\n" if table.endswith("\n") else "")


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/NAME`` (rewrite it when KL_UPDATE_GOLDEN=1)."""
    path = GOLDEN / name
    if os.environ.get(UPDATE_ENV) == "1" or not path.exists():
        if os.environ.get(UPDATE_ENV) != "1":
            raise AssertionError(f"golden file {path} is missing; run with {UPDATE_ENV}=1")
        path.write_text(text)
    assert text == path.read_text(), f"output differs from {path}:\n{text}"


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data: {mode: fast, level: "3"}
"""


def pod_manifest(
    name: str, *, gpus: int = 0, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A one-container pod (optionally asking for GPUs)."""
    container: dict[str, Any] = {"name": "main", "image": "busybox"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [container]},
    }


class Kl:
    """kl bound to one server and one namespace, with an API client beside it."""

    def __init__(self, srv: ApiServer, ns: str) -> None:
        self.srv, self.ns = srv, ns
        self.c = srv.client()

    def __call__(self, *args: str, stdin: str | None = None, **kw: Any) -> Result:
        return kl(self.srv.kubeconfig, "-n", self.ns, *args, stdin=stdin, **kw)


def namespaced_kl(srv: ApiServer, test_name: str) -> Kl:
    """A fresh namespace named after the test, and kl pointed at it."""
    ns = "t-" + test_name.replace("_", "-").lower()[5:40].strip("-")
    kl(srv.kubeconfig, "create", "namespace", ns).ok()
    return Kl(srv, ns)


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)
