"""Which init container a pod needs next, Kubernetes' rules: one at a time, in order,
each to a zero exit before the next (and before any app container). Pure functions, used
by the sync plan (``plan.compute_pod_actions``) and the status (``status.pod_status``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubelet.runtime.base import ContainerInfo


@dataclass(frozen=True)
class InitStep:
    """What the worker does about init containers on this sync."""

    initialized: bool = False  # every init container succeeded: run the app containers
    container: str | None = None  # start, restart or wait for this init container
    failed: str | None = None  # this one failed and restartPolicy Never: the pod fails


def succeeded(info: ContainerInfo | None) -> bool:
    return info is not None and info.exited and (info.exit_code or 0) == 0


def next_init_step(
    names: Sequence[str],
    current: Mapping[str, ContainerInfo | None],
    app_started: bool,
    restart_policy: str,
) -> InitStep:
    """The step for init containers ``names`` (spec order), given each one's newest
    instance. Once an app container has been created the pod counts as initialized, so
    a kubelet restart, or init instances removed by hand, never runs them again."""
    if app_started:
        return InitStep(initialized=True)
    for name in names:
        info = current.get(name)
        if succeeded(info):
            continue
        if info is not None and info.exited and restart_policy == "Never":
            return InitStep(failed=name)
        return InitStep(container=name)
    return InitStep(initialized=True)


def incomplete(names: Sequence[str], current: Mapping[str, ContainerInfo | None]) -> list[str]:
    """Init containers that have not succeeded yet (for the Initialized condition)."""
    return [n for n in names if not succeeded(current.get(n))]
