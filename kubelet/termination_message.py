"""A dead container's termination message, as Kubernetes reports it in
``state.terminated.message``: what the container wrote to its ``terminationMessagePath``
(a host file bind-mounted there, kubelet/volumes.py), at most 4096 bytes; with
``terminationMessagePolicy: FallbackToLogsOnError`` and a failed exit, the last 80 log
lines (at most 2048 bytes) when it wrote nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubelet.podhandle import PodHandle
from kubelet.runtime.base import ContainerInfo
from kubelet.volumes import termination_log

MAX_MESSAGE = 4096
MAX_LOG_MESSAGE = 2048
LOG_LINES = 80


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_MESSAGE)
    except OSError:
        return b""


async def with_termination_message(
    h: PodHandle, c: dict[str, Any] | None, info: ContainerInfo
) -> ContainerInfo:
    """``info`` of an exited instance, with its termination message filled in."""
    if not info.exited or info.termination_message is not None:
        return info
    path = termination_log(h.ctx.config.root_dir, h.uid, info.container_name, info.restart_count)
    data = await asyncio.to_thread(_read, path)
    policy = (c or {}).get("terminationMessagePolicy") or "File"
    if not data.strip() and policy == "FallbackToLogsOnError" and (info.exit_code or 0) != 0:
        data = (await h.ctx.runtime.logs(info.id, tail=LOG_LINES))[-MAX_LOG_MESSAGE:]
    return replace(info, termination_message=data.decode(errors="replace"))
