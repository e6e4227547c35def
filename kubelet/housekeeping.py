"""Housekeeping: every resync period, this node's containers are checked against its pods,
and a container of ours whose pod is known neither to the pod informer nor to a worker is
stopped and removed (the Kubernetes kubelet's ``HandlePodCleanups``).

Pod workers remove their pod's containers when it goes; this pass is the level-triggered
net under that edge: a deletion seen by nobody (a watch gap, a worker that ended while a
create was still landing) would otherwise leave a container running for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable

from kubelet.context import NodeContext
from kubelet.ownership import Owner, owner
from kubelet.runtime.base import LABEL_NODE, LABEL_POD_UID, ContainerInfo, RuntimeError_

log = logging.getLogger(__name__)

# Grace for a stray container: its pod is gone, so no terminationGracePeriodSeconds is
# known; the start-up scan's orphans get the same.
STRAY_GRACE_SECONDS = 2.0


def strays(
    containers: Iterable[ContainerInfo], cluster_uid: str, node: str, known: Collection[str]
) -> list[ContainerInfo]:
    """The containers of this cluster and node whose pod uid is not in ``known`` (the uids
    the informer caches or a worker drives). Legacy and other clusters' containers are
    never strays: this kubelet may not touch them without a pod of its own."""
    return [
        c
        for c in containers
        if owner(c.labels, cluster_uid, node) is Owner.OURS
        and c.labels.get(LABEL_POD_UID, "") not in known
    ]


async def remove_strays(ctx: NodeContext, known: Callable[[], Collection[str]]) -> int:
    """One pass: stop and remove the strays; how many there were.

    The containers are listed before ``known`` is read: a container is only ever created
    by a pod's worker, and the worker exists before its first container does, so a pod
    bound during the pass is known by the time its container could be in the listing."""
    try:
        listed = await ctx.runtime.list({LABEL_NODE: ctx.node_name})
    except RuntimeError_ as e:
        log.warning("housekeeping: cannot list containers: %s", e)
        return 0
    found = strays(listed, ctx.cluster_uid, ctx.node_name, known())
    for c in found:
        log.info(
            "housekeeping: removing container %s of pod %s/%s (uid %s), which is gone",
            c.id[:12],
            c.labels.get("io.kubelab.pod.namespace"),
            c.labels.get("io.kubelab.pod.name"),
            c.labels.get(LABEL_POD_UID),
        )
        try:
            if c.running:
                await ctx.runtime.stop(c.id, STRAY_GRACE_SECONDS)
            await ctx.runtime.remove(c.id)
        except RuntimeError_ as e:
            log.warning("housekeeping: removing container %s failed: %s", c.id[:12], e)
    return len(found)


async def run_housekeeping(ctx: NodeContext, known: Callable[[], Collection[str]]) -> None:
    """Forever: one pass each resync period."""
    while True:
        await asyncio.sleep(ctx.config.resync_period)
        await remove_strays(ctx, known)
