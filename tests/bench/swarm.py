"""Docker Swarm, the peer of the burst and rolling-update benchmarks (issue 10).

Swarm runs on 127.0.0.1 (``docker swarm init``) and is left when the benchmark is done.
Every docker call has a deadline: a service whose tasks never start or never turn
healthy costs a minute, not the whole benchmark budget.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

SWARM_START_S = 60.0  # a service not running in this long will not run at all
SWARM_UPDATE_S = 120.0


def docker_cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; a hung call becomes a failed one instead of eating the budget."""
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            ["docker", *args], 124, "", f"timed out after {timeout}s"
        )


def swarm_running(name: str) -> tuple[int, str]:
    """How many of the service's tasks run, and what the others are doing (their states,
    and the last task error Swarm reported)."""
    r = docker_cli(
        "service", "ps", name, "--filter", "desired-state=running",
        "--format", "{{.CurrentState}}|{{.Error}}",
    )  # fmt: skip
    running, error = 0, ""
    others: dict[str, int] = {}
    for line in r.stdout.splitlines():
        state, _, err = line.partition("|")
        word = state.split(" ", 1)[0]  # "Pending 2 minutes ago" -> "Pending"
        if word == "Running":
            running += 1
        else:
            others[word] = others.get(word, 0) + 1
        error = err.strip() or error
    detail = ", ".join(f"{n} {w}" for w, n in sorted(others.items()))
    if error:
        detail += f"; Swarm says: {error[:160]}"
    return running, detail


def swarm_wait(name: str, want: int, seconds: float, updated: bool = False) -> str | None:
    """Wait until ``want`` tasks run (and, if ``updated``, the update completed); None when
    done, else why not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running, _ = swarm_running(name)
        if running >= want:
            if not updated:
                return None
            state = docker_cli(
                "service", "inspect", name, "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
            ).stdout.strip()  # fmt: skip
            if state == "completed":
                return None
            if state in ("paused", "rollback_completed", "rollback_paused"):
                return f"Swarm update ended {state}"
        time.sleep(0.2)
    running, detail = swarm_running(name)
    return f"{running}/{want} tasks running after {seconds:.0f} s" + (
        f" (others: {detail})" if detail else ""
    )


class SwarmUnavailable(Exception):
    """Swarm cannot be used here; the message says why."""


@contextmanager
def swarm() -> Iterator[None]:
    """This engine as a one-node swarm for the block (left after, if it was not one)."""
    state = docker_cli("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    joined_here = False
    if state != "active":
        r = docker_cli("swarm", "init", "--advertise-addr", "127.0.0.1")
        if r.returncode != 0:
            raise SwarmUnavailable(f"swarm init failed: {r.stderr.strip()[:200]}")
        joined_here = True
    try:
        yield
    finally:
        if joined_here:
            docker_cli("swarm", "leave", "--force")


@contextmanager
def service(*create_args: str) -> Iterator[str]:
    """A service made with ``docker service create --detach ARGS`` (removed after); yields
    its name."""
    name = f"klbench-{uuid.uuid4().hex[:6]}"
    try:
        r = docker_cli("service", "create", "--detach", "-q", "--name", name, *create_args)
        if r.returncode != 0:
            raise SwarmUnavailable(f"swarm service create failed: {r.stderr.strip()[:200]}")
        yield name
    finally:
        docker_cli("service", "rm", name)


def time_service_create(replicas: int, *args: str) -> tuple[float | None, str]:
    """Seconds from ``docker service create --replicas N ARGS`` to N tasks running."""
    try:
        with swarm():
            t0 = time.monotonic()
            with service("--replicas", str(replicas), *args) as name:
                why = swarm_wait(name, replicas, SWARM_START_S)
                took = time.monotonic() - t0
                if why:
                    return None, f"Swarm did not start the service: {why}"
                return took, f"docker service create --replicas {replicas}, same image"
    except SwarmUnavailable as e:
        return None, str(e)
