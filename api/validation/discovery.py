"""Validation of discovery.k8s.io/v1 EndpointSlice (Kubernetes' ValidateEndpointSlice)."""

from __future__ import annotations

import ipaddress
from typing import Any

from api.validation.common import (
    DNS1123_SUBDOMAIN_RE,
    Errs,
    check_name,
    check_port,
    duplicate,
    hashable,
    invalid,
    required,
    too_long,
    unsupported,
)

ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 100


def _address_error(address_type: str, address: Any) -> str | None:
    if not isinstance(address, str):
        return "must be a string"
    if address_type == "FQDN":
        ok = len(address) <= 253 and DNS1123_SUBDOMAIN_RE.match(address)
        return None if ok else "must be a lowercase RFC 1123 subdomain (e.g. db.example.com)"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"must be a valid {address_type} address"
    if (ip.version == 6) != (address_type == "IPv6"):
        return f"must be an {address_type} address, as addressType says"
    return None


def validate_endpoint_slice(errs: Errs, obj: dict[str, Any]) -> None:
    """addressType, each endpoint's addresses of that type, ports (unique names)."""
    address_type = obj.get("addressType")
    if not address_type:
        required(errs, "addressType", "set the address type: IPv4, IPv6 or FQDN")
    elif address_type not in ADDRESS_TYPES:
        unsupported(errs, "addressType", address_type, ADDRESS_TYPES)
        address_type = None
    endpoints = obj.get("endpoints")
    if endpoints is not None and not isinstance(endpoints, list):
        invalid(errs, "endpoints", endpoints, "must be a list of endpoints")
        endpoints = []
    if isinstance(endpoints, list) and len(endpoints) > MAX_ENDPOINTS:
        too_long(errs, "endpoints", MAX_ENDPOINTS, "items")
    for i, ep in enumerate(endpoints or []):
        path = f"endpoints[{i}]"
        if not isinstance(ep, dict):
            invalid(errs, path, ep, "must be an object with addresses")
            continue
        addresses = ep.get("addresses")
        if not isinstance(addresses, list) or not addresses:
            required(errs, f"{path}.addresses", 'list at least one address (e.g. ["10.42.0.5"])')
            continue
        if len(addresses) > MAX_ADDRESSES:
            too_long(errs, f"{path}.addresses", MAX_ADDRESSES, "items")
        for j, address in enumerate(addresses):
            why = _address_error(address_type, address) if address_type else None
            if why:
                invalid(errs, f"{path}.addresses[{j}]", address, why)
        if ep.get("hostname") is not None:
            check_name(errs, f"{path}.hostname", ep["hostname"], "label")
        if ep.get("nodeName") is not None:
            check_name(errs, f"{path}.nodeName", ep["nodeName"], "subdomain")
    ports = obj.get("ports")
    if ports is not None and not isinstance(ports, list):
        invalid(errs, "ports", ports, "must be a list of ports")
        return
    if isinstance(ports, list) and len(ports) > MAX_PORTS:
        too_long(errs, "ports", MAX_PORTS, "items")
    names: set[Any] = set()
    for i, p in enumerate(ports or []):
        path = f"ports[{i}]"
        if not isinstance(p, dict):
            invalid(errs, path, p, "must be an object such as {name: http, port: 8080}")
            continue
        name = p.get("name") or ""
        if name:
            check_name(errs, f"{path}.name", name, "label")
        if hashable(name) in names:
            duplicate(errs, f"{path}.name", name, "port names must be unique within a slice")
        names.add(hashable(name))
        if p.get("port") is not None:
            check_port(errs, f"{path}.port", p["port"])
        proto = p.get("protocol")
        if proto is not None and proto not in _PROTOCOLS:
            unsupported(errs, f"{path}.protocol", proto, _PROTOCOLS)
