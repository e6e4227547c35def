"""Validation of objects on write: ``validate(kind, obj, old=None) -> list[Cause]``.

Each Cause names the JSON path of the bad field (``spec.containers[0].name``) and says
what is wrong and how to fix it, worded like kube-apiserver. It runs on every API write,
so it works on plain dicts with precompiled regexes; pydantic is used only by
:func:`unknown_fields` (for ``fieldValidation=Strict``/``Warn``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from api.errors import Cause
from api.selectors import LabelSelector, qualified_name_error
from api.validation_common import (
    Errs,
    check_int,
    check_labels,
    check_name,
    check_port,
    duplicate,
    forbidden,
    invalid,
    required,
    show,
    too_long,
    unsupported,
)
from api.validation_fields import drop_unknown_fields, unknown_fields
from api.validation_pod import validate_pod_spec
from api.validation_update import validate_update

__all__ = ["drop_unknown_fields", "unknown_fields", "validate"]

Obj = dict[str, Any]

# Name style per kind: Namespaces are DNS labels, Services DNS-1035 labels, the rest subdomains.
_NAME_STYLE = {"Namespace": "label", "Service": "dns1035"}
_CLUSTER_SCOPED = frozenset({"Namespace", "Node"})
_ANNOTATIONS_MAX = 256 * 1024
_DATA_MAX = 1024 * 1024
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_STRATEGIES = ("RollingUpdate", "Recreate")
_PERCENT_RE = re.compile(r"^[0-9]+%$")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_SESSION_AFFINITY = ("None", "ClientIP")
_COMPLETION_MODES = ("NonIndexed", "Indexed")


def _validate_meta(errs: Errs, kind: str, obj: Obj) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        required(
            errs, "metadata", "every object needs metadata with a name (e.g. metadata: {name: web})"
        )
        return
    style = _NAME_STYLE.get(kind, "subdomain")
    name = meta.get("name")
    gen = meta.get("generateName")
    if not name:
        if not gen:
            required(
                errs,
                "metadata.name",
                "name or generateName is required; set metadata.name (e.g. name: web)",
            )
        else:
            check_name(errs, "metadata.generateName", gen, style, prefix=True)
    else:
        check_name(errs, "metadata.name", name, style)
    ns = meta.get("namespace")
    if ns and kind not in _CLUSTER_SCOPED:
        check_name(errs, "metadata.namespace", ns, "label")
    check_labels(errs, "metadata.labels", meta.get("labels"))
    ann = meta.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict):
            invalid(
                errs, "metadata.annotations", ann, "must be a map of string keys to string values"
            )
        else:
            size = 0
            for k, v in ann.items():
                err = qualified_name_error(k.lower()) if isinstance(k, str) else "must be a string"
                if err:
                    invalid(errs, "metadata.annotations", k, f"annotation key {err}")
                if not isinstance(v, str):
                    invalid(
                        errs,
                        f"metadata.annotations[{k}]",
                        v,
                        'annotation values must be strings; quote it (e.g. "true")',
                    )
                    continue
                size += len(k) + len(v)
            if size > _ANNOTATIONS_MAX:
                too_long(
                    errs,
                    "metadata.annotations",
                    _ANNOTATIONS_MAX,
                    "bytes (keys and values together); move large data to a ConfigMap",
                )
    refs = meta.get("ownerReferences")
    if isinstance(refs, list):
        controllers = 0
        for i, r in enumerate(refs):
            rf = f"metadata.ownerReferences[{i}]"
            if not isinstance(r, dict):
                invalid(errs, rf, r, "must be an object with apiVersion, kind, name and uid")
                continue
            for key in ("apiVersion", "kind", "name", "uid"):
                if not r.get(key):
                    required(errs, f"{rf}.{key}", f"an owner reference needs {key}")
            if r.get("controller"):
                controllers += 1
        if controllers > 1:
            invalid(
                errs,
                "metadata.ownerReferences",
                refs,
                "Only one reference can have Controller set to true; unset controller on the others",
            )
    fins = meta.get("finalizers")
    if isinstance(fins, list):
        for i, f in enumerate(fins):
            err = qualified_name_error(f) if isinstance(f, str) else "must be a string"
            if err:
                invalid(errs, f"metadata.finalizers[{i}]", f, err)


def _check_selector(errs: Errs, field: str, sel: Any, template: Any, template_field: str) -> None:
    """Selector present, non-empty, parseable, and matching the template's labels."""
    if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        required(
            errs,
            field,
            "a non-empty selector is required; set matchLabels to the template's labels "
            "(e.g. selector: {matchLabels: {app: web}})",
        )
        return
    try:
        parsed = LabelSelector.from_dict(sel)
    except ValueError as e:
        invalid(errs, field, sel, str(e))
        return
    labels = (
        ((template or {}).get("metadata") or {}).get("labels")
        if isinstance(template, dict)
        else None
    )
    if not parsed.matches(labels if isinstance(labels, dict) else {}):
        invalid(
            errs,
            f"{template_field}.metadata.labels",
            labels or {},
            f"`selector` does not match template `labels`; make {template_field}.metadata.labels "
            f"satisfy {field} ({parsed.to_string()})",
        )


def _validate_template(errs: Errs, spec: Obj, allowed_restart: tuple[str, ...]) -> Any:
    template = spec.get("template")
    if not isinstance(template, dict):
        required(
            errs,
            "spec.template",
            "a pod template (metadata.labels and spec.containers) is required",
        )
        return None
    check_labels(
        errs, "spec.template.metadata.labels", (template.get("metadata") or {}).get("labels")
    )
    tspec = template.get("spec")
    validate_pod_spec(errs, "spec.template.spec", tspec, allowed_restart)
    return template


def _validate_replicated(errs: Errs, obj: Obj) -> Obj | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with selector and template is required")
        return None
    check_int(errs, "spec.replicas", spec.get("replicas"), 0)
    check_int(errs, "spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    template = _validate_template(errs, spec, ("Always",))
    _check_selector(errs, "spec.selector", spec.get("selector"), template, "spec.template")
    return spec


def _int_or_percent(errs: Errs, field: str, v: Any, max_percent: int | None = None) -> int | None:
    """The number (or percent) of an IntOrString; None when invalid or unset."""
    if v is None:
        return None
    if isinstance(v, bool):
        invalid(errs, field, v, 'must be an integer or a percentage (e.g. 1 or "25%")')
        return None
    if isinstance(v, int):
        return v if check_int(errs, field, v, 0) else None
    if isinstance(v, str) and _PERCENT_RE.match(v):
        pct = int(v[:-1])
        if max_percent is not None and pct > max_percent:
            invalid(errs, field, v, f"must not be greater than {max_percent}%")
            return None
        return pct
    invalid(errs, field, v, 'must be an integer or a percentage (e.g. 1 or "25%")')
    return None


def _validate_deployment(errs: Errs, obj: Obj) -> None:
    spec = _validate_replicated(errs, obj)
    if spec is None:
        return
    check_int(errs, "spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    pds = spec.get("progressDeadlineSeconds")
    if check_int(errs, "spec.progressDeadlineSeconds", pds, 1) and pds is not None:
        mrs = spec.get("minReadySeconds")
        if isinstance(mrs, int) and pds <= mrs:
            invalid(
                errs, "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"
            )
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        return
    stype = strategy.get("type", "RollingUpdate")
    if stype not in _STRATEGIES:
        unsupported(errs, "spec.strategy.type", stype, _STRATEGIES)
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate" and ru is not None:
        forbidden(
            errs,
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'; remove it or use type RollingUpdate",
        )
    if stype == "RollingUpdate" and isinstance(ru, dict):
        f = "spec.strategy.rollingUpdate"
        unavailable = _int_or_percent(errs, f"{f}.maxUnavailable", ru.get("maxUnavailable"), 100)
        surge = _int_or_percent(errs, f"{f}.maxSurge", ru.get("maxSurge"))
        if unavailable == 0 and surge == 0:
            invalid(
                errs,
                f"{f}.maxUnavailable",
                ru.get("maxUnavailable"),
                "may not be 0 when `maxSurge` is 0; set maxSurge or maxUnavailable to at least 1 so the rollout can progress",
            )


def _validate_replicaset(errs: Errs, obj: Obj) -> None:
    _validate_replicated(errs, obj)


def _validate_job(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with a pod template is required")
        return
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        check_int(errs, f"spec.{key}", spec.get(key), 0)
    check_int(errs, "spec.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), 1)
    mode = spec.get("completionMode")
    if mode is not None and mode not in _COMPLETION_MODES:
        unsupported(errs, "spec.completionMode", mode, _COMPLETION_MODES)
    if mode == "Indexed" and spec.get("completions") is None:
        required(errs, "spec.completions", "when completionMode is Indexed, set completions")
    template = _validate_template(errs, spec, ("OnFailure", "Never"))
    if isinstance(template, dict):
        tspec = template.get("spec")
        if isinstance(tspec, dict) and not tspec.get("restartPolicy"):
            required(
                errs,
                "spec.template.spec.restartPolicy",
                "a Job's pods must not restart forever; set restartPolicy to OnFailure or Never",
            )
    sel = spec.get("selector")
    if sel is not None:
        _check_selector(errs, "spec.selector", sel, template, "spec.template")


def _validate_pod(errs: Errs, obj: Obj) -> None:
    validate_pod_spec(errs, "spec", obj.get("spec"))


def _validate_service(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with ports and a selector is required")
        return
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        unsupported(errs, "spec.type", stype, _SERVICE_TYPES)
    cip = spec.get("clusterIP")
    headless = cip == "None"
    if cip and not headless:
        try:
            ipaddress.ip_address(cip)
        except ValueError:
            invalid(
                errs,
                "spec.clusterIP",
                cip,
                'must be a valid IP address, "None" for a headless service, or empty to have one allocated',
            )
    if stype == "ExternalName" and not spec.get("externalName"):
        required(
            errs,
            "spec.externalName",
            "an ExternalName service needs externalName (e.g. db.example.com)",
        )
    sa = spec.get("sessionAffinity")
    if sa is not None and sa not in _SESSION_AFFINITY:
        unsupported(errs, "spec.sessionAffinity", sa, _SESSION_AFFINITY)
    check_labels(errs, "spec.selector", spec.get("selector"))
    ports = spec.get("ports")
    if not ports:
        if not headless and stype != "ExternalName":
            required(
                errs,
                "spec.ports",
                "add at least one port, e.g. ports: [{port: 80, targetPort: 8080}]",
            )
        return
    if not isinstance(ports, list):
        invalid(errs, "spec.ports", ports, "must be a list of ports")
        return
    names: set[Any] = set()
    pairs: set[tuple[Any, Any]] = set()
    for i, p in enumerate(ports):
        pf = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            invalid(errs, pf, p, "must be an object such as {port: 80, targetPort: 8080}")
            continue
        if "port" not in p:
            required(errs, f"{pf}.port", "set the port the service listens on (1-65535)")
        else:
            check_port(errs, f"{pf}.port", p["port"])
        proto = p.get("protocol", "TCP")
        if proto not in _PROTOCOLS:
            unsupported(errs, f"{pf}.protocol", proto, _PROTOCOLS)
        if p.get("targetPort") is not None:
            check_port(errs, f"{pf}.targetPort", p["targetPort"], allow_name=True)
        name = p.get("name")
        if len(ports) > 1 and not name:
            required(
                errs,
                f"{pf}.name",
                "when a service has more than one port, every port needs a name (e.g. http)",
            )
        if name:
            check_name(errs, f"{pf}.name", name, "label")
            if name in names:
                duplicate(errs, f"{pf}.name", name, "port names must be unique within a service")
            names.add(name)
        pair = (p.get("port"), proto)
        if pair in pairs:
            duplicate(
                errs,
                pf,
                {"port": p.get("port"), "protocol": proto},
                "each port/protocol pair may appear once",
            )
        pairs.add(pair)
        np = p.get("nodePort")
        if np not in (None, 0):
            if stype not in ("NodePort", "LoadBalancer"):
                forbidden(
                    errs,
                    f"{pf}.nodePort",
                    f"may not be used when `type` is '{stype}'; remove it or set type: NodePort",
                )
            elif check_int(errs, f"{pf}.nodePort", np) and not 30000 <= np <= 32767:
                invalid(
                    errs,
                    f"{pf}.nodePort",
                    np,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                )


def _validate_node(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec") or {}
    taints = spec.get("taints") if isinstance(spec, dict) else None
    if isinstance(taints, list):
        seen: set[tuple[Any, Any]] = set()
        effects = ("NoSchedule", "PreferNoSchedule", "NoExecute")
        for i, t in enumerate(taints):
            tf = f"spec.taints[{i}]"
            if not isinstance(t, dict):
                invalid(errs, tf, t, "must be an object with key, value and effect")
                continue
            key = t.get("key")
            err = qualified_name_error(key) if isinstance(key, str) else "key is required"
            if err:
                invalid(errs, f"{tf}.key", key, err)
            if t.get("effect") not in effects:
                unsupported(errs, f"{tf}.effect", t.get("effect"), effects)
            pair = (key, t.get("effect"))
            if pair in seen:
                duplicate(
                    errs,
                    tf,
                    {"key": key, "effect": t.get("effect")},
                    "taints must be unique by key and effect",
                )
            seen.add(pair)
    status = obj.get("status") or {}
    gpus = status.get("gpus") if isinstance(status, dict) else None
    if isinstance(gpus, list):
        uuids: set[str] = set()
        for i, g in enumerate(gpus):
            gf = f"status.gpus[{i}]"
            if not isinstance(g, dict):
                invalid(
                    errs, gf, g, "must be an object with index, uuid, model, memoryMiB and health"
                )
                continue
            check_int(errs, f"{gf}.index", g.get("index"), 0)
            uuid = g.get("uuid")
            if not uuid or not isinstance(uuid, str):
                required(errs, f"{gf}.uuid", "every GPU needs its UUID (e.g. GPU-3f2a...)")
            elif uuid in uuids:
                duplicate(errs, f"{gf}.uuid", uuid, "GPU UUIDs must be unique on a node")
            else:
                uuids.add(uuid)


def _check_data_keys(errs: Errs, field: str, data: Any) -> int:
    if data is None:
        return 0
    if not isinstance(data, dict):
        invalid(errs, field, data, "must be a map of keys to string values")
        return 0
    size = 0
    for k, v in data.items():
        if (
            not isinstance(k, str)
            or len(k) > 253
            or not _CONFIG_KEY_RE.match(k)
            or k in (".", "..")
        ):
            invalid(
                errs,
                field,
                k,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name')",
            )
        if not isinstance(v, str):
            invalid(errs, f"{field}[{k}]", v, 'values must be strings; quote it (e.g. "8080")')
            continue
        size += len(v)
    return size


def _validate_configmap(errs: Errs, obj: Obj) -> None:
    size = _check_data_keys(errs, "data", obj.get("data"))
    size += _check_data_keys(errs, "binaryData", obj.get("binaryData"))
    both = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
    for k in sorted(both):
        duplicate(errs, "data", k, "a key may be in data or binaryData, not both")
    if size > _DATA_MAX:
        too_long(errs, "data", _DATA_MAX, "bytes; split the data over several ConfigMaps")


def _validate_secret(errs: Errs, obj: Obj) -> None:
    size = _check_data_keys(errs, "data", obj.get("data"))
    for k, v in (obj.get("data") or {}).items() if isinstance(obj.get("data"), dict) else ():
        if isinstance(v, str):
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                invalid(
                    errs,
                    f"data[{k}]",
                    "<value>",
                    "must be base64-encoded; encode it (base64) or put the plain text under stringData",
                )
    _check_data_keys(errs, "stringData", obj.get("stringData"))
    if size > _DATA_MAX:
        too_long(errs, "data", _DATA_MAX, "bytes")
    t = obj.get("type")
    if t is not None and not t:
        required(errs, "type", "set a Secret type (e.g. Opaque)")


def _validate_event(errs: Errs, obj: Obj) -> None:
    io = obj.get("involvedObject")
    if not isinstance(io, dict) or not (io.get("kind") or io.get("name")):
        required(
            errs,
            "involvedObject",
            "an event must name the object it is about (kind, name, namespace)",
        )


def _validate_endpoints(errs: Errs, obj: Obj) -> None:
    for i, s in enumerate(obj.get("subsets") or []):
        sf = f"subsets[{i}]"
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate((s or {}).get(key) or []):
                if not isinstance(a, dict) or not a.get("ip"):
                    required(errs, f"{sf}.{key}[{j}].ip", "every endpoint address needs an ip")
        for j, p in enumerate((s or {}).get("ports") or []):
            check_port(errs, f"{sf}.ports[{j}].port", (p or {}).get("port"))


def _validate_lease(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec") or {}
    check_int(errs, "spec.leaseDurationSeconds", spec.get("leaseDurationSeconds"), 1)
    check_int(errs, "spec.leaseTransitions", spec.get("leaseTransitions"), 0)


_VALIDATORS: dict[str, Callable[[Errs, Obj], None]] = {
    "Pod": _validate_pod,
    "Deployment": _validate_deployment,
    "ReplicaSet": _validate_replicaset,
    "Job": _validate_job,
    "Service": _validate_service,
    "Node": _validate_node,
    "ConfigMap": _validate_configmap,
    "Secret": _validate_secret,
    "Event": _validate_event,
    "Endpoints": _validate_endpoints,
    "Lease": _validate_lease,
}


def validate(kind: str, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Every reason ``obj`` may not be stored, as Causes; ``[]`` when it is valid.

    With ``old`` (an update), immutable fields are also checked against the stored object.
    Call after :func:`api.defaults.apply_defaults`.
    """
    errs: Errs = []
    if not isinstance(obj, dict):
        required(errs, "", f"the body must be a JSON object, got {show(obj)[:80]}")
        return errs
    _validate_meta(errs, kind, obj)
    f = _VALIDATORS.get(kind)
    if f is not None:
        f(errs, obj)
    if old is not None:
        validate_update(errs, kind, obj, old)
    return errs
