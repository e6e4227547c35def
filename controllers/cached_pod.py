"""What the controller manager keeps of each pod it caches: exactly the fields it reads.

Every other field is dropped before the pod enters the shared informer's cache (see
``client.slim``); controllers build new pods from their owners' templates, never from
cached pods. The readers, so that a new read is added here first:

- ``claim`` / ``objutil``: labels, ownerReferences (written back whole by the adopt,
  release and strip-owner patches, so every field of each), finalizers,
  deletionTimestamp, creationTimestamp, resourceVersion, uid;
- ``podutil`` (ReplicaSet, Job, Deployment): ``status.phase``, the ``Ready`` condition's
  status and lastTransitionTime, ``containerStatuses[].restartCount``, ``nodeName``;
- ``job``: ``containerStatuses[].state.terminated.finishedAt``;
- ``endpoints``: ``containers[].name`` and ``ports``, the ``kubelab.io/host-ports``
  annotation, ``status.hostIP`` and ``podIP``, ``nodeName``, ``hostname`` and
  ``subdomain`` (a headless Service's endpoint hostnames: StatefulSet pods' DNS names);
- ``daemonset``: ``nodeName`` and the required node affinity (``metadata.name``),
  the ``controller-revision-hash`` label;
- ``nodelifecycle``: ``tolerations``, and every field of ``status.conditions`` (it writes
  the list back whole when a node goes silent);
- ``podgc``: ``nodeName``, ``status.phase``, deletionTimestamp, creationTimestamp;
- ``persistentvolume``: ``volumes[].persistentVolumeClaim``, ``status.phase``;
- ``events``: apiVersion, kind, name, namespace, uid, resourceVersion.
- ``resourcequota``: ``containers[].resources`` and ``initContainers[].resources``,
  ``overhead``, ``activeDeadlineSeconds``, ``priorityClassName``, ``status.phase``.
"""

from __future__ import annotations

from collections.abc import Callable

from client.slim import SHARED, Each, Obj, Struct, only_annotations, pod_rule, slimmer

# The pod annotations any controller reads (endpoints: the kubelet's published host ports,
# ``endpoints.HOST_PORTS``; not imported, since endpoints imports the controller base).
POD_ANNOTATIONS_READ = frozenset({"kubelab.io/host-ports"})

_CONTAINER_STATUS = Struct(
    {
        "name": SHARED,
        "restartCount": SHARED,
        "state": Struct({"terminated": Struct({"finishedAt": SHARED})}),
    }
)

CACHED_POD = pod_rule(
    {
        "labels": SHARED,
        "ownerReferences": Each(SHARED),
        "finalizers": SHARED,
        "annotations": only_annotations(*sorted(POD_ANNOTATIONS_READ)),
    },
    Struct(
        {
            "nodeName": SHARED,
            "containers": Each(Struct({"name": SHARED, "ports": SHARED, "resources": SHARED})),
            # resourcequota: what a pod charges, and which scoped quotas cover it.
            "initContainers": Each(Struct({"name": SHARED, "resources": SHARED})),
            "overhead": SHARED,
            "activeDeadlineSeconds": SHARED,
            "priorityClassName": SHARED,
            "tolerations": Each(SHARED),
            "hostname": SHARED,
            "subdomain": SHARED,
            # persistentvolume: the claims a pod mounts (pvc-protection).
            "volumes": Each(Struct({"persistentVolumeClaim": SHARED})),
            # daemonset: the node a pod not yet bound is meant for (its required affinity).
            "affinity": Struct(
                {"nodeAffinity": Struct({"requiredDuringSchedulingIgnoredDuringExecution": SHARED})}
            ),
        }
    ),
    Struct(
        {
            "phase": SHARED,
            # hpa: a pod's start opens its CPU initialization window.
            "startTime": SHARED,
            "conditions": Each(SHARED),
            "hostIP": SHARED,
            "podIP": SHARED,
            "containerStatuses": Each(_CONTAINER_STATUS),
        }
    ),
)


def cached_pod_transform(limit: int = 4096) -> Callable[[Obj], Obj]:
    """The controller manager's informer transform for pods (one per manager)."""
    return slimmer(CACHED_POD, limit=limit)
