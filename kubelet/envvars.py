"""A container's environment: ``env`` (value, valueFrom) and ``envFrom``, resolved the way
the Kubernetes kubelet does, including ``$(VAR)`` expansion.

Pure functions: the caller fetches the ConfigMaps and Secrets first (see
``referenced_config``) and passes them in.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from api.quantity import parse_quantity


class EnvError(Exception):
    """The environment cannot be built (a missing ConfigMap, Secret or key).

    The kubelet reports it as the waiting reason ``CreateContainerConfigError``.
    """


def projected_refs(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the pod's projected volumes hold."""
    cms: set[str] = set()
    secrets: set[str] = set()
    for v in (pod.get("spec") or {}).get("volumes") or []:
        for src in (v.get("projected") or {}).get("sources") or []:
            if (src or {}).get("configMap"):
                cms.add(str(src["configMap"].get("name", "")))
            if (src or {}).get("secret"):
                secrets.add(str(src["secret"].get("name", "")))
    return cms - {""}, secrets - {""}


def referenced_config(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the pod's env, envFrom and volumes refer to."""
    cms: set[str] = set()
    secrets: set[str] = set()
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                cms.add(vf["configMapKeyRef"].get("name", ""))
            if "secretKeyRef" in vf:
                secrets.add(vf["secretKeyRef"].get("name", ""))
        for ef in c.get("envFrom") or []:
            if "configMapRef" in ef:
                cms.add(ef["configMapRef"].get("name", ""))
            if "secretRef" in ef:
                secrets.add(ef["secretRef"].get("name", ""))
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            cms.add(v["configMap"].get("name", ""))
        if "secret" in v:
            secrets.add(v["secret"].get("secretName", ""))
    projected_cms, projected_secrets = projected_refs(pod)
    cms |= projected_cms
    secrets |= projected_secrets
    cms.discard("")
    secrets.discard("")
    return cms, secrets


def secret_value(secret: Mapping[str, Any], key: str) -> str | None:
    """A Secret's value for ``key`` (``data`` is base64, ``stringData`` is plain)."""
    data = secret.get("data") or {}
    if key in data:
        return base64.b64decode(data[key]).decode("utf-8", errors="replace")
    string_data = secret.get("stringData") or {}
    if key in string_data:
        return str(string_data[key])
    return None


def secret_items(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a Secret, decoded to bytes."""
    out = {k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()}
    for k, v in (secret.get("data") or {}).items():
        out[k] = base64.b64decode(v)
    return out


def configmap_items(cm: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a ConfigMap (``data`` and ``binaryData``) as bytes."""
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v)
    return out


_FIELD_LABEL = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")


def field_ref(pod: dict[str, Any], path: str, host_ip: str, pod_ip: str = "") -> str:
    """The value of a downward-API ``fieldRef.fieldPath``; ``pod_ip`` is the pod's own
    address ("": it has none, it is on the node's network)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip or host_ip,
        "status.podIPs": pod_ip or host_ip,
    }
    if path in simple:
        return str(simple[path])
    m = _FIELD_LABEL.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise EnvError(f"fieldRef.fieldPath {path!r} is not supported")


def resource_field_ref(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """The value of ``resourceFieldRef`` (limits.cpu, requests.memory, ...) in ``divisor``s."""
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(name)
    if value is None:
        return "0"
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor == 0:
        divisor = Decimal(1)
    return str(int((parse_quantity(value) / divisor).to_integral_value(ROUND_CEILING)))


# The kubernetes Service's own variables (not those of a Service named kubernetes-foo).
_MASTER_VAR = re.compile(r"^KUBERNETES_(SERVICE_|PORT($|_))")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` from ``env``; ``$$`` is a literal ``$``; unknown refs stay as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR_REF.sub(sub, text)


def resolve_env(
    pod: dict[str, Any],
    container: dict[str, Any],
    configmaps: Mapping[str, dict[str, Any] | None],
    secrets: Mapping[str, dict[str, Any] | None],
    host_ip: str,
    base: Mapping[str, str] | None = None,
    *,
    pod_ip: str = "",
) -> dict[str, str]:
    """The container's environment, in Kubernetes order: ``base`` (service variables),
    then ``envFrom``, then ``env`` (later wins). Raises EnvError for a missing
    non-optional reference. ``enableServiceLinks: false`` keeps only the API server's
    own variables (``KUBERNETES_*``) of ``base``, as Kubernetes does."""
    env: dict[str, str] = dict(base or {})
    if (pod.get("spec") or {}).get("enableServiceLinks") is False:
        env = {k: v for k, v in env.items() if _MASTER_VAR.match(k)}
    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix") or ""
        if "configMapRef" in ef:
            ref = ef["configMapRef"]
            cm = configmaps.get(ref.get("name", ""))
            if cm is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'configmap "{ref.get("name")}" not found')
            for k, v in (cm.get("data") or {}).items():
                env[prefix + k] = str(v)
        if "secretRef" in ef:
            ref = ef["secretRef"]
            secret = secrets.get(ref.get("name", ""))
            if secret is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'secret "{ref.get("name")}" not found')
            for k, b in secret_items(secret).items():
                env[prefix + k] = b.decode("utf-8", errors="replace")
    for e in container.get("env") or []:
        name = e.get("name", "")
        if "value" in e or "valueFrom" not in e:
            env[name] = expand(str(e.get("value", "")), env)
            continue
        vf = e["valueFrom"] or {}
        value = _value_from(pod, container, vf, configmaps, secrets, host_ip, name, pod_ip)
        if value is not None:
            env[name] = value
    return env


def _value_from(
    pod: dict[str, Any],
    container: dict[str, Any],
    vf: dict[str, Any],
    configmaps: Mapping[str, dict[str, Any] | None],
    secrets: Mapping[str, dict[str, Any] | None],
    host_ip: str,
    var: str,
    pod_ip: str = "",
) -> str | None:
    if "configMapKeyRef" in vf:
        ref = vf["configMapKeyRef"]
        cm = configmaps.get(ref.get("name", ""))
        value = None if cm is None else (cm.get("data") or {}).get(ref.get("key", ""))
        if value is None:
            if ref.get("optional"):
                return None
            what = "not found" if cm is None else f'has no key "{ref.get("key")}"'
            raise EnvError(f'env {var}: configmap "{ref.get("name")}" {what}')
        return str(value)
    if "secretKeyRef" in vf:
        ref = vf["secretKeyRef"]
        secret = secrets.get(ref.get("name", ""))
        value = None if secret is None else secret_value(secret, ref.get("key", ""))
        if value is None:
            if ref.get("optional"):
                return None
            what = "not found" if secret is None else f'has no key "{ref.get("key")}"'
            raise EnvError(f'env {var}: secret "{ref.get("name")}" {what}')
        return value
    if "fieldRef" in vf:
        return field_ref(pod, vf["fieldRef"].get("fieldPath", ""), host_ip, pod_ip)
    if "resourceFieldRef" in vf:
        return resource_field_ref(container, vf["resourceFieldRef"])
    raise EnvError(f"env {var}: valueFrom names no known source")


# -- Service variables (Kubernetes' getServiceEnvVarMap and envvars.FromServices) -------

MASTER_SERVICES = ("kubernetes",)  # of ``default``: in every pod, whatever its namespace


def _has_cluster_ip(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env_vars(services: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, str]:
    """The variables a pod of ``namespace`` gets for ``services`` (any namespaces): every
    Service of its namespace with a ClusterIP, and ``default/kubernetes``, as
    ``<NAME>_SERVICE_HOST`` (the ClusterIP), ``<NAME>_SERVICE_PORT`` (the first port),
    ``<NAME>_SERVICE_PORT_<PORTNAME>`` and the Docker-link ``<NAME>_PORT...`` ones.
    Headless and ExternalName Services have none. A Service of the pod's own namespace
    wins over a master Service of the same name. (enableServiceLinks: see resolve_env.)"""
    chosen: dict[str, Mapping[str, Any]] = {}
    for svc in services:
        if not _has_cluster_ip(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = str(meta.get("name") or ""), meta.get("namespace")
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        spec = chosen[name].get("spec") or {}
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("port")]
        if not ports:
            continue
        ip, prefix = str(spec["clusterIP"]), _env_name(name)
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(str(p['name']))}"] = str(p["port"])
        host = f"[{ip}]" if ":" in ip else ip
        for i, p in enumerate(ports):
            proto = str(p.get("protocol") or "TCP")
            url = f"{proto.lower()}://{host}:{p['port']}"
            if i == 0:
                env[f"{prefix}_PORT"] = url  # Docker special-cases the first port
            link = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
            env[link] = url
            env[f"{link}_PROTO"] = proto.lower()
            env[f"{link}_PORT"] = str(p["port"])
            env[f"{link}_ADDR"] = ip
    return env
