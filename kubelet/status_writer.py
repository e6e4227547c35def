"""Writing a pod's status to the API: computed from the worker's tracks (``status.py``),
and written only when it changes; a finished pod's status is final."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from kubelet.plan import TERMINAL
from kubelet.podhandle import PodHandle
from kubelet.status import ContainerView, pod_status, status_differs
from kubelet.timeutil import now_rfc3339
from kubelet.track import ContainerTrack


def _view(h: PodHandle, c: dict[str, Any], init: bool) -> ContainerView:
    t = h.tracks.get(c["name"]) or ContainerTrack(c["name"])
    return ContainerView(
        name=c["name"],
        image=c.get("image", ""),
        current=t.current,
        previous=t.previous,
        restart_count=t.current.restart_count if t.current else 0,
        waiting_reason=t.waiting_reason,
        waiting_message=t.waiting_message,
        ready=t.ready,
        started=t.started,
        init=init,
    )


async def write_status(h: PodHandle) -> None:
    """PATCH pods/NAME/status when what a reader would see changed."""
    base = h.last_written if h.last_written is not None else (h.pod.get("status") or {})
    if base.get("phase") in TERMINAL:
        return  # a finished pod's status is final
    new = pod_status(
        {**h.pod, "status": base},
        [_view(h, c, False) for c in h.app_containers()],
        runtime=h.ctx.runtime.name,
        host_ip=h.ctx.address,
        now=now_rfc3339(),
        init_views=[_view(h, c, True) for c in h.init_containers()],
    )
    if not status_differs(base, new):
        return
    try:
        await h.ctx.client.patch("pods", h.name, {"status": new}, h.namespace, subresource="status")
    except ApiError as e:
        if e.code == 404:
            h.deleted = True
            h.wake()
            return
        raise
    h.last_written = new
