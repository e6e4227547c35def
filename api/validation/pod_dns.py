"""Validation of a pod's ``dnsConfig`` and of ``dnsPolicy: None``, as Kubernetes'
validatePodDNSConfig: at most 3 nameservers (IP addresses), 32 search domains (DNS
subdomains, 2048 characters in all), options with names; ``None`` needs a nameserver."""

from __future__ import annotations

import ipaddress
from typing import Any

from api.validation.common import Errs, check_name, invalid, required

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048


def check_pod_dns(errs: Errs, field: str, spec: dict[str, Any]) -> None:
    """Check ``spec.dnsConfig`` (and its presence under ``dnsPolicy: None``)."""
    cfg = spec.get("dnsConfig")
    none = spec.get("dnsPolicy") == "None"
    if cfg is None:
        if none:
            required(
                errs,
                f"{field}.dnsConfig",
                "must provide `dnsConfig` when `dnsPolicy` is None (at least one nameserver)",
            )
        return
    where = f"{field}.dnsConfig"
    if not isinstance(cfg, dict):
        invalid(errs, where, cfg, "must be an object with nameservers, searches and options")
        return
    servers = cfg.get("nameservers") or []
    if not isinstance(servers, list):
        invalid(errs, f"{where}.nameservers", servers, "must be a list of IP addresses")
        servers = []
    if none and not servers:
        required(
            errs,
            f"{where}.nameservers",
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        )
    if len(servers) > MAX_NAMESERVERS:
        invalid(
            errs,
            f"{where}.nameservers",
            servers,
            f"must not have more than {MAX_NAMESERVERS} nameservers",
        )
    for i, ns in enumerate(servers):
        try:
            ipaddress.ip_address(str(ns))
        except ValueError:
            invalid(errs, f"{where}.nameservers[{i}]", ns, "must be a valid IP address")
    searches = cfg.get("searches") or []
    if not isinstance(searches, list):
        invalid(errs, f"{where}.searches", searches, "must be a list of DNS domains")
        searches = []
    if len(searches) > MAX_SEARCHES:
        invalid(
            errs,
            f"{where}.searches",
            searches,
            f"must not have more than {MAX_SEARCHES} search paths",
        )
    if len(" ".join(str(s) for s in searches)) > MAX_SEARCH_CHARS:
        invalid(
            errs,
            f"{where}.searches",
            searches,
            f"must not have more than {MAX_SEARCH_CHARS} characters (including spaces) in the search list",
        )
    for i, s in enumerate(searches):
        if s == ".":
            continue  # the root: allowed, as on Kubernetes
        check_name(
            errs, f"{where}.searches[{i}]", s.rstrip(".") if isinstance(s, str) else s, "subdomain"
        )
    options = cfg.get("options") or []
    if not isinstance(options, list):
        invalid(errs, f"{where}.options", options, "must be a list of {name, value} objects")
        return
    for i, opt in enumerate(options):
        if not isinstance(opt, dict) or not opt.get("name"):
            required(errs, f"{where}.options[{i}].name", "each option needs a name (e.g. ndots)")
