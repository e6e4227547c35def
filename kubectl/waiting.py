"""Waiting for objects to go away or reach a state, by polling (simple and restart-proof)."""

from __future__ import annotations

import time
from collections.abc import Callable

from api.errors import ApiError
from api.registry import ResourceInfo
from client import Client

POLL_SECONDS = 0.25


def wait_deleted(
    client: Client,
    items: list[tuple[ResourceInfo, str, str | None]],
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[ResourceInfo, str, str | None]]:
    """Poll until every (kind, name, namespace) answers 404; returns those still there
    when ``timeout`` (seconds; None or 0 = no limit) ran out."""
    pending = list(items)
    deadline = time.monotonic() + timeout if timeout else None
    while pending:
        still = []
        for info, name, ns in pending:
            try:
                client.get(info, name, ns)
            except ApiError as e:
                if e.code == 404:
                    continue
                raise
            still.append((info, name, ns))
        pending = still
        if not pending or (deadline is not None and time.monotonic() >= deadline):
            break
        sleep(POLL_SECONDS)
    return pending
