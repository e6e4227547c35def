"""``kl describe``: a readable page per object, with related objects and events."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo
from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.describing.autoscaling import describe_hpa
from kubectl.describing.common import fetch_events, selector_text
from kubectl.describing.daemonsets import (
    as_label_selector,
    describe_cronjob,
    describe_daemonset,
    describe_replication_controller,
)
from kubectl.describing.discovery import describe_endpoint_slice
from kubectl.describing.nodes import describe_node
from kubectl.describing.other import (
    describe_configmap,
    describe_generic,
    describe_secret,
    describe_service,
)
from kubectl.describing.pods import describe_pod
from kubectl.describing.quota import (
    describe_limit_range,
    describe_namespace,
    describe_resource_quota,
)
from kubectl.describing.statefulset import describe_statefulset
from kubectl.describing.storage import describe_claim, describe_storage_class, describe_volume
from kubectl.describing.workloads import describe_deployment, describe_job, describe_replicaset
from kubectl.describing.writer import Page, events_section
from kubectl.errors import one_line
from kubectl.resources import parse_targets

EXAMPLES = """
  kl describe pod train-7x2k9          # containers, probes, GPUs, events
  kl describe node gpu-box-1           # each GPU and the pod holding it
  kl describe deploy/web               # ReplicaSets, conditions, events
  kl describe pods -l app=web          # every matching pod
  kl describe svc web                  # ports and endpoints
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "describe", "Show details of objects", EXAMPLES)
    p.add_argument("targets", nargs="+", metavar="TYPE [NAME...] | TYPE/NAME")
    p.add_argument("-l", "--selector", help="describe the objects matching this label selector")
    p.add_argument(
        "--show-events",
        type=lambda s: s.lower() != "false",
        default=True,
        metavar="BOOL",
        help="include events (default true)",
    )
    p.set_defaults(run=run)


def render(ctx: Ctx, info: ResourceInfo, obj: dict[str, Any]) -> str:
    """The describe page of one object."""
    c = ctx.client
    page = Page()
    ns = (obj.get("metadata") or {}).get("namespace")
    kind = info.kind
    if kind == "Pod":
        describe_pod(page, obj, info)
    elif kind == "Node":
        try:
            lease = c.get("leases", obj["metadata"]["name"], "kube-node-lease")
        except ApiError:
            lease = None
        describe_node(page, obj, info, c.list_all("pods", None)["items"], lease)
    elif kind == "Deployment":
        rs = c.list_all("replicasets", ns, label_selector=_selector(obj))["items"]
        describe_deployment(page, obj, info, rs)
    elif kind == "ReplicaSet":
        pods = c.list_all("pods", ns, label_selector=_selector(obj))["items"]
        describe_replicaset(page, obj, info, pods)
    elif kind == "StatefulSet":
        uid = obj["metadata"].get("uid")
        pods = [
            p
            for p in c.list_all("pods", ns, label_selector=_selector(obj))["items"]
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]
        describe_statefulset(page, obj, info, pods)
    elif kind == "Job":
        describe_job(page, obj, info)
    elif kind == "DaemonSet":
        pods = c.list_all("pods", ns, label_selector=_selector(obj))["items"]
        describe_daemonset(page, obj, info, pods)
    elif kind == "CronJob":
        describe_cronjob(page, obj, info)
    elif kind == "ReplicationController":
        sel = _selector(as_label_selector(obj))
        pods = c.list_all("pods", ns, label_selector=sel)["items"] if sel else []
        describe_replication_controller(page, obj, info, pods)
    elif kind == "Service":
        try:
            ep = c.get("endpoints", obj["metadata"]["name"], ns)
        except ApiError:
            ep = None
        describe_service(page, obj, info, ep)
    elif kind == "EndpointSlice":
        describe_endpoint_slice(page, obj, info)
    elif kind == "PersistentVolumeClaim":
        describe_claim(page, obj, info, c.list_all("pods", ns)["items"])
    elif kind == "PersistentVolume":
        describe_volume(page, obj, info)
    elif kind == "StorageClass":
        describe_storage_class(page, obj, info)
    elif kind == "ConfigMap":
        describe_configmap(page, obj, info)
    elif kind == "Secret":
        describe_secret(page, obj, info)
    elif kind == "ResourceQuota":
        describe_resource_quota(page, obj, info)
    elif kind == "LimitRange":
        describe_limit_range(page, obj, info)
    elif kind == "HorizontalPodAutoscaler":
        describe_hpa(page, obj, info)
    elif kind == "Namespace":
        name = obj["metadata"]["name"]
        quotas = c.list_all("resourcequotas", name)["items"]
        describe_namespace(page, obj, info, quotas, c.list_all("limitranges", name)["items"])
    else:
        describe_generic(page, obj, info)
    # kubectl's namespace, quota and limit range pages list no events.
    if ctx.args.show_events and kind not in ("Event", "Namespace", "ResourceQuota", "LimitRange"):
        events_section(page, fetch_events(c, obj, kind))
    return page.text()


def _selector(obj: dict[str, Any]) -> str | None:
    text = selector_text(obj)
    return None if text == "<none>" else text


def run(ctx: Ctx) -> int:
    a = ctx.args
    targets = parse_targets(a.targets)
    errors: list[str] = []
    pages: list[str] = []
    for t in targets:
        ns = ctx.namespace if t.info.namespaced else None
        if t.names:
            for name in t.names:
                try:
                    pages.append(render(ctx, t.info, ctx.client.get(t.info, name, ns)))
                except ApiError as e:
                    if e.code != 404 or len(t.names) == 1 and len(targets) == 1:
                        raise
                    errors.append(e.message)
        else:
            objs = ctx.client.list_all(
                t.info,
                ctx.list_namespace() if t.info.namespaced else None,
                label_selector=a.selector,
            )["items"]
            for obj in objs:
                pages.append(render(ctx, t.info, obj))
    if not pages and not errors:
        where = "" if ctx.all_namespaces else f" in {ctx.namespace} namespace"
        ctx.err(f"No resources found{where}.")
    ctx.stdout.write("\n\n".join(pages))
    ctx.stdout.flush()
    for message in errors:
        ctx.err(f"error: {one_line(message)}")
    return 1 if errors else 0
