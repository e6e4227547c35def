"""The audit log of a real apiserver: who deleted the job is in it (user, verb, object,
code, what was sent), a Secret's value never is, and `kubelab audit` finds the entry."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.harness import ApiServer
from tests.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
VALUE = "hunter2-the-lab-password"


def entries(home: Path) -> list[dict[str, Any]]:
    log = home / "logs" / "audit.log"
    if not log.exists():
        return []
    return [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]


def test_who_deleted_my_job(apiserver: ApiServer) -> None:
    c = apiserver.client()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "t", "image": "busybox"}],
                }
            }
        },
    }
    c.create("jobs", job, "default")
    secret = {"metadata": {"name": "db"}, "data": {"pw": base64.b64encode(VALUE.encode()).decode()}}
    c.create("secrets", secret, "default")
    c.get("jobs", "train", "default")
    c.delete("jobs", "train", "default")
    home = Path(apiserver.home)

    def deleted() -> dict[str, Any] | None:
        for e in entries(home):
            if e["verb"] == "delete" and e.get("objectRef", {}).get("name") == "train":
                return e
        return None

    e = wait_for(deleted, "the job's delete in the audit log")
    assert e["apiVersion"] == "audit.k8s.io/v1" and e["kind"] == "Event"
    assert e["user"]["username"] == "admin" and e["responseStatus"]["code"] == 200
    assert e["objectRef"] == {
        "resource": "jobs",
        "apiGroup": "batch",
        "apiVersion": "v1",
        "namespace": "default",
        "name": "train",
    }
    all_entries = entries(home)
    create = next(
        x for x in all_entries if x["verb"] == "create" and x["objectRef"]["resource"] == "jobs"
    )
    assert create["level"] == "Request" and create["requestObject"]["metadata"]["name"] == "train"
    sec = next(x for x in all_entries if x["objectRef"].get("resource") == "secrets")
    assert sec["level"] == "Metadata" and "requestObject" not in sec
    assert not any(x["verb"] == "get" for x in all_entries)  # reads are not logged by default
    raw = (home / "logs" / "audit.log").read_bytes()
    assert secret["data"]["pw"].encode() not in raw and VALUE.encode() not in raw

    shown = subprocess.run(
        [sys.executable, "-m", "kubelab", "audit", "--home", str(home), "--verb", "delete",
         "--resource", "jobs", "-n", "default"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    (line,) = shown.stdout.strip().splitlines()
    assert "admin  delete jobs default/train  -> 200" in line
