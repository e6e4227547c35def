"""The default plugin profile: one small module per plugin."""

from __future__ import annotations

from scheduler.framework import Framework
from scheduler.plugins.cache_locality import NodeCacheLocality
from scheduler.plugins.gpu import GpuAvoid, GpuFit, GpuPack, GpuReserve
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_ready import NodeReady
from scheduler.plugins.node_unschedulable import NodeUnschedulable
from scheduler.plugins.resources_fit import NodeResourcesFit
from scheduler.plugins.taint_toleration import TaintToleration
from scheduler.plugins.volume_binding import VolumeBinding


def default_framework() -> Framework:
    """The plugins kubelab schedules with, in kube-scheduler's filter order."""
    taints = TaintToleration()
    resources = NodeResourcesFit()
    return Framework(
        filters=[
            NodeUnschedulable(),
            NodeReady(),
            taints,
            NodeAffinity(),
            VolumeBinding(),
            resources,
            GpuFit(),
        ],
        scores=[taints, resources, GpuPack(), GpuAvoid(), NodeCacheLocality()],
        reserves=[GpuReserve()],
    )
