"""Which status the kubelet compares its computed one with (``status_writer.api_status``):
its own last write while the informer has nothing newer (an echo of that write, or a stale
version), the informer's version once it is newer (someone else wrote)."""

from __future__ import annotations

from typing import Any, cast

from kubelet.context import NodeContext
from kubelet.podhandle import PodHandle
from kubelet.status_writer import api_status

OURS = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
THEIRS = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}


def _pod(rv: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "uid": "u1", "resourceVersion": rv}, "status": status}


def _handle(pod: dict[str, Any], written_rv: str | None) -> PodHandle:
    h = PodHandle(cast(NodeContext, None), pod)
    if written_rv is not None:
        h.last_written, h.last_written_rv = OURS, written_rv
    return h


def test_before_any_write_the_base_is_the_api_status() -> None:
    assert api_status(_handle(_pod("5", THEIRS), None)) == THEIRS


def test_the_echo_of_our_write_or_an_older_version_keeps_our_write_as_base() -> None:
    assert api_status(_handle(_pod("7", OURS), "7")) is OURS
    # The informer has not caught up yet: its older status is not what the API holds.
    assert api_status(_handle(_pod("6", THEIRS), "7")) is OURS


def test_a_newer_version_than_our_write_is_the_base() -> None:
    # The node lifecycle controller's NodeNotReady after our write: it must be corrected.
    assert api_status(_handle(_pod("8", THEIRS), "7")) == THEIRS
