"""A pod worker's failed sync is logged as one line when the cause is an expected outage
(the apiserver restarting, the engine refusing), with a traceback only for a bug."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from client import ServerUnreachable
from kubelet.context import NodeContext
from kubelet.worker import PodWorker

POD = {"metadata": {"uid": "u1", "name": "p", "namespace": "default"}, "spec": {}}


class _FailingOnce(PodWorker):
    """A worker whose first sync raises ``error`` and whose second one ends it."""

    def __init__(self, error: Exception) -> None:
        ctx = SimpleNamespace(config=SimpleNamespace(resync_period=10.0))
        super().__init__(cast(NodeContext, ctx), POD)
        self.error = error
        self.syncs = 0

    async def sync(self) -> bool:
        self.syncs += 1
        if self.syncs == 1:
            self.wake()  # sync again at once, not after the 1 s retry delay
            raise self.error
        return True


def _sync_failures(error: Exception, caplog: pytest.LogCaptureFixture) -> list[Any]:
    worker = _FailingOnce(error)
    with caplog.at_level(logging.WARNING, logger="kubelet.worker"):
        asyncio.run(asyncio.wait_for(worker.run(), 10))
    assert worker.syncs == 2 and worker.finished.is_set()
    return [r for r in caplog.records if "sync failed" in r.getMessage()]


def test_an_unreachable_apiserver_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    error = ServerUnreachable("https://127.0.0.1:1", "connection refused")
    (record,) = _sync_failures(error, caplog)
    assert "cannot reach" in record.getMessage() or "connection refused" in record.getMessage()
    assert not record.exc_info  # no traceback


def test_an_unexpected_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    (record,) = _sync_failures(KeyError("spec"), caplog)
    assert record.exc_info is not None
