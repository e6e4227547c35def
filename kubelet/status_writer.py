"""Writing a pod's status to the API: computed from the worker's tracks (``status.py``),
and written only when it differs from what the API holds; a finished pod's status is final."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from client.core import resource_version, rv_newer
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


def api_status(h: PodHandle) -> dict[str, Any]:
    """The pod's status in the API, as far as the worker knows: its own last write, unless
    the informer has since brought a newer version of the pod. Then someone else may have
    written the status (the node lifecycle controller marks a silent node's pods NotReady)
    and that version's status is the one to correct, as the Kubernetes status manager's
    ``needsReconcile`` does; otherwise the stale NotReady would stay forever."""
    if h.last_written is None:
        return h.pod.get("status") or {}
    if h.last_written_rv is not None and rv_newer(
        h.pod, {"metadata": {"resourceVersion": h.last_written_rv}}
    ):
        return h.pod.get("status") or {}
    return h.last_written


async def write_status(h: PodHandle, deleting: bool = False) -> None:
    """PATCH pods/NAME/status when what a reader would see differs from the API's;
    ``deleting``: the containers of a pod being deleted were stopped (its phase stays)."""
    base = api_status(h)
    if base.get("phase") in TERMINAL:
        return  # a finished pod's status is final
    new = pod_status(
        {**h.pod, "status": base},
        [_view(h, c, False) for c in h.app_containers()],
        runtime=h.ctx.runtime.name,
        host_ip=h.ctx.address,
        pod_ip=h.pod_ip if h.on_pod_network else None,
        now=now_rfc3339(),
        init_views=[_view(h, c, True) for c in h.init_containers()],
        failure=h.failure,
        deleting=deleting,
    )
    if not status_differs(base, new):
        return
    try:
        written = await h.ctx.client.patch(
            "pods", h.name, {"status": new}, h.namespace, subresource="status"
        )
    except ApiError as e:
        if e.code == 404:
            h.deleted = True
            h.wake()
            return
        raise
    h.last_written = new
    h.last_written_rv = resource_version(written)
