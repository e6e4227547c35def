"""On a fake-runtime cluster the examples' commands behave as on Docker: the README's
training Job completes after its ``sleep 30`` with its ``echo`` lines in ``kl logs``, an
``echo`` Job completes at once, and a failing command fails its Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.harness import REPO
from tests.up_cluster import UpCluster
from tests.wait import wait_for

TRAINING_JOB = REPO / "deploy" / "examples" / "gpu-training-job.yaml"


def _job(name: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                    ],
                }
            },
        },
    }


def _condition(c: Any, job: str) -> str | None:
    conds = (c.get("jobs", job, "default").get("status") or {}).get("conditions") or []
    done = [x["type"] for x in conds if x.get("status") == "True"]
    return done[0] if done else None


def test_jobs_finish_as_their_commands_say(tmp_path: Path) -> None:
    up = UpCluster(tmp_path / "home", ["--runtime", "fake", "--fake-gpus", "2xH100-80GB"]).start()
    try:
        c = up.client()
        up.kl("apply", "-f", str(TRAINING_JOB))
        docs = [_job("hello", "echo hello from fake"), _job("broken", "echo oops; false")]
        up.kl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

        assert wait_for(lambda: _condition(c, "hello"), "Job hello finished") == "Complete"
        (pod,) = c.list("pods", "default", label_selector="job-name=hello")["items"]
        assert up.kl("logs", pod["metadata"]["name"]) == "hello from fake\n"
        assert wait_for(lambda: _condition(c, "broken"), "Job broken finished") == "Failed"

        # The tutorial's `train` Job: `sleep 30` ends, so the Job completes.
        assert wait_for(lambda: _condition(c, "train"), "Job train finished", 90) == "Complete"
        (pod,) = c.list("pods", "default", label_selector="job-name=train")["items"]
        logs = up.kl("logs", pod["metadata"]["name"])
        assert "training...\ndone\n" in logs and "GPU 0: " in logs, logs
    finally:
        up.stop()
