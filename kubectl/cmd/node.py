"""``kl cordon``, ``kl uncordon`` and ``kl drain``: take a node out of (and back into) service."""

from __future__ import annotations

import argparse
import time
from typing import Any

from api.errors import ApiError
from api.mirror import is_mirror_pod
from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.resources import registry_info

NODES = registry_info("nodes")
PODS = registry_info("pods")

CORDON_EXAMPLES = """
  kl cordon gpu-box-2              # no new pods land there; running ones stay
  kl cordon -l nvidia.com/gpu.product=NVIDIA-H100
"""
UNCORDON_EXAMPLES = """
  kl uncordon gpu-box-2
"""
DRAIN_EXAMPLES = """
  kl drain gpu-box-2                          # cordon, evict every pod, wait until gone
  kl drain gpu-box-2 --force                  # also pods that no controller recreates
  kl drain gpu-box-2 --timeout=120 --grace-period=10
"""

EVICTION_RETRY_SECONDS = 5.0
POLL_SECONDS = 0.25


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "cordon", "Mark nodes unschedulable", CORDON_EXAMPLES)
    p.add_argument("nodes", nargs="*", metavar="NODE")
    p.add_argument("-l", "--selector", help="cordon the nodes matching this label selector")
    p.set_defaults(run=lambda ctx: _set_unschedulable(ctx, True))

    p = add_verb(sub, parent, "uncordon", "Mark nodes schedulable again", UNCORDON_EXAMPLES)
    p.add_argument("nodes", nargs="*", metavar="NODE")
    p.add_argument("-l", "--selector", help="uncordon the nodes matching this label selector")
    p.set_defaults(run=lambda ctx: _set_unschedulable(ctx, False))

    p = add_verb(sub, parent, "drain", "Cordon a node and evict its pods", DRAIN_EXAMPLES)
    p.add_argument("nodes", nargs="+", metavar="NODE")
    p.add_argument(
        "--force", action="store_true", help="also evict pods that no controller will recreate"
    )
    p.add_argument(
        "--ignore-daemonsets",
        action="store_true",
        help="accepted for kubectl compatibility (kubelab has no DaemonSets)",
    )
    p.add_argument(
        "--delete-emptydir-data",
        action="store_true",
        help="evict pods using emptyDir volumes (their data is lost)",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        help="seconds each pod gets to stop (-1: the pod's own setting)",
    )
    p.add_argument(
        "--timeout", type=float, default=0, help="give up after this many seconds (0: no limit)"
    )
    p.add_argument(
        "--disable-eviction",
        action="store_true",
        help="delete pods directly instead of through the eviction API",
    )
    p.add_argument("--pod-selector", help="evict only pods matching this label selector")
    p.set_defaults(run=drain)


def _node_names(ctx: Ctx) -> list[str]:
    a = ctx.args
    names = list(a.nodes)
    if getattr(a, "selector", None):
        names += [
            n["metadata"]["name"]
            for n in ctx.client.list_all(NODES, label_selector=a.selector)["items"]
        ]
    if not names:
        raise CliError("name at least one node (or use -l SELECTOR)")
    return names


def cordon(ctx: Ctx, name: str, on: bool) -> None:
    """Cordon (``on``) or uncordon one node, printing what happened like kubectl."""
    node = ctx.client.get(NODES, name)
    already = bool((node.get("spec") or {}).get("unschedulable"))
    word = "cordoned" if on else "uncordoned"
    if already == on:
        ctx.out(f"node/{name} already {word}")
        return
    ctx.client.patch(
        NODES, name, {"spec": {"unschedulable": True if on else None}}, patch_type="strategic"
    )
    ctx.out(f"node/{name} {word}")


def _set_unschedulable(ctx: Ctx, on: bool) -> int:
    for name in _node_names(ctx):
        cordon(ctx, name, on)
    return 0


def _controller(pod: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _pods_to_evict(ctx: Ctx, node: str) -> list[dict[str, Any]]:
    a = ctx.args
    pods = ctx.client.list_all(
        PODS, None, field_selector=f"spec.nodeName={node}", label_selector=a.pod_selector
    )["items"]
    # As kubectl's drain: a mirror pod stands for a process its owner runs on the node;
    # evicting it would stop nothing (its owner makes it again).
    pods = [p for p in pods if not is_mirror_pod(p)]
    unmanaged, local = [], []
    for p in pods:
        key = f"{p['metadata'].get('namespace')}/{p['metadata']['name']}"
        phase = (p.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            continue  # finished pods go without a fuss
        if _controller(p) is None and not a.force:
            unmanaged.append(key)
        if any("emptyDir" in v for v in (p.get("spec") or {}).get("volumes") or []) and not (
            a.delete_emptydir_data
        ):
            local.append(key)
    problems = []
    if unmanaged:
        problems.append(
            "cannot delete pods that declare no controller (use --force to override): "
            + ", ".join(unmanaged)
        )
    if local:
        problems.append(
            "cannot delete pods with local storage (use --delete-emptydir-data to override): "
            + ", ".join(local)
        )
    if problems:
        raise CliError(f'unable to drain node "{node}": ' + "; ".join(problems))
    return pods


def _evict(ctx: Ctx, pod: dict[str, Any], deadline: float | None) -> bool:
    """Evict (or delete) one pod, retrying while a disruption budget says no; False if
    it was already gone."""
    a = ctx.args
    meta = pod["metadata"]
    name, ns = meta["name"], meta.get("namespace")
    grace = None if a.grace_period < 0 else a.grace_period
    while True:
        try:
            if a.disable_eviction:
                ctx.client.delete(PODS, name, ns, grace_period_seconds=grace)
            else:
                body: dict[str, Any] = {
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": name, "namespace": ns},
                }
                if grace is not None:
                    body["deleteOptions"] = {"gracePeriodSeconds": grace}
                ctx.client.create(PODS, body, ns, subresource="eviction", name=name)
            return True
        except ApiError as e:
            if e.code == 404:
                return False
            if e.code != 429:
                raise
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(f"drain timed out evicting pod {ns}/{name}: {e.message}") from e
            ctx.err(
                f'error when evicting pods/"{name}" -n "{ns}" (will retry after '
                f"{EVICTION_RETRY_SECONDS:g}s): {e.message}"
            )
            time.sleep(EVICTION_RETRY_SECONDS)


def _gone(ctx: Ctx, pod: dict[str, Any]) -> bool:
    meta = pod["metadata"]
    try:
        now = ctx.client.get(PODS, meta["name"], meta.get("namespace"))
    except ApiError as e:
        if e.code == 404:
            return True
        raise
    # Same name, new uid: a controller already replaced it (a StatefulSet-like case).
    return bool(now.get("metadata", {}).get("uid") != meta.get("uid"))


def drain(ctx: Ctx) -> int:
    a = ctx.args
    deadline = time.monotonic() + a.timeout if a.timeout else None
    for node in _node_names(ctx):
        cordon(ctx, node, True)
        pods = _pods_to_evict(ctx, node)
        waiting = []
        for p in pods:
            meta = p["metadata"]
            ctx.out(f"evicting pod {meta.get('namespace')}/{meta['name']}")
            if _evict(ctx, p, deadline):
                waiting.append(p)
        while waiting:
            still = []
            for p in waiting:
                if _gone(ctx, p):
                    ctx.out(f"pod/{p['metadata']['name']} evicted")
                else:
                    still.append(p)
            waiting = still
            if waiting:
                if deadline is not None and time.monotonic() >= deadline:
                    left = ", ".join(
                        f"{p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in waiting
                    )
                    raise CliError(
                        f"drain did not complete within {a.timeout:g}s; still on node "
                        f'"{node}": {left}'
                    )
                time.sleep(POLL_SECONDS)
        ctx.out(f"node/{node} drained")
    return 0
