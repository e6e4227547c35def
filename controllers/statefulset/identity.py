"""A StatefulSet pod's identity: its ordinal, stable name, hostname, labels and claims.

As Kubernetes' stateful_set_utils: pod ``<set>-<ordinal>``, hostname the pod name and
subdomain the governing Service (``web-0.web.ns.svc``), claim
``<template>-<set>-<ordinal>`` per volumeClaimTemplate, mounted under the template's name.
"""

from __future__ import annotations

import copy
import re

from ..objutil import Obj, labels_of, meta, name_of, namespace_of, owner_refs, uid_of
from ..podutil import pod_from_template

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
# The pod's revision label: for StatefulSets it holds the revision's name (<set>-<hash>).
REVISION_LABEL = "controller-revision-hash"

_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")


def spec_of(sts: Obj) -> Obj:
    return sts.get("spec") or {}


def replicas_of(sts: Obj) -> int:
    r = spec_of(sts).get("replicas")
    return 1 if r is None else int(r)


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def parent_and_ordinal(pod_name: str) -> tuple[str, int]:
    """``("web", 2)`` for ``web-2``; ordinal -1 when the name has none."""
    m = _ORDINAL_RE.match(pod_name)
    if m is None:
        return pod_name, -1
    return m.group(1), int(m.group(2))


def ordinal_of(sts: Obj, pod: Obj) -> int:
    """The pod's ordinal if it is a member of ``sts`` by name, else -1."""
    parent, ordinal = parent_and_ordinal(name_of(pod))
    return ordinal if parent == name_of(sts) else -1


def in_range(sts: Obj, ordinal: int) -> bool:
    """Whether ``ordinal`` is one of the replicas (not condemned by a scale-down)."""
    start = start_ordinal(sts)
    return start <= ordinal < start + replicas_of(sts)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def claim_templates(sts: Obj) -> list[Obj]:
    return [t for t in spec_of(sts).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{name_of(template)}-{name_of(sts)}-{ordinal}"


def claim_names(sts: Obj, ordinal: int) -> list[str]:
    return [claim_name(t, sts, ordinal) for t in claim_templates(sts)]


def identity_labels(sts: Obj, ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name(sts, ordinal), POD_INDEX_LABEL: str(ordinal)}


def identity_matches(sts: Obj, pod: Obj, ordinal: int) -> bool:
    """The identity labels are as they should be (a user may have removed one)."""
    labels = labels_of(pod)
    return all(labels.get(k) == v for k, v in identity_labels(sts, ordinal).items())


def revision_of_pod(pod: Obj) -> str:
    return labels_of(pod).get(REVISION_LABEL, "")


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """Pod ``ordinal`` of ``sts`` from ``template`` (the revision it belongs to), with
    its identity, its revision label and one claim volume per volumeClaimTemplate."""
    name = pod_name(sts, ordinal)
    pod = pod_from_template(
        sts,
        template,
        name,
        extra_labels={**identity_labels(sts, ordinal), REVISION_LABEL: revision},
    )
    spec = pod["spec"] = copy.deepcopy(pod["spec"])
    spec["hostname"] = name
    service = spec_of(sts).get("serviceName")
    if service:
        spec["subdomain"] = service
    # A template volume of a claim template's name is replaced by the claim (updateStorage).
    claims = {name_of(t): claim_name(t, sts, ordinal) for t in claim_templates(sts)}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    for vname, cname in claims.items():
        volumes.append({"name": vname, "persistentVolumeClaim": {"claimName": cname}})
    if volumes:
        spec["volumes"] = volumes
    return pod


def new_claim(sts: Obj, template: Obj, ordinal: int) -> Obj:
    """The claim of ``template`` for pod ``ordinal``, labelled with the set's selector."""
    tmeta = template.get("metadata") or {}
    selector = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    cmeta: Obj = {
        "name": claim_name(template, sts, ordinal),
        "namespace": namespace_of(sts),
        "labels": {**(tmeta.get("labels") or {}), **selector},
    }
    if tmeta.get("annotations"):
        cmeta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": cmeta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


# --- retention: which owner references a claim carries --------------------------------


def _ref(obj: Obj, api_version: str, kind: str) -> Obj:
    # setOwnerRef: neither controller nor blocking, so the claim never holds its owner up.
    return {"apiVersion": api_version, "kind": kind, "name": name_of(obj), "uid": uid_of(obj)}


def retention_policy(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain where unset."""
    p = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(p.get("whenDeleted") or "Retain"), str(p.get("whenScaled") or "Retain")


def wanted_claim_owners(sts: Obj, pod: Obj | None, ordinal: int) -> list[Obj]:
    """The set/pod owner references the retention policy gives a claim of ``ordinal``
    (updateClaimOwnerRefs): whenDeleted=Delete → the set owns claims of its replicas;
    whenScaled=Delete → the pod owns the claims of a pod condemned by a scale-down, so
    the garbage collector removes them once the pod is gone."""
    when_deleted, when_scaled = retention_policy(sts)
    condemned = not in_range(sts, ordinal)
    out: list[Obj] = []
    if when_deleted == "Delete" and not (condemned and when_scaled == "Delete"):
        out.append(_ref(sts, "apps/v1", "StatefulSet"))
    if when_scaled == "Delete" and condemned and pod is not None:
        out.append(_ref(pod, "v1", "Pod"))
    return out


def claim_owner_patch(sts: Obj, pod: Obj | None, claim: Obj, ordinal: int) -> Obj | None:
    """A merge patch giving ``claim`` the owner references of the retention policy (other
    owners kept), or None when it has them already."""
    managed = {uid_of(sts)}
    if pod is not None:
        managed.add(uid_of(pod))
    refs = owner_refs(claim)
    kept = [r for r in refs if r.get("uid") not in managed]
    want = wanted_claim_owners(sts, pod, ordinal)
    have = [r for r in refs if r.get("uid") in managed]
    key = lambda r: (r.get("uid"), r.get("kind"))  # noqa: E731
    if sorted(map(key, have)) == sorted(map(key, want)):
        return None
    return {
        "metadata": {
            "ownerReferences": (kept + want) or None,
            "resourceVersion": meta(claim).get("resourceVersion"),
        }
    }


def claim_is_stale(sts: Obj, claim: Obj | None, pod_uid: str) -> bool:
    """A claim left for the garbage collector by an earlier pod of the same name (owned by
    a pod that is not ``pod_uid``), or on its way out: the new pod must not mount it."""
    if claim is None:
        return False
    if meta(claim).get("deletionTimestamp"):
        return True
    _, when_scaled = retention_policy(sts)
    if when_scaled == "Retain":
        return False
    return any(r.get("kind") == "Pod" and r.get("uid") != pod_uid for r in owner_refs(claim))
