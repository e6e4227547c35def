"""What a Service write does to its address fields, on a single-stack IPv4 cluster.

``keep_on_update`` is Kubernetes' patchAllocatedValues + normalizeClusterIPs +
dropTypeDependentFields (an update that leaves the addresses out keeps them; one that turns
the Service into an ExternalName drops them); ``init_ip_families`` is its
initIPFamilyFields (ipFamilyPolicy and ipFamilies defaulted, families the cluster lacks
refused); ``wanted_cluster_ip`` says which address a Service asks for. Pure.
"""

from __future__ import annotations

from typing import Any

from api.errors import Cause
from api.validation.common import Errs, invalid
from api.validation.service_ips import family_of

Obj = dict[str, Any]
CLUSTER_FAMILY = "IPv4"
OTHER_FAMILY = "IPv6"
_ADDRESS_FIELDS = ("clusterIP", "clusterIPs")


def needs_cluster_ip(spec: Obj) -> bool:
    """Every type but ExternalName has a clusterIP (headless "None" counts as one)."""
    return (spec.get("type") or "ClusterIP") != "ExternalName"


def is_headless(spec: Obj) -> bool:
    return spec.get("clusterIP") == "None"


def allocated_ips(svc: Obj | None) -> list[str]:
    """The addresses of the range a stored Service holds."""
    spec = (svc or {}).get("spec") or {}
    if not isinstance(spec, dict) or not needs_cluster_ip(spec):
        return []
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if isinstance(ip, str) and ip and ip != "None"]


def keep_on_update(old_spec: Obj, new_spec: Obj) -> None:
    """Fill in or drop ``new_spec``'s address fields from ``old_spec`` the way Kubernetes
    prepares a Service update (in place)."""
    if needs_cluster_ip(old_spec) and needs_cluster_ip(new_spec):
        if not new_spec.get("clusterIP") and old_spec.get("clusterIP"):
            new_spec["clusterIP"] = old_spec["clusterIP"]
            if not new_spec.get("clusterIPs") and old_spec.get("clusterIPs"):
                new_spec["clusterIPs"] = list(old_spec["clusterIPs"])
        elif (
            new_spec.get("clusterIP")
            and new_spec.get("clusterIP") != old_spec.get("clusterIP")
            and new_spec.get("clusterIPs") == old_spec.get("clusterIPs")
            and new_spec.get("clusterIPs")
        ):
            # The singular changed, the plural was sent back as it was: it follows (and
            # validation then says the address may not change).
            new_spec["clusterIPs"] = [new_spec["clusterIP"], *new_spec["clusterIPs"][1:]]
    elif needs_cluster_ip(old_spec) and not needs_cluster_ip(new_spec):
        for key in (*_ADDRESS_FIELDS, "ipFamilies", "ipFamilyPolicy"):
            if key in new_spec and new_spec.get(key) == old_spec.get(key):
                del new_spec[key]


def init_ip_families(spec: Obj, old_spec: Obj | None) -> list[Cause]:
    """Default ``ipFamilyPolicy`` and ``ipFamilies`` (in place); the Causes of what this
    single-stack IPv4 cluster cannot give."""
    if not needs_cluster_ip(spec):
        return []
    selectorless_headless = is_headless(spec) and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        if old_spec and old_spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
        elif selectorless_headless:
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    policy = spec["ipFamilyPolicy"]
    families = list(spec.get("ipFamilies") or [])
    ips = list(spec.get("clusterIPs") or [])
    errs: Errs = []
    if policy == "SingleStack":
        if len(ips) == 2:
            invalid(
                errs,
                "spec.ipFamilyPolicy",
                policy,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs "
                "are specified",
            )
        if len(families) == 2:
            invalid(
                errs,
                "spec.ipFamilyPolicy",
                policy,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families "
                "are specified",
            )
    for i, ip in enumerate(ips):
        if ip == "None":
            break
        fam = family_of(ip)
        if i >= len(families):
            if fam != CLUSTER_FAMILY:
                invalid(
                    errs,
                    f"spec.clusterIPs[{i}]",
                    ips,
                    f"{fam} is not configured on this cluster (its service CIDR is "
                    f"{CLUSTER_FAMILY} only)",
                )
            else:
                families.append(fam)
    if errs:
        return errs
    if selectorless_headless:
        # Kubernetes' one exception: a headless Service without a selector may name both
        # families even on a single-stack cluster (its endpoints are written by hand).
        families = families or [CLUSTER_FAMILY]
        if len(families) < 2 and policy != "SingleStack":
            families.append(OTHER_FAMILY if families[0] == CLUSTER_FAMILY else CLUSTER_FAMILY)
        spec["ipFamilies"] = families
        return []
    if policy == "RequireDualStack":
        invalid(
            errs,
            "spec.ipFamilyPolicy",
            policy,
            "this cluster is not configured for dual-stack services; use SingleStack or "
            "PreferDualStack",
        )
    for i, fam in enumerate(families):
        if fam != CLUSTER_FAMILY:
            invalid(errs, f"spec.ipFamilies[{i}]", fam, "not configured on this cluster")
    if errs:
        return errs
    spec["ipFamilies"] = families or [CLUSTER_FAMILY]
    return []


def wanted_cluster_ip(spec: Obj) -> str | None:
    """The address a Service asks for ("" for any free one), None when it gets none
    (ExternalName, headless)."""
    if not needs_cluster_ip(spec) or is_headless(spec):
        return None
    ips = spec.get("clusterIPs") or []
    return str(spec.get("clusterIP") or (ips[0] if ips else "") or "")


def set_cluster_ip(spec: Obj, ip: str) -> None:
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]
