"""Validation of the non-workload kinds: Service, Node, ConfigMap, Secret, Event,
Endpoints and Lease."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any

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
    too_long,
    unsupported,
)
from api.validation.service_ips import validate_service_ips

Obj = dict[str, Any]

_DATA_MAX = 1024 * 1024
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_SESSION_AFFINITY = ("None", "ClientIP")


def validate_service(errs: Errs, obj: Obj) -> None:
    """Type, ports (1-65535, nodePort 30000-32767), port names, clusterIP, selector labels."""
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
    validate_service_ips(errs, spec, stype)
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
            if hashable(name) in names:
                duplicate(errs, f"{pf}.name", name, "port names must be unique within a service")
            names.add(hashable(name))
        pair = (hashable(p.get("port")), hashable(proto))
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


def validate_node(errs: Errs, obj: Obj) -> None:
    """Taints (key, effect, unique) and the kubelab ``status.gpus`` inventory (index, unique uuid)."""
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
            pair = (hashable(key), hashable(t.get("effect")))
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


def _check_data_keys(errs: Errs, field: str, data: Any, redact: bool = False) -> int:
    """Keys and string values of ``data``; with ``redact`` (a Secret) no value is echoed."""
    if data is None:
        return 0
    if not isinstance(data, dict):
        invalid(
            errs, field, "<value>" if redact else data, "must be a map of keys to string values"
        )
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
            shown = "<value>" if redact else v
            invalid(errs, f"{field}[{k}]", shown, 'values must be strings; quote it (e.g. "8080")')
            continue
        size += len(v)
    return size


def validate_configmap(errs: Errs, obj: Obj) -> None:
    """Data keys, string values, total size at most 1 MiB."""
    size = _check_data_keys(errs, "data", obj.get("data"))
    size += _check_data_keys(errs, "binaryData", obj.get("binaryData"))
    data, binary = obj.get("data"), obj.get("binaryData")
    # A non-object data was reported above; only two objects can share keys.
    both = set(data) & set(binary) if isinstance(data, dict) and isinstance(binary, dict) else ()
    for k in sorted(both):
        duplicate(errs, "data", k, "a key may be in data or binaryData, not both")
    if size > _DATA_MAX:
        too_long(errs, "data", _DATA_MAX, "bytes; split the data over several ConfigMaps")


def validate_secret(errs: Errs, obj: Obj) -> None:
    """Data keys, base64 values (never echoed back), size, type."""
    size = _check_data_keys(errs, "data", obj.get("data"), redact=True)
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
    _check_data_keys(errs, "stringData", obj.get("stringData"), redact=True)
    if size > _DATA_MAX:
        too_long(errs, "data", _DATA_MAX, "bytes")
    t = obj.get("type")
    if t is not None and not t:
        required(errs, "type", "set a Secret type (e.g. Opaque)")


def validate_event(errs: Errs, obj: Obj) -> None:
    """An event must name the object it is about."""
    io = obj.get("involvedObject")
    if not isinstance(io, dict) or not (io.get("kind") or io.get("name")):
        required(
            errs,
            "involvedObject",
            "an event must name the object it is about (kind, name, namespace)",
        )


def validate_endpoints(errs: Errs, obj: Obj) -> None:
    """Every address has an ip; every port is 1-65535."""
    for i, s in enumerate(obj.get("subsets") or []):
        sf = f"subsets[{i}]"
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(as_dict(s).get(key) or []):
                if not isinstance(a, dict) or not a.get("ip"):
                    required(errs, f"{sf}.{key}[{j}].ip", "every endpoint address needs an ip")
        for j, p in enumerate(as_dict(s).get("ports") or []):
            check_port(errs, f"{sf}.ports[{j}].port", as_dict(p).get("port"))


def validate_lease(errs: Errs, obj: Obj) -> None:
    """Lease duration positive, transitions non-negative."""
    spec = obj.get("spec") or {}
    check_int(errs, "spec.leaseDurationSeconds", spec.get("leaseDurationSeconds"), 1)
    check_int(errs, "spec.leaseTransitions", spec.get("leaseTransitions"), 0)


# ---------------------------------------------------------------- RBAC

_RBAC_GROUP = "rbac.authorization.k8s.io"
_SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def check_path_segment_name(errs: Errs, field: str, name: Any) -> None:
    """RBAC names are path segments (``system:node`` is one): not . or .., no / or %."""
    if not isinstance(name, str):
        invalid(errs, field, name, "must be a string")
    elif name in (".", ".."):
        invalid(errs, field, name, 'may not be "." or ".."')
    elif "/" in name or "%" in name:
        invalid(
            errs,
            field,
            name,
            'may not contain "/" or "%"; try ' + repr(name.replace("/", "-").replace("%", "-")),
        )


def _validate_rules(errs: Errs, rules: Any, namespaced: bool) -> None:
    if rules is None:
        return
    if not isinstance(rules, list):
        invalid(errs, "rules", rules, "must be a list of rules")
        return
    for i, r in enumerate(rules):
        rf = f"rules[{i}]"
        if not isinstance(r, dict):
            invalid(errs, rf, r, "must be an object with verbs, apiGroups and resources")
            continue
        for key in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            v = r.get(key)
            if v is not None and (
                not isinstance(v, list) or not all(isinstance(x, str) for x in v)
            ):
                invalid(errs, f"{rf}.{key}", v, "must be a list of strings")
        if not r.get("verbs"):
            required(
                errs, f"{rf}.verbs", 'verbs must contain at least one value (e.g. ["get", "list"])'
            )
        urls = r.get("nonResourceURLs")
        if urls:
            if namespaced:
                invalid(
                    errs,
                    f"{rf}.nonResourceURLs",
                    urls,
                    "namespaced rules cannot apply to non-resource URLs; use a ClusterRole",
                )
                continue
            if r.get("apiGroups") or r.get("resources"):
                invalid(
                    errs,
                    f"{rf}.nonResourceURLs",
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs; split it into two rules",
                )
            continue
        if not r.get("apiGroups"):
            required(
                errs,
                f"{rf}.apiGroups",
                'resource rules must supply at least one api group ("" is the core group)',
            )
        if not r.get("resources"):
            required(
                errs,
                f"{rf}.resources",
                'resource rules must supply at least one resource (e.g. ["pods"])',
            )


def validate_role(errs: Errs, obj: Obj) -> None:
    """Every rule has verbs, and apiGroups with resources (no URLs in a namespace)."""
    _validate_rules(errs, obj.get("rules"), namespaced=True)


def validate_cluster_role(errs: Errs, obj: Obj) -> None:
    """Rules as a Role's (non-resource URLs allowed); aggregationRule selectors parse."""
    _validate_rules(errs, obj.get("rules"), namespaced=False)
    agg = obj.get("aggregationRule")
    if agg is None:
        return
    sels = agg.get("clusterRoleSelectors") if isinstance(agg, dict) else None
    if not isinstance(sels, list) or not sels:
        required(
            errs,
            "aggregationRule.clusterRoleSelectors",
            'at least one selector is required (e.g. [{matchLabels: {"rbac.example.com/aggregate-to-monitoring": "true"}}])',
        )
        return
    from api.selectors import LabelSelector

    for i, s in enumerate(sels):
        try:
            if not isinstance(s, dict):
                raise ValueError("must be a label selector (matchLabels or matchExpressions)")
            LabelSelector.from_dict(s)
        except ValueError as exc:
            invalid(errs, f"aggregationRule.clusterRoleSelectors[{i}]", s, str(exc))


def _validate_binding(errs: Errs, obj: Obj, cluster: bool) -> None:
    ref = obj.get("roleRef")
    kinds_allowed = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if not isinstance(ref, dict):
        required(
            errs,
            "roleRef",
            f"name the role to grant, e.g. roleRef: {{apiGroup: {_RBAC_GROUP}, kind: ClusterRole, name: view}}",
        )
    else:
        if ref.get("apiGroup") != _RBAC_GROUP:
            unsupported(errs, "roleRef.apiGroup", ref.get("apiGroup"), (_RBAC_GROUP,))
        if ref.get("kind") not in kinds_allowed:
            unsupported(errs, "roleRef.kind", ref.get("kind"), kinds_allowed)
        if not ref.get("name"):
            required(errs, "roleRef.name", "name the Role or ClusterRole to grant")
        else:
            check_path_segment_name(errs, "roleRef.name", ref.get("name"))
    subjects = obj.get("subjects")
    if subjects is None:
        return
    if not isinstance(subjects, list):
        invalid(errs, "subjects", subjects, "must be a list of subjects (kind, name)")
        return
    for i, s in enumerate(subjects):
        sf = f"subjects[{i}]"
        if not isinstance(s, dict):
            invalid(errs, sf, s, "must be an object with kind and name")
            continue
        kind = s.get("kind")
        if kind not in _SUBJECT_KINDS:
            unsupported(errs, f"{sf}.kind", kind, _SUBJECT_KINDS)
            continue
        if not s.get("name"):
            required(errs, f"{sf}.name", f"name the {kind}")
        group = s.get("apiGroup") or ""
        if kind == "ServiceAccount":
            if group:
                unsupported(errs, f"{sf}.apiGroup", group, ("",))
            if cluster and not s.get("namespace"):
                required(
                    errs,
                    f"{sf}.namespace",
                    "a ServiceAccount subject of a ClusterRoleBinding needs its namespace",
                )
        elif group != _RBAC_GROUP:
            unsupported(errs, f"{sf}.apiGroup", group, (_RBAC_GROUP,))


def validate_role_binding(errs: Errs, obj: Obj) -> None:
    """roleRef names a Role or ClusterRole of rbac.authorization.k8s.io; subjects are
    Users, Groups or ServiceAccounts."""
    _validate_binding(errs, obj, cluster=False)


def validate_cluster_role_binding(errs: Errs, obj: Obj) -> None:
    """As a RoleBinding's, but roleRef is a ClusterRole and ServiceAccounts name their namespace."""
    _validate_binding(errs, obj, cluster=True)


def validate_binding_update(errs: Errs, new: Obj, old: Obj) -> None:
    """A binding's roleRef may not change: delete and recreate the binding."""
    if new.get("roleRef") != old.get("roleRef"):
        invalid(
            errs,
            "roleRef",
            new.get("roleRef"),
            "cannot change roleRef; delete the binding and create it again",
        )
