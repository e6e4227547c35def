"""What the scheduler keeps of each pod it caches: exactly the fields it reads.

Every other field is dropped before the pod enters the informer's cache (see
``client.slim``). The readers, so that a new read is added here first:

- ``podinfo.pod_info`` / ``pod_requests`` / ``pod_priority``: containers' and init
  containers' ``resources``, ``overhead``, ``priority``, ``priorityClassName``,
  ``tolerations``, ``nodeSelector``, ``affinity.nodeAffinity``, ``nodeName``, the
  ``kubelab.io/gpu-uuids`` annotation, uid, creationTimestamp;
- ``is_terminal`` / ``is_finished``: ``deletionTimestamp``, ``status.phase``;
- ``Scheduler.responsible_for``: ``schedulerName``, ``nodeName``;
- ``plugins.preemption.may_preempt``: ``preemptionPolicy``;
- ``plugins.volume_binding``: ``volumes[].persistentVolumeClaim``;
- ``reporting``: the ``kubelab.io/scheduling-reasons`` annotation and, for a pod it
  reports unschedulable (never a bound one), every field of ``status.conditions``, since
  it writes the list back whole;
- ``events``: apiVersion, kind, name, namespace, uid, resourceVersion.

- ``queue_ledger`` / gangs: the labels ``kubelab.io/queue``, ``kubelab.io/gang`` and
  ``kubelab.io/gang-size``, and ``priorityClassName`` (best effort).

No plugin reads other pod labels (there is no inter-pod affinity), so they are not kept.
"""

from __future__ import annotations

from collections.abc import Callable

from api.queues import GANG_LABEL, GANG_SIZE_LABEL, QUEUE_LABEL
from client.slim import SHARED, Each, Interner, Obj, Struct, only_annotations, pick, pod_rule
from scheduler.podinfo import GPU_UUIDS_ANNOTATION, REASONS_ANNOTATION

_CONTAINER = Struct({"name": SHARED, "resources": SHARED})

_METADATA = {
    "annotations": only_annotations(GPU_UUIDS_ANNOTATION, REASONS_ANNOTATION),
    "labels": Struct({QUEUE_LABEL: SHARED, GANG_LABEL: SHARED, GANG_SIZE_LABEL: SHARED}),
}

_SPEC = Struct(
    {
        "nodeName": SHARED,
        "schedulerName": SHARED,
        "priority": SHARED,
        "priorityClassName": SHARED,
        "preemptionPolicy": SHARED,
        "containers": Each(_CONTAINER),
        "initContainers": Each(_CONTAINER),
        "overhead": SHARED,
        "tolerations": Each(SHARED),
        "nodeSelector": SHARED,
        "affinity": Struct({"nodeAffinity": SHARED}),
        "volumes": Each(Struct({"persistentVolumeClaim": SHARED})),
    }
)

UNBOUND_POD = pod_rule(_METADATA, _SPEC, Struct({"phase": SHARED, "conditions": Each(SHARED)}))
# A bound pod is never reported unschedulable: its conditions are not read.
BOUND_POD = pod_rule(_METADATA, _SPEC, Struct({"phase": SHARED}))


def cached_pod_transform(limit: int = 4096) -> Callable[[Obj], Obj]:
    """The scheduler's informer transform (one ``Interner`` per scheduler)."""
    interner = Interner(limit)

    def transform(pod: Obj) -> Obj:
        spec = pod.get("spec") if isinstance(pod, dict) else None
        bound = isinstance(spec, dict) and bool(spec.get("nodeName"))
        out: Obj = pick(pod, BOUND_POD if bound else UNBOUND_POD, interner)
        return out

    return transform
