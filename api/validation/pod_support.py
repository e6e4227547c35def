"""Pod-spec fields kubelab does not act on: refused with a Status naming the field and
what to do instead, so that no field is accepted and silently ignored.

Only values that would change behaviour are refused: charts and kubectl send many fields
with their default or empty value (``hostPID: false``, ``imagePullSecrets: []``,
``seccompProfile: {type: RuntimeDefault}``), and those mean what kubelab does anyway.
The fields kubelab does act on, and where, are listed in docs/pod-fields.md; a field that
gets an implementation leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.validation.common import Errs, as_dict, check_name, forbidden, invalid, unsupported
from api.validation.projected import check_projected

# Volume sources the kubelet provides (kubelet/volumes.py).
VOLUME_SOURCES = (
    "emptyDir",
    "hostPath",
    "configMap",
    "secret",
    "persistentVolumeClaim",
    "projected",
)

# emptyDir media: "" is a directory on the node's disk, Memory a tmpfs (kubelet/volumes.py).
EMPTY_DIR_MEDIA = ("", "Memory")

Rule = tuple[str, Callable[[Any], bool], str]


def _non_empty(v: Any) -> bool:
    return v not in (None, "", [], {})


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


_POD_RULES: tuple[Rule, ...] = (
    ("hostUsers", lambda v: v is False, "user namespaces are not supported; remove hostUsers"),
    (
        "ephemeralContainers",
        _non_empty,
        "ephemeral containers are not supported; use `kl exec` into a running container",
    ),
    (
        "runtimeClassName",
        _non_empty,
        "runtime classes are not supported: every pod runs on the node's Docker engine, and "
        "GPUs are handed out by the nvidia.com/gpu limit; remove runtimeClassName",
    ),
    (
        "readinessGates",
        _non_empty,
        "readiness gates are not evaluated; remove them and use a readinessProbe",
    ),
    ("resourceClaims", _non_empty, "dynamic resource allocation is not supported; remove it"),
    (
        "resources",
        _non_empty,
        "pod-level resources are not supported; set resources on each container",
    ),
    (
        "schedulingGates",
        _non_empty,
        "scheduling gates are not supported: the scheduler would bind the pod anyway; "
        "remove them and create the pod when it may run",
    ),
    (
        "imagePullSecrets",
        _non_empty,
        "the kubelet pulls with the node's own Docker credentials; remove imagePullSecrets "
        "and run `docker login` on each node",
    ),
    (
        "activeDeadlineSeconds",
        lambda v: v is not None,
        "the kubelet does not end pods at a deadline; remove it (a Job's own "
        "spec.activeDeadlineSeconds is supported)",
    ),
)

_CONTAINER_RULES: tuple[Rule, ...] = (
    ("resizePolicy", _non_empty, "in-place resize is not supported; remove resizePolicy"),
    ("volumeDevices", _non_empty, "raw block devices are not supported; remove volumeDevices"),
)

_SECURITY_RULES: tuple[Rule, ...] = (
    ("seLinuxOptions", _non_empty, "SELinux labels are not supported; remove seLinuxOptions"),
    ("windowsOptions", _non_empty, "Windows containers are not supported; remove windowsOptions"),
    (
        "appArmorProfile",
        lambda v: _non_empty(v) and as_dict(v).get("type") != "RuntimeDefault",
        "only the runtime's default AppArmor profile is supported; use type RuntimeDefault",
    ),
    (
        "seccompProfile",
        lambda v: _non_empty(v) and as_dict(v).get("type") not in ("RuntimeDefault", "Unconfined"),
        "only the RuntimeDefault and Unconfined seccomp profiles are supported",
    ),
)

_POD_SECURITY_RULES: tuple[Rule, ...] = (
    *_SECURITY_RULES,
    (
        "fsGroupChangePolicy",
        lambda v: v not in (None, "Always", "OnRootMismatch"),
        "only Always and OnRootMismatch are supported",
    ),
    (
        "supplementalGroupsPolicy",
        lambda v: v not in (None, "Merge"),
        "only the Merge policy is supported",
    ),
    ("seLinuxChangePolicy", _non_empty, "SELinux labels are not supported; remove it"),
)

_CONTAINER_SECURITY_RULES: tuple[Rule, ...] = (
    *_SECURITY_RULES,
    (
        "procMount",
        lambda v: v not in (None, "Default"),
        "only the Default procMount is supported",
    ),
)


def _apply(errs: Errs, field: str, obj: dict[str, Any], rules: tuple[Rule, ...]) -> None:
    for key, refused, why in rules:
        if key in obj and refused(obj[key]):
            forbidden(errs, f"{field}.{key}", why)


def _check_run_as_non_root(errs: Errs, field: str, pod_sc: Any, sc: Any) -> None:
    """runAsGroup needs runAsUser (Docker applies a group only with a user); runAsNonRoot
    with runAsUser 0 can never run. Without a runAsUser the kubelet checks the image's
    USER when it makes the container (kubelet/podspec_runtime.py)."""
    uid = as_dict(sc).get("runAsUser", as_dict(pod_sc).get("runAsUser"))
    gid = as_dict(sc).get("runAsGroup", as_dict(pod_sc).get("runAsGroup"))
    if gid is not None and uid is None:
        forbidden(
            errs,
            f"{field}.runAsGroup",
            "needs runAsUser here or in the pod's securityContext: Docker sets a group "
            "only together with a user",
        )
    non_root = as_dict(sc).get("runAsNonRoot", as_dict(pod_sc).get("runAsNonRoot"))
    if non_root is True and uid == 0:
        invalid(errs, f"{field}.runAsUser", uid, "must not be 0 when runAsNonRoot is true")


# Kubernetes' mount propagation modes (the kubelet gives them to Docker as rslave, rshared).
PROPAGATION_MODES = ("None", "HostToContainer", "Bidirectional")


def _check_propagation(errs: Errs, mf: str, mode: Any, c: dict[str, Any]) -> None:
    """Kubernetes' rules: a known mode; Bidirectional only for a privileged container (its
    mounts reach the host)."""
    if mode is None:
        return
    if mode not in PROPAGATION_MODES:
        unsupported(errs, f"{mf}.mountPropagation", mode, PROPAGATION_MODES)
    elif (
        mode == "Bidirectional" and as_dict(c.get("securityContext")).get("privileged") is not True
    ):
        forbidden(
            errs,
            f"{mf}.mountPropagation",
            "Bidirectional mount propagation is available only to privileged containers",
        )


def _check_container(errs: Errs, field: str, c: dict[str, Any], pod_sc: Any, init: bool) -> None:
    _apply(errs, field, c, _CONTAINER_RULES)
    if not init and c.get("restartPolicy") is not None:
        forbidden(
            errs,
            f"{field}.restartPolicy",
            "may only be set on init containers; remove it (spec.restartPolicy applies)",
        )
    sc = c.get("securityContext")
    if isinstance(sc, dict):
        _apply(errs, f"{field}.securityContext", sc, _CONTAINER_SECURITY_RULES)
    _check_run_as_non_root(errs, f"{field}.securityContext", pod_sc, sc)
    for i, p in enumerate(_list(c.get("ports"))):
        if isinstance(p, dict) and _non_empty(p.get("hostIP")):
            forbidden(
                errs,
                f"{field}.ports[{i}].hostIP",
                "ports are published on the node's address (kubelet --address); remove hostIP",
            )
    tmp = c.get("terminationMessagePath")
    if tmp is not None and not (isinstance(tmp, str) and tmp.startswith("/")):
        invalid(errs, f"{field}.terminationMessagePath", tmp, "must be an absolute path")
    tmpol = c.get("terminationMessagePolicy")
    if tmpol is not None and tmpol not in ("File", "FallbackToLogsOnError"):
        unsupported(
            errs, f"{field}.terminationMessagePolicy", tmpol, ("File", "FallbackToLogsOnError")
        )
    hooks = as_dict(c.get("lifecycle"))
    if hooks.get("stopSignal") is not None:
        forbidden(errs, f"{field}.lifecycle.stopSignal", "containers get SIGTERM; remove it")
    for key in ("postStart", "preStop"):
        if as_dict(hooks.get(key)).get("tcpSocket") is not None:
            forbidden(
                errs,
                f"{field}.lifecycle.{key}.tcpSocket",
                "tcpSocket is not a hook handler (Kubernetes ignores it); use exec, httpGet or sleep",
            )
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if as_dict(c.get(key)).get("grpc") is not None:
            forbidden(
                errs,
                f"{field}.{key}.grpc",
                "gRPC probes are not supported; use tcpSocket on the same port, or exec",
            )
    for i, m in enumerate(_list(c.get("volumeMounts"))):
        if not isinstance(m, dict):
            continue
        mf = f"{field}.volumeMounts[{i}]"
        _check_propagation(errs, mf, m.get("mountPropagation"), c)
        if _non_empty(m.get("subPathExpr")):
            forbidden(errs, f"{mf}.subPathExpr", "use subPath with a fixed path instead")
        if m.get("recursiveReadOnly") not in (None, "Disabled"):
            forbidden(errs, f"{mf}.recursiveReadOnly", "use readOnly: true instead")


def _check_volume(errs: Errs, field: str, v: dict[str, Any]) -> None:
    for key, source in v.items():
        if key == "name" or source is None:
            continue
        if key not in VOLUME_SOURCES:
            forbidden(
                errs,
                f"{field}.{key}",
                f"{key} volumes are not supported; use one of {', '.join(VOLUME_SOURCES)}",
            )
    if v.get("projected") is not None:
        check_projected(errs, f"{field}.projected", v["projected"])
    ed = as_dict(v.get("emptyDir"))
    medium = ed.get("medium") or ""
    if medium not in EMPTY_DIR_MEDIA:
        unsupported(errs, f"{field}.emptyDir.medium", medium, EMPTY_DIR_MEDIA)
    # A tmpfs has a size (the kubelet mounts it with size=sizeLimit); a directory on the
    # node's disk has none that the kubelet could hold it to.
    if ed.get("sizeLimit") is not None and medium != "Memory":
        forbidden(
            errs,
            f"{field}.emptyDir.sizeLimit",
            "size limits are enforced only for medium: Memory (a tmpfs); remove it",
        )


def _check_host_network(errs: Errs, field: str, spec: dict[str, Any]) -> None:
    """On the node's network a container port is the host port (Kubernetes' rule)."""
    if spec.get("hostNetwork") is not True:
        return
    for group in ("initContainers", "containers"):
        for i, c in enumerate(_list(spec.get(group))):
            for j, p in enumerate(_list(as_dict(c).get("ports"))):
                p = as_dict(p)
                hp = p.get("hostPort")
                if hp not in (None, 0) and hp != p.get("containerPort"):
                    invalid(
                        errs,
                        f"{field}.{group}[{i}].ports[{j}].hostPort",
                        hp,
                        "must match containerPort when hostNetwork is true",
                    )


def check_supported(errs: Errs, field: str, spec: dict[str, Any]) -> None:
    """Refuse every field of a PodSpec at ``field`` that kubelab would not act on."""
    _apply(errs, field, spec, _POD_RULES)
    os_name = as_dict(spec.get("os")).get("name")
    if os_name not in (None, "linux"):
        forbidden(
            errs, f"{field}.os.name", "only linux nodes exist; use os.name linux or remove os"
        )
    # Hard placement rules the scheduler cannot keep are refused; soft ones (preferences)
    # are accepted with a warning (unscored_preferences), since ignoring a preference
    # still places every pod where the rules allow.
    affinity = as_dict(spec.get("affinity"))
    for key in ("podAffinity", "podAntiAffinity"):
        if _non_empty(as_dict(affinity.get(key)).get(_REQUIRED)):
            forbidden(
                errs,
                f"{field}.affinity.{key}.{_REQUIRED}",
                "inter-pod affinity is not supported by the scheduler; use nodeAffinity or "
                f"nodeSelector, or make it {_PREFERRED} (accepted with a warning)",
            )
    for i, c in enumerate(_list(spec.get("topologySpreadConstraints"))):
        if as_dict(c).get("whenUnsatisfiable", "DoNotSchedule") != "ScheduleAnyway":
            forbidden(
                errs,
                f"{field}.topologySpreadConstraints[{i}].whenUnsatisfiable",
                "the scheduler does not spread by topology; remove the constraint, pin pods "
                "with nodeSelector or nodeAffinity, or set whenUnsatisfiable: ScheduleAnyway "
                "(accepted with a warning)",
            )
    pod_sc = spec.get("securityContext")
    if isinstance(pod_sc, dict):
        _apply(errs, f"{field}.securityContext", pod_sc, _POD_SECURITY_RULES)
    for key in ("hostname", "subdomain"):
        if _non_empty(spec.get(key)):
            check_name(errs, f"{field}.{key}", spec[key], "label")
    _check_host_network(errs, field, spec)
    for i, v in enumerate(_list(spec.get("volumes"))):
        if isinstance(v, dict):
            _check_volume(errs, f"{field}.volumes[{i}]", v)
    for group in ("initContainers", "containers"):
        members = spec.get(group)
        if not isinstance(members, list):
            continue
        for i, c in enumerate(members):
            if isinstance(c, dict):
                _check_container(
                    errs, f"{field}.{group}[{i}]", c, pod_sc, group == "initContainers"
                )


# Where each kind keeps its pod spec.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
}


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def unscored_preferences(field: str, spec: dict[str, Any]) -> list[str]:
    """Warnings for the soft placement preferences of the PodSpec at ``field`` that the
    scheduler accepts but does not score (as Kubernetes warns about what it accepts and
    does not act on): the pod is placed as if they were absent."""
    out: list[str] = []
    affinity = as_dict(spec.get("affinity"))
    for key in ("nodeAffinity", "podAffinity", "podAntiAffinity"):
        if _non_empty(as_dict(affinity.get(key)).get(_PREFERRED)):
            out.append(
                f"{field}.affinity.{key}.{_PREFERRED}: not scored by kubelab's scheduler; "
                "pods are placed without this preference"
            )
    for i, c in enumerate(_list(spec.get("topologySpreadConstraints"))):
        if as_dict(c).get("whenUnsatisfiable") == "ScheduleAnyway":
            out.append(
                f"{field}.topologySpreadConstraints[{i}]: not scored by kubelab's scheduler; "
                "pods are placed without spreading"
            )
    return out


def pod_spec_of(kind: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The field path and PodSpec of an object of ``kind`` that holds one, else None."""
    path = POD_SPEC_PATHS.get(kind)
    if path is None:
        return None
    spec: Any = obj
    for key in path:
        spec = as_dict(spec).get(key)
    return (".".join(path), spec) if isinstance(spec, dict) else None


def ratchet(errs: Errs, kind: str, old: dict[str, Any]) -> Errs:
    """On an update, drop the refusals the stored object already had: an object stored
    before a field was refused here must still take status writes, finalizers and scale
    changes (Kubernetes ratchets new validation the same way). A changed value is still
    refused, since its message or field then differs."""
    found = pod_spec_of(kind, old)
    if found is None:
        return errs
    before: Errs = []
    check_supported(before, *found)
    known = {(c.field, c.message) for c in before}
    return [c for c in errs if (c.field, c.message) not in known]
