"""Informer transforms that shrink cached pods to what a control-plane component reads.

A pod as served is ~2.4 KB of JSON but ~10 KB of Python objects, and the scheduler and
the controller manager each cache every pod in the cluster. ``pod_slimmer`` returns a
transform for ``Informer(..., transform=...)`` that rebuilds a pod without:

- ``metadata.managedFields``;
- annotations outside ``keep_annotations`` (the last-applied configuration, user
  annotations -- nothing in these components reads them);
- the containers' ``env``, ``envFrom``, ``command``, ``args``, ``workingDir``,
  ``volumeMounts``, ``volumeDevices``, probes and ``lifecycle`` (for containers, init
  containers and ephemeral containers);
- ``spec.volumes``.

Everything else is kept as served (resources, ports, nodeSelector, affinity,
tolerations, priority, nodeName, labels, ownerReferences, status...). Strings that
recur from pod to pod (namespace, labels, node name, image, owner uids, phases) are
interned so the cache holds one copy of each.

Only cached *pods* are slimmed: never write a slimmed pod back with PUT (patches of the
fields kept are fine), and do not use this on pod templates.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Container fields no control-plane component reads (the kubelet does, from its own watch).
DROPPED_CONTAINER_FIELDS = frozenset(
    {
        "env",
        "envFrom",
        "command",
        "args",
        "workingDir",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
    }
)
DROPPED_SPEC_FIELDS = frozenset({"volumes"})
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_intern = sys.intern


def _istr(v: Any) -> Any:
    return _intern(v) if type(v) is str else v


def _interned_map(d: Any) -> Any:
    """A str -> str map (labels, nodeSelector, resource lists) with interned keys/values."""
    if not isinstance(d, dict):
        return d
    return {_istr(k): _istr(v) for k, v in d.items()}


def _slim_container(c: Any) -> Any:
    if not isinstance(c, dict):
        return c
    out: Obj = {}
    for k, v in c.items():
        if k in DROPPED_CONTAINER_FIELDS:
            continue
        if k == "resources" and isinstance(v, dict):
            v = {rk: _interned_map(rv) for rk, rv in v.items()}
        else:
            v = _istr(v)
        out[k] = v
    return out


def _slim_metadata(meta: Obj, keep: frozenset[str]) -> Obj:
    out: Obj = {}
    for k, v in meta.items():
        if k == "managedFields":
            continue
        if k == "annotations":
            if not isinstance(v, dict):
                continue
            kept = {ak: av for ak, av in v.items() if ak in keep}
            if not kept:
                continue
            v = {_intern(ak): av for ak, av in kept.items()}
        elif k == "labels":
            v = _interned_map(v)
        elif k == "ownerReferences" and isinstance(v, list):
            v = [_interned_map(ref) for ref in v]
        elif k != "name":  # names are unique; everything else recurs
            v = _istr(v)
        out[k] = v
    return out


def _slim_spec(spec: Obj) -> Obj:
    out: Obj = {}
    for k, v in spec.items():
        if k in DROPPED_SPEC_FIELDS:
            continue
        if k in _CONTAINER_LISTS and isinstance(v, list):
            v = [_slim_container(c) for c in v]
        elif k == "nodeSelector":
            v = _interned_map(v)
        else:
            v = _istr(v)
        out[k] = v
    return out


def _slim_status(status: Obj) -> Obj:
    return {k: _istr(v) for k, v in status.items()}


def slim_pod(pod: Obj, keep_annotations: frozenset[str] = frozenset()) -> Obj:
    """A copy of ``pod`` without the fields listed in the module docstring (the argument
    is not modified; the copy shares the sub-objects it keeps unchanged)."""
    if not isinstance(pod, dict):
        return pod
    out: Obj = {}
    for k, v in pod.items():
        if isinstance(v, dict):
            if k == "metadata":
                v = _slim_metadata(v, keep_annotations)
            elif k == "spec":
                v = _slim_spec(v)
            elif k == "status":
                v = _slim_status(v)
        else:
            v = _istr(v)
        out[k] = v
    return out


def pod_slimmer(keep_annotations: Iterable[str] = ()) -> Callable[[Obj], Obj]:
    """An informer transform: ``slim_pod`` keeping the annotations named (the ones the
    component reads; every other annotation is dropped)."""
    keep = frozenset(keep_annotations)

    def transform(pod: Obj) -> Obj:
        return slim_pod(pod, keep)

    return transform
