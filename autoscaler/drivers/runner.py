"""Runs a driver's command lines: the real runner (subprocess, no shell) and the
recording runner the unit tests check command lines with."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autoscaler.drivers import PowerError


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], timeout: float
    ) -> Completed: ...


def run_command(argv: Sequence[str], env: Mapping[str, str], timeout: float) -> Completed:
    """Run ``argv`` (no shell) with ``env`` added to this process's environment."""
    try:
        done = subprocess.run(
            list(argv),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PowerError(f"{argv[0]}: {exc}") from exc
    return Completed(done.returncode, done.stdout, done.stderr)


def checked(
    runner: CommandRunner, argv: Sequence[str], env: Mapping[str, str], timeout: float
) -> str:
    """Run and raise :class:`PowerError` on a non-zero exit; returns stdout."""
    done = runner(argv, env, timeout)
    if done.returncode != 0:
        out = (done.stderr or done.stdout).strip().splitlines()
        raise PowerError(f"{argv[0]} exited {done.returncode}" + (f": {out[-1]}" if out else ""))
    return done.stdout


@dataclass
class RecordingRunner:
    """Records every command line and answers with ``result``; runs nothing."""

    result: Completed = Completed(0)
    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], env: Mapping[str, str], timeout: float) -> Completed:
        self.calls.append((list(argv), dict(env)))
        return self.result
