"""Table cells for Ingresses, IngressClasses and NetworkPolicies (upstream printers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    age_cell,
    col,
    format_label_selector,
    obj_name,
)

# kubectl's loadBalancerWidth: a longer address list is cut with "..." (not with -o wide).
_LB_WIDTH = 16
_MAX_HOSTS = 3

INGRESS_COLUMNS = [
    NAME_COL,
    col("Class", "The name of the IngressClass resource that should be used."),
    col("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "Ports of TLS configurations that open"),
    AGE_COL,
]


def _hosts(rules: list[Obj]) -> str:
    """Upstream's formatHosts: at most three hosts, then "+ N more...", "*" for none."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == _MAX_HOSTS:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    out = ",".join(hosts)
    return f"{out} + {len(rules) - _MAX_HOSTS} more..." if more else out


def ingress_address(ing: Obj, wide: bool = False) -> str:
    """The published load balancer addresses, as kubectl's ingress stringer."""
    entries = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    out = ",".join(
        str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")
    )
    if not wide and len(out) > _LB_WIDTH:
        out = out[: _LB_WIDTH - 3] + "..."
    return out


def ingress_cells(ing: Obj, now: datetime) -> list[Any]:
    spec = ing.get("spec") or {}
    return [
        obj_name(ing),
        spec.get("ingressClassName") or "<none>",
        _hosts(spec.get("rules") or []),
        ingress_address(ing),
        "80, 443" if spec.get("tls") else "80",
        age_cell(ing, now),
    ]


INGRESS_CLASS_COLUMNS = [
    NAME_COL,
    col("Controller", "Controller that is responsible for handling this class"),
    col("Parameters", "A reference to a resource with additional parameters"),
    AGE_COL,
]


def ingress_class_cells(ic: Obj, now: datetime) -> list[Any]:
    spec = ic.get("spec") or {}
    params = spec.get("parameters")
    shown = "<none>"
    if isinstance(params, dict):
        shown = str(params.get("kind") or "")
        if params.get("apiGroup"):
            shown += f".{params['apiGroup']}"
        shown += f"/{params.get('name') or ''}"
    return [obj_name(ic), spec.get("controller") or "", shown, age_cell(ic, now)]


NETWORK_POLICY_COLUMNS = [
    NAME_COL,
    col("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."),
    AGE_COL,
]


def network_policy_cells(np: Obj, now: datetime) -> list[Any]:
    sel = (np.get("spec") or {}).get("podSelector")
    return [obj_name(np), format_label_selector(sel), age_cell(np, now)]
