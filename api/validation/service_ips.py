"""A Service's address fields on their own (Kubernetes'
ValidateServiceClusterIPsRelatedFields): clusterIP and clusterIPs agree, the families and
the policy are known values, and an ExternalName Service has none of them. Whether the
cluster has an address or a family is the apiserver's question (apiserver/service_ips*)."""

from __future__ import annotations

import ipaddress
from typing import Any

from api.validation.common import Errs, duplicate, forbidden, invalid, unsupported

IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_EXTERNAL_NAME_FIELDS = ("clusterIPs", "ipFamilies", "ipFamilyPolicy")


def family_of(ip: str) -> str | None:
    """``IPv4`` or ``IPv6`` for an address, None for anything else."""
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def validate_service_ips(errs: Errs, spec: dict[str, Any], stype: str) -> None:
    """Append a Cause for every inconsistent address field of a Service ``spec``."""
    cip = spec.get("clusterIP") or ""
    ips = spec.get("clusterIPs")
    if stype == "ExternalName":
        for key in _EXTERNAL_NAME_FIELDS:
            if spec.get(key) not in (None, [], ""):
                forbidden(
                    errs,
                    f"spec.{key}",
                    "may not be set for ExternalName services; remove it (an ExternalName "
                    "Service is a DNS alias and has no cluster IP)",
                )
        return
    if ips is not None and not isinstance(ips, list):
        invalid(errs, "spec.clusterIPs", ips, "must be a list of IP addresses")
        return
    ips = list(ips or [])
    # clusterIPs left out is clusterIP's (the apiserver fills it in, as Kubernetes'
    # PrepareForCreate): only a list that disagrees is an error.
    if cip and ips and ips[0] != cip:
        invalid(errs, "spec.clusterIPs", ips, "first value must match `clusterIP`")
    elif not cip and ips:
        invalid(
            errs,
            "spec.clusterIPs",
            ips,
            "must be empty when `clusterIP` is not specified; set clusterIP to its first "
            "value, or leave both out to have one allocated",
        )
    _check_families(errs, spec)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        unsupported(errs, "spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES)
    if len(ips) > 2:
        invalid(errs, "spec.clusterIPs", ips, "may only hold up to 2 values")
        return
    bad = False
    for i, ip in enumerate(ips):
        if ip == "None" and i == 0:
            if len(ips) > 1:
                bad = True
                invalid(errs, "spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        if not isinstance(ip, str) or family_of(ip) is None:
            bad = True
            invalid(
                errs,
                f"spec.clusterIPs[{i}]",
                ip,
                "must be a valid IP address (e.g. 10.43.0.20), or leave it out to have one "
                "allocated",
            )
    if bad:
        return
    if ips and ips[0] == "None" and stype in ("NodePort", "LoadBalancer"):
        invalid(
            errs,
            "spec.clusterIPs[0]",
            "None",
            f"may not be set to 'None' for {stype} services; use type: ClusterIP for a "
            "headless Service",
        )
    if len(ips) == 2 and family_of(ips[0]) == family_of(ips[1]):
        invalid(errs, "spec.clusterIPs", ips, "may specify no more than one IP for each IP family")
    families = spec.get("ipFamilies")
    if isinstance(families, list) and ips and ips[0] != "None":
        for i, ip in enumerate(ips[: len(families)]):
            if families[i] in IP_FAMILIES and family_of(ip) != families[i]:
                invalid(
                    errs,
                    f"spec.clusterIPs[{i}]",
                    ip,
                    f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`",
                )


def _check_families(errs: Errs, spec: dict[str, Any]) -> None:
    families = spec.get("ipFamilies")
    if families is None:
        return
    if not isinstance(families, list):
        invalid(errs, "spec.ipFamilies", families, 'must be a list such as ["IPv4"]')
        return
    seen: set[Any] = set()
    for i, fam in enumerate(families):
        if fam not in IP_FAMILIES:
            unsupported(errs, f"spec.ipFamilies[{i}]", fam, IP_FAMILIES)
        elif fam in seen:
            duplicate(errs, f"spec.ipFamilies[{i}]", fam, "list each family once")
        seen.add(fam if isinstance(fam, str) else repr(fam))


def validate_service_ips_update(errs: Errs, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A Service keeps its ClusterIP and its primary family for life (Kubernetes'
    ValidateServiceUpdate and validateUpgradeDowngradeClusterIPs), unless it is, or
    becomes, an ExternalName. Leaving them out keeps them (the apiserver fills them in)."""
    if "ExternalName" in (new.get("type"), old.get("type")):
        return
    old_ip, new_ip = old.get("clusterIP"), new.get("clusterIP")
    fix = f"leave it out or keep {old_ip!r}; delete and recreate the Service for another"
    if old_ip and new_ip and new_ip != old_ip:
        invalid(errs, "spec.clusterIP", new_ip, f"field is immutable; {fix}")
    old_ips, new_ips = old.get("clusterIPs") or [], new.get("clusterIPs") or []
    if (
        isinstance(old_ips, list)
        and isinstance(new_ips, list)
        and old_ips
        and new_ips
        and old_ips[0] != new_ips[0]
        and "None" not in (old_ips[0], new_ips[0])
    ):
        invalid(errs, "spec.clusterIPs[0]", new_ips, f"may not change once set; {fix}")
    old_fams, new_fams = old.get("ipFamilies") or [], new.get("ipFamilies") or []
    if (
        isinstance(old_fams, list)
        and isinstance(new_fams, list)
        and old_fams
        and new_fams
        and old_fams[0] != new_fams[0]
        and old_ip != "None"
        and new_ip != "None"
    ):
        invalid(
            errs,
            "spec.ipFamilies[0]",
            new_fams,
            "may not change once set; delete and recreate the Service for another family",
        )
