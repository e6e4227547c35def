"""Validation of a PodSpec (a Pod's, or a workload's template): containers, ports,
resources, probes, volumes, tolerations and node affinity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.gpus import GPU_MEMORY_RESOURCE, GPU_RESOURCE
from api.quantity import parse_quantity
from api.selectors import qualified_name_error
from api.validation.common import (
    Errs,
    as_dict,
    check_int,
    check_labels,
    check_name,
    check_port,
    duplicate,
    forbidden,
    hashable,
    invalid,
    required,
    unsupported,
)
from api.validation.pod_dns import check_pod_dns
from api.validation.pod_support import check_supported

RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_TOLERATION_OPS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NODE_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_STANDARD_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage", "storage", "pods"})


def _is_extended(name: str) -> bool:
    """Extended resources (nvidia.com/gpu) are integral and never overcommitted."""
    return "/" in name and not name.startswith(("kubernetes.io/", "requests."))


def _check_resource_map(errs: Errs, field: str, res: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if res is None:
        return out
    if not isinstance(res, dict):
        invalid(
            errs, field, res, 'must be a map of resource name to quantity (e.g. {"cpu": "500m"})'
        )
        return out
    for name, q in res.items():
        f = f"{field}[{name}]"
        if name not in _STANDARD_RESOURCES and not name.startswith("hugepages-"):
            err = qualified_name_error(name)
            if err or "/" not in name:
                invalid(
                    errs,
                    f,
                    name,
                    "must be a standard resource (cpu, memory, ephemeral-storage) or a "
                    "fully qualified name such as nvidia.com/gpu",
                )
                continue
        try:
            value = parse_quantity(q)
        except ValueError as e:
            invalid(errs, f, q, str(e))
            continue
        if value < 0:
            invalid(errs, f, q, "must be greater than or equal to 0")
            continue
        if _is_extended(name) and value != value.to_integral_value():
            invalid(errs, f, q, f"must be a whole number: {name} is counted in whole devices")
            continue
        out[name] = value
    return out


def _check_resources(errs: Errs, field: str, res: Any) -> None:
    if res is None:
        return
    if not isinstance(res, dict):
        invalid(errs, field, res, "must be an object with limits and requests")
        return
    limits = _check_resource_map(errs, f"{field}.limits", res.get("limits"))
    requests = _check_resource_map(errs, f"{field}.requests", res.get("requests"))
    if GPU_MEMORY_RESOURCE in limits and GPU_RESOURCE in limits:
        invalid(
            errs,
            f"{field}.limits[{GPU_MEMORY_RESOURCE}]",
            res["limits"][GPU_MEMORY_RESOURCE],
            f"ask for whole GPUs with {GPU_RESOURCE} or for part of one GPU with "
            f"{GPU_MEMORY_RESOURCE}, not both",
        )
    for name, req in requests.items():
        lim = limits.get(name)
        if _is_extended(name):
            if lim is None:
                required(
                    errs,
                    f"{field}.limits[{name}]",
                    f"{name} must have a limit equal to its request; "
                    f'add limits: {{"{name}": "{res["requests"][name]}"}}',
                )
            elif lim != req:
                invalid(
                    errs,
                    f"{field}.requests[{name}]",
                    res["requests"][name],
                    f"must be equal to {name} limit of {res['limits'][name]}; "
                    "extended resources cannot be overcommitted, set request and limit equal",
                )
        elif lim is not None and req > lim:
            invalid(
                errs,
                f"{field}.requests",
                res["requests"][name],
                f"must be less than or equal to {name} limit of {res['limits'][name]}; "
                f"raise limits[{name}] or lower requests[{name}]",
            )


def _check_probe(errs: Errs, field: str, probe: Any, liveness_like: bool) -> None:
    if probe is None:
        return
    if not isinstance(probe, dict):
        invalid(errs, field, probe, "must be an object")
        return
    handlers = [h for h in _PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        required(
            errs,
            field,
            "must specify a handler type; set exactly one of exec, httpGet, tcpSocket or grpc",
        )
    elif len(handlers) > 1:
        forbidden(
            errs,
            f"{field}.{handlers[1]}",
            f"may not specify more than 1 handler type; keep only one of {', '.join(handlers)}",
        )
    for h in ("httpGet", "tcpSocket"):
        action = probe.get(h)
        if isinstance(action, dict):
            if "port" not in action:
                required(errs, f"{field}.{h}.port", "set the container port to probe (e.g. 8080)")
            else:
                check_port(errs, f"{field}.{h}.port", action["port"], allow_name=True)
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        check_port(errs, f"{field}.grpc.port", grpc.get("port"))
    ex = probe.get("exec")
    if isinstance(ex, dict) and not ex.get("command"):
        required(
            errs, f"{field}.exec.command", 'give the command to run, e.g. ["cat", "/tmp/healthy"]'
        )
    check_int(errs, f"{field}.initialDelaySeconds", probe.get("initialDelaySeconds"), 0)
    for key in ("timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        check_int(errs, f"{field}.{key}", probe.get(key), 1)
    st = probe.get("successThreshold")
    if liveness_like and isinstance(st, int) and st not in (0, 1):
        invalid(errs, f"{field}.successThreshold", st, "must be 1 for liveness and startup probes")


def _check_env(errs: Errs, field: str, env: Any) -> None:
    if env is None:
        return
    if not isinstance(env, list):
        invalid(errs, field, env, "must be a list of {name, value} entries")
        return
    for i, e in enumerate(env):
        f = f"{field}[{i}]"
        if not isinstance(e, dict):
            invalid(errs, f, e, "must be an object with name and value")
            continue
        if not e.get("name"):
            required(errs, f"{f}.name", "every environment variable needs a name")
        vf = e.get("valueFrom")
        if vf is not None:
            if e.get("value"):
                invalid(
                    errs,
                    f"{f}.valueFrom",
                    vf,
                    "may not be specified when `value` is not empty; use one of them",
                )
            srcs = [k for k, v in vf.items() if v is not None] if isinstance(vf, dict) else []
            if len(srcs) != 1:
                invalid(
                    errs,
                    f"{f}.valueFrom",
                    vf,
                    "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef",
                )


def _check_init_container(errs: Errs, field: str, c: dict[str, Any]) -> None:
    """Init containers run once to completion: no probes or lifecycle hooks (Kubernetes'
    rule), and no sidecars (restartPolicy: Always), which kubelab does not run."""
    for hook in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
        if c.get(hook) is not None:
            forbidden(
                errs,
                f"{field}.{hook}",
                "may not be set for init containers: they run to completion; remove it",
            )
    if c.get("restartPolicy") is not None:
        forbidden(
            errs,
            f"{field}.restartPolicy",
            "sidecar init containers (restartPolicy: Always) are not supported; remove "
            "restartPolicy, or run the sidecar in spec.containers",
        )


def _check_container(errs: Errs, field: str, c: dict[str, Any], volumes: set[str]) -> None:
    name = c.get("name")
    if not name:
        required(errs, f"{field}.name", "every container needs a name (e.g. name: app)")
    else:
        check_name(errs, f"{field}.name", name, "label")
    image = c.get("image")
    if not image or not isinstance(image, str) or not image.strip():
        required(errs, f"{field}.image", "set the container image (e.g. image: nginx:1.27)")
    ipp = c.get("imagePullPolicy")
    if ipp is not None and ipp not in _PULL_POLICIES:
        unsupported(errs, f"{field}.imagePullPolicy", ipp, _PULL_POLICIES)
    ports = c.get("ports")
    if ports is not None:
        if not isinstance(ports, list):
            invalid(errs, f"{field}.ports", ports, "must be a list of {containerPort: N} entries")
        else:
            seen: set[tuple[Any, Any]] = set()
            names: set[str] = set()
            for i, p in enumerate(ports):
                pf = f"{field}.ports[{i}]"
                if not isinstance(p, dict):
                    invalid(errs, pf, p, "must be an object such as {containerPort: 80}")
                    continue
                if "containerPort" not in p:
                    required(
                        errs,
                        f"{pf}.containerPort",
                        "set the port the container listens on (1-65535)",
                    )
                else:
                    check_port(errs, f"{pf}.containerPort", p["containerPort"])
                hp = p.get("hostPort")
                if hp not in (None, 0):
                    check_port(errs, f"{pf}.hostPort", hp)
                proto = p.get("protocol", "TCP")
                if proto not in _PROTOCOLS:
                    unsupported(errs, f"{pf}.protocol", proto, _PROTOCOLS)
                key = (hashable(p.get("containerPort")), hashable(proto))
                if key in seen:
                    duplicate(
                        errs,
                        f"{pf}.containerPort",
                        p.get("containerPort"),
                        "each containerPort/protocol pair may appear once",
                    )
                seen.add(key)
                pn = p.get("name")
                if pn:
                    check_port(errs, f"{pf}.name", pn, allow_name=True)
                    if hashable(pn) in names:
                        duplicate(
                            errs, f"{pf}.name", pn, "port names must be unique within a container"
                        )
                    names.add(hashable(pn))
    _check_env(errs, f"{field}.env", c.get("env"))
    _check_resources(errs, f"{field}.resources", c.get("resources"))
    _check_probe(errs, f"{field}.livenessProbe", c.get("livenessProbe"), True)
    _check_probe(errs, f"{field}.readinessProbe", c.get("readinessProbe"), False)
    _check_probe(errs, f"{field}.startupProbe", c.get("startupProbe"), True)
    mounts = c.get("volumeMounts")
    if isinstance(mounts, list):
        paths: set[str] = set()
        for i, m in enumerate(mounts):
            mf = f"{field}.volumeMounts[{i}]"
            if not isinstance(m, dict):
                invalid(errs, mf, m, "must be an object with name and mountPath")
                continue
            vname = m.get("name")
            if not vname:
                required(errs, f"{mf}.name", "name the volume to mount (one of spec.volumes)")
            elif vname not in volumes:
                invalid(
                    errs,
                    f"{mf}.name",
                    vname,
                    "not found in spec.volumes; add a volume with this name or fix the mount's name",
                )
            mp = m.get("mountPath")
            if not mp:
                required(errs, f"{mf}.mountPath", "set the path inside the container (e.g. /data)")
            elif mp in paths:
                invalid(errs, f"{mf}.mountPath", mp, "must be unique; two mounts use this path")
            else:
                paths.add(mp)


def _check_volumes(errs: Errs, field: str, volumes: Any) -> set[str]:
    names: set[str] = set()
    if volumes is None:
        return names
    if not isinstance(volumes, list):
        invalid(errs, field, volumes, "must be a list of volumes")
        return names
    for i, v in enumerate(volumes):
        vf = f"{field}[{i}]"
        if not isinstance(v, dict):
            invalid(errs, vf, v, "must be an object with a name and one volume source")
            continue
        name = v.get("name")
        if not name:
            required(errs, f"{vf}.name", "every volume needs a name")
        else:
            check_name(errs, f"{vf}.name", name, "label")
            if hashable(name) in names:
                duplicate(errs, f"{vf}.name", name, "volume names must be unique within a pod")
            names.add(hashable(name))
        sources = [k for k, s in v.items() if k != "name" and s is not None]
        if not sources:
            required(
                errs,
                vf,
                "must specify a volume type, e.g. emptyDir: {}, hostPath, configMap or secret",
            )
        elif len(sources) > 1:
            forbidden(
                errs,
                f"{vf}.{sources[1]}",
                f"may not specify more than 1 volume type; keep only one of {', '.join(sources)}",
            )
        hp = v.get("hostPath")
        if isinstance(hp, dict) and not hp.get("path"):
            required(errs, f"{vf}.hostPath.path", "give the path on the node (e.g. /data)")
        pvc = v.get("persistentVolumeClaim")
        if isinstance(pvc, dict):
            if not pvc.get("claimName"):
                required(errs, f"{vf}.persistentVolumeClaim.claimName", "name the claim to mount")
            else:
                check_name(
                    errs, f"{vf}.persistentVolumeClaim.claimName", pvc["claimName"], "subdomain"
                )
    return names


def _check_tolerations(errs: Errs, field: str, tolerations: Any) -> None:
    if not isinstance(tolerations, list):
        if tolerations is not None:
            invalid(errs, field, tolerations, "must be a list of tolerations")
        return
    for i, t in enumerate(tolerations):
        tf = f"{field}[{i}]"
        if not isinstance(t, dict):
            invalid(errs, tf, t, "must be an object with key, operator, value, effect")
            continue
        key = t.get("key") or ""
        op = t.get("operator") or "Equal"
        if op not in _TOLERATION_OPS:
            unsupported(errs, f"{tf}.operator", op, _TOLERATION_OPS)
        if key:
            err = qualified_name_error(key)
            if err:
                invalid(errs, f"{tf}.key", key, err)
        elif op != "Exists":
            invalid(
                errs,
                f"{tf}.operator",
                op,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        if op == "Exists" and t.get("value"):
            invalid(
                errs,
                f"{tf}.operator",
                op,
                "value must be empty when `operator` is 'Exists'; remove value or use operator Equal",
            )
        effect = t.get("effect")
        if effect and effect not in _TAINT_EFFECTS:
            unsupported(errs, f"{tf}.effect", effect, _TAINT_EFFECTS)
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            invalid(
                errs,
                f"{tf}.effect",
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )


def check_node_selector_requirement(errs: Errs, field: str, req: Any) -> None:
    """One In/NotIn/Exists/DoesNotExist/Gt/Lt requirement of node affinity."""
    if not isinstance(req, dict):
        invalid(errs, field, req, "must be an object with key, operator and values")
        return
    if not req.get("key"):
        required(errs, f"{field}.key", "name the node label to test")
    op = req.get("operator")
    values = req.get("values") or []
    if op not in _NODE_SELECTOR_OPS:
        unsupported(errs, f"{field}.operator", op, _NODE_SELECTOR_OPS)
    elif op in ("In", "NotIn") and not values:
        required(errs, f"{field}.values", f"must be specified when `operator` is '{op}'")
    elif op in ("Exists", "DoesNotExist") and values:
        forbidden(errs, f"{field}.values", f"may not be specified when `operator` is '{op}'")
    elif op in ("Gt", "Lt"):
        if len(values) != 1 or not str(values[0]).lstrip("-").isdigit():
            invalid(
                errs,
                f"{field}.values",
                values,
                f"must be a single integer when `operator` is '{op}' (e.g. [\"2\"])",
            )


def _check_affinity(errs: Errs, field: str, affinity: Any) -> None:
    if not isinstance(affinity, dict):
        return
    na = affinity.get("nodeAffinity")
    if not isinstance(na, dict):
        return
    nf = f"{field}.nodeAffinity"
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(req, dict):
        rf = f"{nf}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        terms = req.get("nodeSelectorTerms")
        if not terms:
            required(errs, rf, "must have at least one node selector term")
        for i, term in enumerate(terms or []):
            for key in ("matchExpressions", "matchFields"):
                for j, r in enumerate(as_dict(term).get(key) or []):
                    check_node_selector_requirement(errs, f"{rf}[{i}].{key}[{j}]", r)
    pref = na.get("preferredDuringSchedulingIgnoredDuringExecution")
    for i, p in enumerate(pref or []):
        pf = f"{nf}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        check_int(errs, f"{pf}.weight", as_dict(p).get("weight"), 1, 100)
        for j, r in enumerate(as_dict(as_dict(p).get("preference")).get("matchExpressions") or []):
            check_node_selector_requirement(errs, f"{pf}.preference.matchExpressions[{j}]", r)


def validate_pod_spec(
    errs: Errs,
    field: str,
    spec: Any,
    allowed_restart: tuple[str, ...] = RESTART_POLICIES,
    claim_volumes: frozenset[str] = frozenset(),
) -> None:
    """Validate a PodSpec at JSON path ``field`` (``spec`` or ``spec.template.spec``).

    ``claim_volumes``: names containers may mount besides ``volumes`` (a StatefulSet's
    volumeClaimTemplates, which become volumes of each pod)."""
    if not isinstance(spec, dict):
        required(errs, field, "a pod spec with at least one container is required")
        return
    volumes = _check_volumes(errs, f"{field}.volumes", spec.get("volumes")) | claim_volumes
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        required(
            errs,
            f"{field}.containers",
            "a pod needs at least one container; add one, e.g. containers: [{name: app, image: nginx}]",
        )
        containers = []
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        group = containers if key == "containers" else spec.get("initContainers") or []
        if not isinstance(group, list):
            invalid(errs, f"{field}.{key}", group, "must be a list of containers")
            continue
        for i, c in enumerate(group):
            cf = f"{field}.{key}[{i}]"
            if not isinstance(c, dict):
                invalid(errs, cf, c, "must be an object with name and image")
                continue
            _check_container(errs, cf, c, volumes)
            if key == "initContainers":
                _check_init_container(errs, cf, c)
            name = c.get("name")
            if isinstance(name, str) and name:
                if name in seen:
                    duplicate(
                        errs,
                        f"{cf}.name",
                        name,
                        "container names must be unique within a pod; rename one of them",
                    )
                seen.add(name)
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in allowed_restart:
        unsupported(errs, f"{field}.restartPolicy", rp, allowed_restart)
    dp = spec.get("dnsPolicy")
    if dp is not None and dp not in _DNS_POLICIES:
        unsupported(errs, f"{field}.dnsPolicy", dp, _DNS_POLICIES)
    check_pod_dns(errs, field, spec)
    check_int(
        errs, f"{field}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds"), 0
    )
    check_int(errs, f"{field}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), 1)
    check_labels(errs, f"{field}.nodeSelector", spec.get("nodeSelector"))
    nn = spec.get("nodeName")
    if nn:
        check_name(errs, f"{field}.nodeName", nn, "subdomain")
    _check_tolerations(errs, f"{field}.tolerations", spec.get("tolerations"))
    _check_affinity(errs, f"{field}.affinity", spec.get("affinity"))
    # Last: fields kubelab does not act on (docs/pod-fields.md lists those it does).
    check_supported(errs, field, spec)
