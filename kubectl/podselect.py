"""Finding the pod behind ``TYPE/NAME`` (for logs and exec) and its default container."""

from __future__ import annotations

from typing import Any

from api.registry import lookup
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.printers.columns import format_selector
from kubectl.resources import resolve_kind

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def _selector_of(obj: dict[str, Any]) -> str:
    sel = (obj.get("spec") or {}).get("selector") or {}
    text = format_selector(sel)
    if text == "<none>":
        raise CliError(f"{obj.get('kind', 'object')} {obj['metadata']['name']} has no selector")
    return text


def resolve_pod(ctx: Ctx, word: str) -> dict[str, Any]:
    """``web-0`` or ``pod/web-0`` → that pod; ``deploy/web``, ``rs/x``, ``job/y`` → one
    of their pods (a running one first), noting the choice on stderr like kubectl."""
    kind, sep, name = word.partition("/")
    if not sep:
        kind, name = "pods", word
    info = resolve_kind(kind)
    ns = ctx.namespace
    pods_info = lookup("pods")
    if info == pods_info:
        return ctx.client.get(info, name, ns)
    if info.kind not in ("Deployment", "ReplicaSet", "StatefulSet", "Job", "Service"):
        raise CliError(f"cannot find a pod for {info.plural}; name a pod or a workload")
    owner = ctx.client.get(info, name, ns)
    if info.kind == "Service":
        sel = ",".join(
            f"{k}={v}" for k, v in sorted(((owner.get("spec") or {}).get("selector") or {}).items())
        )
    else:
        sel = _selector_of(owner)
    pods = ctx.client.list_all("pods", ns, label_selector=sel)["items"]
    if not pods:
        raise CliError(f"no pods found for {info.singular}/{name}")
    pods.sort(
        key=lambda p: (
            (p.get("status") or {}).get("phase") != "Running",
            (p.get("metadata") or {}).get("creationTimestamp") or "",
        )
    )
    chosen = pods[0]
    if len(pods) > 1:
        ctx.err(f"Found {len(pods)} pods, using pod/{chosen['metadata']['name']}")
    return chosen


def pick_container(ctx: Ctx, pod: dict[str, Any], wanted: str | None) -> str:
    """``-c`` if given (checked), else the only container, else the default-container
    annotation or the first one (announced on stderr, as kubectl does)."""
    spec = pod.get("spec") or {}
    names = [c.get("name", "") for c in spec.get("containers") or []]
    init_names = [c.get("name", "") for c in spec.get("initContainers") or []]
    pod_name = pod["metadata"]["name"]
    if wanted:
        if wanted not in names and wanted not in init_names:
            raise CliError(
                f"container {wanted} is not valid for pod {pod_name} "
                f"(its containers: {', '.join(names + init_names)})"
            )
        return wanted
    if not names:
        raise CliError(f"pod {pod_name} has no containers")
    if len(names) == 1:
        return names[0]
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    chosen = default if default in names else names[0]
    ctx.err(f'Defaulted container "{chosen}" out of: {", ".join(names)}')
    return str(chosen)
