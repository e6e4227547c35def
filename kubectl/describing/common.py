"""Sections several describe pages share: metadata, containers, pod templates, events."""

from __future__ import annotations

import json
from typing import Any

from api.registry import ResourceInfo, lookup
from client import Client
from kubectl.describing.writer import NONE, Page, when
from kubectl.printers.columns import format_selector

HOST_PORTS = "kubelab.io/host-ports"


def meta_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def header(page: Page, obj: dict[str, Any], info: ResourceInfo, with_created: bool = True) -> None:
    """Name, Namespace, Labels, Annotations (and CreationTimestamp)."""
    m = meta_of(obj)
    page.kv(0, "Name", m.get("name"))
    if info.namespaced:
        page.kv(0, "Namespace", m.get("namespace"))
    if with_created:
        page.kv(0, "CreationTimestamp", when(m.get("creationTimestamp")))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))


def annotations_section(page: Page, level: int, values: dict[str, str] | None) -> None:
    """``Annotations:`` without the bulky last-applied-configuration (as kubectl)."""
    vals = {
        k: v
        for k, v in (values or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    page.map(level, "Annotations", vals, sep=": ")


def controlled_by(obj: dict[str, Any]) -> str | None:
    for ref in meta_of(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None


def probe_text(probe: dict[str, Any]) -> str:
    """``http-get http://:80/healthz delay=0s timeout=1s period=10s #success=1 #failure=3``."""
    if "httpGet" in probe:
        h = probe["httpGet"]
        scheme = str(h.get("scheme") or "HTTP").lower()
        kind = f"http-get {scheme}://{h.get('host', '')}:{h.get('port')}{h.get('path', '/')}"
    elif "tcpSocket" in probe:
        kind = f"tcp-socket {probe['tcpSocket'].get('host', '')}:{probe['tcpSocket'].get('port')}"
    elif "exec" in probe:
        kind = "exec [" + " ".join((probe["exec"] or {}).get("command") or []) + "]"
    elif "grpc" in probe:
        kind = f"grpc <pod>:{probe['grpc'].get('port')}"
    else:
        kind = "unknown"
    return (
        f"{kind} delay={probe.get('initialDelaySeconds', 0)}s "
        f"timeout={probe.get('timeoutSeconds', 1)}s period={probe.get('periodSeconds', 10)}s "
        f"#success={probe.get('successThreshold', 1)} #failure={probe.get('failureThreshold', 3)}"
    )


def _state(page: Page, level: int, label: str, state: dict[str, Any] | None) -> None:
    if not state:
        page.kv(level, label, "Waiting" if label == "State" else NONE)
        return
    if "running" in state:
        page.kv(level, label, "Running")
        page.kv(level + 1, "Started", when((state["running"] or {}).get("startedAt")))
    elif "waiting" in state:
        page.kv(level, label, "Waiting")
        page.kv(level + 1, "Reason", (state["waiting"] or {}).get("reason"))
        if (state["waiting"] or {}).get("message"):
            page.kv(level + 1, "Message", state["waiting"]["message"])
    elif "terminated" in state:
        t = state["terminated"] or {}
        page.kv(level, label, "Terminated")
        page.kv(level + 1, "Reason", t.get("reason"))
        if t.get("message"):
            page.kv(level + 1, "Message", " ".join(str(t["message"]).split()))
        page.kv(level + 1, "Exit Code", t.get("exitCode", 0))
        page.kv(level + 1, "Started", when(t.get("startedAt")))
        page.kv(level + 1, "Finished", when(t.get("finishedAt")))
    else:
        page.kv(level, label, NONE)


def _resources(page: Page, level: int, label: str, values: dict[str, Any] | None) -> None:
    if not values:
        return
    page.line(level, f"{label}:")
    for k, v in sorted(values.items()):
        page.kv(level + 1, k, v)


def _env_value(e: dict[str, Any]) -> str:
    if "value" in e:
        return str(e["value"])
    vf = e.get("valueFrom") or {}
    if "configMapKeyRef" in vf:
        r = vf["configMapKeyRef"]
        return f"<set to the key '{r.get('key')}' of config map '{r.get('name')}'>"
    if "secretKeyRef" in vf:
        r = vf["secretKeyRef"]
        return f"<set to the key '{r.get('key')}' in secret '{r.get('name')}'>"
    if "fieldRef" in vf:
        return f"({vf['fieldRef'].get('apiVersion', 'v1')}:{vf['fieldRef'].get('fieldPath')})"
    if "resourceFieldRef" in vf:
        return f"{vf['resourceFieldRef'].get('resource')}"
    return ""


def container(
    page: Page,
    level: int,
    c: dict[str, Any],
    status: dict[str, Any] | None,
    host_ports: dict[str, Any] | None = None,
    name_indent: str = "",
) -> None:
    """One container: image, ports, command, state, resources, probes, env, mounts."""
    page.line(level, f"{name_indent}{c.get('name')}:")
    lv = level + 1
    if status and status.get("containerID"):
        page.kv(lv, "Container ID", status["containerID"])
    page.kv(lv, "Image", c.get("image"))
    if status is not None:
        page.kv(lv, "Image ID", status.get("imageID"))
    ports = c.get("ports") or []
    if not ports:
        page.kv(lv, "Port", NONE)
        page.kv(lv, "Host Port", NONE)
    else:
        page.kv(
            lv,
            "Port" if len(ports) == 1 else "Ports",
            ", ".join(f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}" for p in ports),
        )
        published = []
        for p in ports:
            hp = p.get("hostPort") or (host_ports or {}).get(
                f"{c.get('name')}/{p.get('containerPort')}"
            )
            published.append(f"{hp or 0}/{p.get('protocol') or 'TCP'}")
        page.kv(lv, "Host Port" if len(ports) == 1 else "Host Ports", ", ".join(published))
    for label, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            page.line(lv, f"{label}:")
            for part in c[key]:
                page.line(lv + 1, str(part))
    if status is not None:
        _state(page, lv, "State", status.get("state"))
        if status.get("lastState"):
            _state(page, lv, "Last State", status.get("lastState"))
        page.kv(lv, "Ready", "True" if status.get("ready") else "False")
        page.kv(lv, "Restart Count", status.get("restartCount", 0))
    res = c.get("resources") or {}
    _resources(page, lv, "Limits", res.get("limits"))
    _resources(page, lv, "Requests", res.get("requests"))
    for label, key in (
        ("Liveness", "livenessProbe"),
        ("Readiness", "readinessProbe"),
        ("Startup", "startupProbe"),
    ):
        if c.get(key):
            page.kv(lv, label, probe_text(c[key]))
    env = c.get("env") or []
    if not env and not c.get("envFrom"):
        page.kv(lv, "Environment", NONE)
    else:
        page.line(lv, "Environment:")
        for e in env:
            page.kv(lv + 1, e.get("name", ""), _env_value(e))
        for ef in c.get("envFrom") or []:
            ref = ef.get("configMapRef") or ef.get("secretRef") or {}
            what = "ConfigMap" if "configMapRef" in ef else "Secret"
            page.line(
                lv + 1,
                f"{ref.get('name')}\t{what}\tOptional: {str(bool(ref.get('optional'))).lower()}",
            )
    mounts = c.get("volumeMounts") or []
    if not mounts:
        page.kv(lv, "Mounts", NONE)
    else:
        page.line(lv, "Mounts:")
        for m in mounts:
            ro = "ro" if m.get("readOnly") else "rw"
            page.line(lv + 1, f"{m.get('mountPath')} from {m.get('name')} ({ro})")


def volumes(page: Page, level: int, vols: list[dict[str, Any]] | None) -> None:
    if not vols:
        page.kv(level, "Volumes", NONE)
        return
    page.line(level, "Volumes:")
    for v in vols:
        page.line(level + 1, f"{v.get('name')}:")
        kinds = [k for k in v if k != "name"]
        kind = kinds[0] if kinds else ""
        src = v.get(kind) or {}
        pretty = {
            "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
            "hostPath": "HostPath (bare host directory volume)",
            "configMap": "ConfigMap (a volume populated by a ConfigMap)",
            "secret": "Secret (a volume populated by a Secret)",
        }.get(kind, kind)
        page.kv(level + 2, "Type", pretty)
        for k, val in sorted(src.items()) if isinstance(src, dict) else []:
            if k in ("name", "path", "secretName", "medium", "sizeLimit", "type"):
                page.kv(level + 2, k[0].upper() + k[1:], val)


def pod_template(page: Page, level: int, template: dict[str, Any]) -> None:
    """The ``Pod Template:`` section of workloads."""
    page.line(level, "Pod Template:")
    tm = template.get("metadata") or {}
    page.map(level + 1, "Labels", tm.get("labels"))
    if tm.get("annotations"):
        annotations_section(page, level + 1, tm.get("annotations"))
    spec = template.get("spec") or {}
    if spec.get("initContainers"):
        page.line(level + 1, "Init Containers:")
        for c in spec["initContainers"]:
            container(page, level + 1, c, None, name_indent=" ")
    page.line(level + 1, "Containers:")
    for c in spec.get("containers") or []:
        container(page, level + 1, c, None, name_indent=" ")
    volumes(page, level + 1, spec.get("volumes"))
    page.map(level + 1, "Node-Selectors", spec.get("nodeSelector"))
    tolerations(page, level + 1, spec.get("tolerations"))


def tolerations(page: Page, level: int, tols: list[dict[str, Any]] | None) -> None:
    texts = []
    for t in tols or []:
        text = t.get("key", "")
        if t.get("operator") == "Exists" and not text:
            text = "op=Exists"
        elif t.get("value"):
            text += f"={t['value']}"
        elif t.get("operator") == "Exists":
            text += " op=Exists"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        texts.append(text)
    if not texts:
        page.kv(level, "Tolerations", NONE)
        return
    page.line(level, "Tolerations:", texts[0])
    for t in texts[1:]:
        page.line(level, "", t)


def selector_text(obj: dict[str, Any]) -> str:
    return format_selector((obj.get("spec") or {}).get("selector"))


def fetch_events(client: Client, obj: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Events about ``obj`` (by name and kind in its namespace, same uid when recorded)."""
    m = meta_of(obj)
    events_info = lookup("events")
    assert events_info is not None
    ns = m.get("namespace") or "default"
    try:
        items = client.list_all(
            events_info,
            ns,
            field_selector=f"involvedObject.name={m.get('name')},involvedObject.kind={kind}",
        )["items"]
    except Exception:  # events are a nicety; a describe must not fail on them
        return []
    uid = m.get("uid")
    return [
        e
        for e in items
        if (e.get("involvedObject") or {}).get("name") == m.get("name")
        and (e.get("involvedObject") or {}).get("kind") in (kind, None, "")
        and (
            not uid
            or not (e.get("involvedObject") or {}).get("uid")
            or (e.get("involvedObject") or {}).get("uid") == uid
        )
    ]


def conditions_table(
    page: Page,
    level: int,
    conds: list[dict[str, Any]],
    cols: list[str],
    padded: int = 0,
    underline: bool = True,
) -> None:
    """A ``Conditions:`` table with the given condition fields as columns. kubectl writes
    a space after the first ``padded`` cells of each row (so those columns come out one
    wider); this copies it to keep the layout identical."""
    page.line(level, "Conditions:")
    titles = [c[0].upper() + c[1:] for c in cols]
    rows = []
    for c in conds:
        row = [str(c.get(k, "")) if not k.endswith("Time") else when(c.get(k)) for k in cols]
        rows.append([cell + " " if i < padded else cell for i, cell in enumerate(row)])
    page.table(level + 1, titles, rows, underline=underline)


def raw_section(page: Page, level: int, label: str, value: Any) -> None:
    """An arbitrary value (for kinds without a page of their own), as indented text."""
    if value in (None, {}, []):
        return
    page.line(level, f"{label}:")
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list):
                raw_section(page, level + 1, k, v)
            else:
                page.kv(level + 1, k, v)
    elif isinstance(value, list):
        for item in value:
            page.line(
                level + 1,
                json.dumps(item, separators=(",", ":")) if not isinstance(item, str) else item,
            )
