"""Deployment rollout state as kubectl reads it: progress messages, ReplicaSet revisions,
and the template to roll back to. Pure functions over plain objects."""

from __future__ import annotations

import copy
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# Deployment annotations a rollback never copies from a ReplicaSet (kubectl's list).
ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


class RolloutFailed(Exception):
    """The rollout cannot finish (its progress deadline passed)."""


def status_message(d: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer: (message, done). Raises RolloutFailed when the
    Progressing condition says ProgressDeadlineExceeded."""
    meta, spec, st = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    name = meta.get("name", "")
    if int(meta.get("generation") or 0) <= int(st.get("observedGeneration") or 0):
        for c in st.get("conditions") or []:
            if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
        replicas = int(spec["replicas"]) if spec.get("replicas") is not None else 1
        updated = int(st.get("updatedReplicas") or 0)
        total = int(st.get("replicas") or 0)
        available = int(st.get("availableReplicas") or 0)
        prefix = f'Waiting for deployment "{name}" rollout to finish: '
        if updated < replicas:
            return f"{prefix}{updated} out of {replicas} new replicas have been updated...", False
        if total > updated:
            return f"{prefix}{total - updated} old replicas are pending termination...", False
        if available < updated:
            return f"{prefix}{available} of {updated} updated replicas are available...", False
        return f'deployment "{name}" successfully rolled out', True
    return "Waiting for deployment spec update to be observed...", False


def revision_of(obj: dict[str, Any]) -> int:
    """The revision annotation of a ReplicaSet or Deployment (0 when absent)."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


def owned_replicasets(d: dict[str, Any], replicasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ReplicaSets a Deployment controls, oldest revision first."""
    uid = (d.get("metadata") or {}).get("uid")
    owned = [
        rs
        for rs in replicasets
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in (rs.get("metadata") or {}).get("ownerReferences") or []
        )
    ]
    return sorted(owned, key=revision_of)


def history(replicasets: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(revision, change cause) for each revision, ascending."""
    out = {}
    for rs in replicasets:
        rev = revision_of(rs)
        if rev:
            cause = ((rs.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE)
            out[rev] = cause or "<none>"
    return sorted(out.items())


def find_revision(replicasets: list[dict[str, Any]], revision: int) -> dict[str, Any] | None:
    """The ReplicaSet of ``revision``; with 0, the one before the newest."""
    by_rev = {revision_of(rs): rs for rs in replicasets if revision_of(rs)}
    if revision:
        return by_rev.get(revision)
    revs = sorted(by_rev)
    return by_rev[revs[-2]] if len(revs) >= 2 else None


def rollback_template(rs: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet's pod template without the pod-template-hash label."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def rollback_annotations(d: dict[str, Any], rs: dict[str, Any]) -> dict[str, str]:
    """The Deployment's annotations after a rollback: its own, plus the ReplicaSet's
    (such as the change cause) except the bookkeeping ones."""
    out = dict((d.get("metadata") or {}).get("annotations") or {})
    for k, v in ((rs.get("metadata") or {}).get("annotations") or {}).items():
        if k not in ANNOTATIONS_TO_SKIP:
            out[k] = v
    return out


def rollback_patch(d: dict[str, Any], rs: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch (RFC 6902) kubectl sends for ``rollout undo``."""
    return [
        {"op": "replace", "path": "/spec/template", "value": rollback_template(rs)},
        {"op": "add", "path": "/metadata/annotations", "value": rollback_annotations(d, rs)},
    ]


def same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two pod templates are equal, ignoring pod-template-hash."""

    def norm(t: dict[str, Any]) -> dict[str, Any]:
        t = copy.deepcopy(t)
        labels = (t.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH, None)
        return t

    return norm(a) == norm(b)


# --- DaemonSets: status, and history kept in ControllerRevisions -------------------------


def daemonset_status_message(ds: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's DaemonSetStatusViewer: (message, done). Raises RolloutFailed for a
    strategy other than RollingUpdate, whose progress has no end to wait for."""
    meta, spec, st = ds.get("metadata") or {}, ds.get("spec") or {}, ds.get("status") or {}
    name = meta.get("name", "")
    if ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") != "RollingUpdate":
        raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
    if int(meta.get("generation") or 0) <= int(st.get("observedGeneration") or 0):
        desired = int(st.get("desiredNumberScheduled") or 0)
        updated = int(st.get("updatedNumberScheduled") or 0)
        available = int(st.get("numberAvailable") or 0)
        prefix = f'Waiting for daemon set "{name}" rollout to finish: '
        if updated < desired:
            return f"{prefix}{updated} out of {desired} new pods have been updated...", False
        if available < desired:
            return f"{prefix}{available} of {desired} updated pods are available...", False
        return f'daemon set "{name}" successfully rolled out', True
    return "Waiting for daemon set spec update to be observed...", False


def owned_revisions(owner: dict[str, Any], revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ControllerRevisions an owner controls, oldest revision first."""
    uid = (owner.get("metadata") or {}).get("uid")
    owned = [
        r
        for r in revisions
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in (r.get("metadata") or {}).get("ownerReferences") or []
        )
    ]
    return sorted(owned, key=lambda r: int(r.get("revision") or 0))


def revision_history(revisions: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(revision, change cause) of each ControllerRevision, ascending."""
    return [
        (
            int(r.get("revision") or 0),
            ((r.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE) or "<none>",
        )
        for r in revisions
    ]


def find_controller_revision(
    revisions: list[dict[str, Any]], revision: int
) -> dict[str, Any] | None:
    """The ControllerRevision numbered ``revision``; with 0, the one before the newest."""
    by_rev = {int(r.get("revision") or 0): r for r in revisions}
    if revision:
        return by_rev.get(revision)
    revs = sorted(by_rev)
    return by_rev[revs[-2]] if len(revs) >= 2 else None


def controller_revision_template(rev: dict[str, Any]) -> dict[str, Any]:
    """The pod template a ControllerRevision holds."""
    t = dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    t.pop("$patch", None)
    return t


# --- StatefulSets: status (history as DaemonSets, in ControllerRevisions) ----------------


def statefulset_status_message(sts: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's StatefulSetStatusViewer: (message, done). Raises RolloutFailed for a
    strategy other than RollingUpdate (OnDelete has no end to wait for)."""
    meta, spec, st = sts.get("metadata") or {}, sts.get("spec") or {}, sts.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
    observed = int(st.get("observedGeneration") or 0)
    if observed == 0 or int(meta.get("generation") or 0) > observed:
        return "Waiting for statefulset spec update to be observed...", False
    replicas = spec.get("replicas")
    ready = int(st.get("readyReplicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    if replicas is not None and ready < int(replicas):
        return f"Waiting for {int(replicas) - ready} pods to be ready...", False
    ru = strategy.get("rollingUpdate")
    if ru is not None:
        partition = ru.get("partition")
        if replicas is not None and partition is not None:
            want = int(replicas) - int(partition)
            if updated < want:
                return (
                    f"Waiting for partitioned roll out to finish: {updated} out of {want} "
                    "new pods have been updated...",
                    False,
                )
        return f"partitioned roll out complete: {updated} new pods have been updated...", True
    current, update = st.get("currentRevision"), st.get("updateRevision")
    if update != current:
        return (
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update}...",
            False,
        )
    return (
        f"statefulset rolling update complete {int(st.get('currentReplicas') or 0)} pods at "
        f"revision {current}...",
        True,
    )
