"""Pod admission: the Pod Security "baseline" level.

Refused unless the namespace carries ``pod-security.kubernetes.io/enforce=privileged``:
privileged containers, host namespaces (hostNetwork, hostPID, hostIPC), hostPath volumes
(the Docker socket among them) and added capabilities beyond the baseline set. Checked
on Pods and on the pod templates of Deployments, ReplicaSets and Jobs, so a workload
that could never start its pods is refused at once, with the field named.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError, Cause
from api.mirror import is_mirror_pod

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# Capabilities the baseline level allows a container to add (the Pod Security Standards).
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_TEMPLATE_KINDS = {
    "Deployment",
    "ReplicaSet",
    "Job",
    "DaemonSet",
    "ReplicationController",
    "StatefulSet",
}


def pod_spec_violations(spec: dict[str, Any], prefix: str) -> list[Cause]:
    """Every baseline violation in a pod spec, each naming its field."""
    causes: list[Cause] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            causes.append(Cause(f"{prefix}.{field}", "host namespaces are not allowed: remove it"))
    for i, v in enumerate(spec.get("volumes") or []):
        if isinstance(v, dict) and v.get("hostPath") is not None:
            path = (v.get("hostPath") or {}).get("path", "")
            what = "the Docker socket" if "docker.sock" in str(path) else f"hostPath {path}"
            causes.append(
                Cause(
                    f"{prefix}.volumes[{i}].hostPath",
                    f"{what} may not be mounted: use an emptyDir, configMap or secret volume",
                )
            )
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            if not isinstance(c, dict):
                continue
            sc = c.get("securityContext") or {}
            path = f"{prefix}.{group}[{i}].securityContext"
            if sc.get("privileged") is True:
                causes.append(
                    Cause(f"{path}.privileged", "privileged containers are not allowed: remove it")
                )
            added = [str(a) for a in ((sc.get("capabilities") or {}).get("add") or [])]
            bad = [a for a in added if a.upper().removeprefix("CAP_") not in BASELINE_CAPABILITIES]
            if bad:
                causes.append(
                    Cause(
                        f"{path}.capabilities.add",
                        f"adding {', '.join(bad)} is not allowed: drop them",
                    )
                )
    return causes


def check_pod_security(kind: str, obj: dict[str, Any], ns_labels: dict[str, str]) -> None:
    """403 naming every offending field, unless the namespace is labelled privileged."""
    if ns_labels.get(ENFORCE_LABEL) == "privileged":
        return
    if kind == "Pod" and is_mirror_pod(obj):
        # No kubelet runs a mirror pod (api/mirror.py): it only shows a process its owner
        # runs on the host, so there is nothing to refuse. Dropping the annotation brings
        # the check back, since an update is admitted again.
        return
    if kind == "Pod":
        causes = pod_spec_violations(obj.get("spec") or {}, "spec")
    elif kind in _TEMPLATE_KINDS:
        tmpl = (obj.get("spec") or {}).get("template") or {}
        causes = pod_spec_violations(tmpl.get("spec") or {}, "spec.template.spec")
    elif kind == "CronJob":
        job = ((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        tspec = (job.get("template") or {}).get("spec") or {}
        causes = pod_spec_violations(tspec, "spec.jobTemplate.spec.template.spec")
    else:
        return
    if not causes:
        return
    meta = obj.get("metadata") or {}
    detail = "; ".join(f"{c.field}: {c.message}" for c in causes)
    raise ApiError(
        403,
        f'{kind.lower()}s "{meta.get("name", "")}" is forbidden: violates PodSecurity "baseline": '
        f"{detail} (or label the namespace {ENFORCE_LABEL}=privileged)",
        "Forbidden",
        name=str(meta.get("name", "")),
        kind=kind.lower() + "s",
        causes=causes,
    )
