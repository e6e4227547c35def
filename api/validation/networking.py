"""Validation of the networking.k8s.io/v1 kinds (Ingress, IngressClass, NetworkPolicy),
with kube-apiserver's rules (pkg/apis/networking/validation) and wording."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from api.ingress import PATH_TYPES
from api.selectors import LabelSelector
from api.validation.common import (
    Errs,
    check_name,
    check_port,
    forbidden,
    invalid,
    required,
    too_long,
    unsupported,
)

Obj = dict[str, Any]

# Sequences upstream refuses in an Exact or Prefix path (they would be normalised away
# by one proxy and not by another).
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_CONTROLLER_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[-a-zA-Z0-9_./]+$"
)
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_POLICY_TYPES = ("Ingress", "Egress")
_SCOPES = ("Cluster", "Namespace")


def _check_host(errs: Errs, field: str, host: Any) -> None:
    """A DNS subdomain, optionally with one leading ``*.`` label; never an IP address."""
    if not isinstance(host, str):
        invalid(errs, field, host, "must be a string")
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        invalid(errs, field, host, "must be a DNS name, not an IP address")
        return
    check_name(errs, field, host[2:] if host.startswith("*.") else host, "subdomain")


def _check_selector(errs: Errs, field: str, sel: Any) -> None:
    if sel is None:
        return
    if not isinstance(sel, dict):
        invalid(errs, field, sel, "must be a label selector (matchLabels: {app: web})")
        return
    try:
        LabelSelector.from_dict(sel)
    except ValueError as exc:
        invalid(errs, field, sel, str(exc))


def _check_backend(errs: Errs, field: str, backend: Any) -> None:
    if not isinstance(backend, dict):
        required(errs, field, "set backend.service (name and port) or backend.resource")
        return
    svc, res = backend.get("service"), backend.get("resource")
    if svc is not None and res is not None:
        invalid(errs, field, backend, "cannot set both service and resource backends")
        return
    if svc is None and res is None:
        invalid(errs, field, backend, "one backend type must be specified: service or resource")
        return
    if svc is not None:
        if not isinstance(svc, dict):
            invalid(errs, f"{field}.service", svc, "must be an object with name and port")
            return
        if not svc.get("name"):
            required(errs, f"{field}.service.name", "name the backend Service")
        else:
            check_name(errs, f"{field}.service.name", svc["name"], "dns1035")
        port = svc.get("port")
        if not isinstance(port, dict) or (port.get("name") is None and port.get("number") is None):
            required(
                errs,
                f"{field}.service.port",
                "set port.number (e.g. 80) or port.name (e.g. http) of the Service",
            )
        elif port.get("name") is not None and port.get("number") is not None:
            invalid(errs, f"{field}.service.port", port, "cannot set both port name & port number")
        elif port.get("number") is not None:
            check_port(errs, f"{field}.service.port.number", port["number"])
        else:
            check_port(errs, f"{field}.service.port.name", port["name"], allow_name=True)
        return
    if not isinstance(res, dict):
        invalid(errs, f"{field}.resource", res, "must be an object with kind and name")
        return
    for key in ("kind", "name"):
        if not res.get(key):
            required(errs, f"{field}.resource.{key}", f"set the resource's {key}")


def _check_path(errs: Errs, field: str, p: Any) -> None:
    if not isinstance(p, dict):
        invalid(errs, field, p, "must be an object with path, pathType and backend")
        return
    path_type, path = p.get("pathType"), p.get("path")
    if path_type is None:
        required(
            errs,
            f"{field}.pathType",
            "pathType must be specified: Exact, Prefix or ImplementationSpecific",
        )
    elif path_type not in PATH_TYPES:
        unsupported(errs, f"{field}.pathType", path_type, PATH_TYPES)
    if path is not None and not isinstance(path, str):
        invalid(errs, f"{field}.path", path, "must be a string")
    elif path_type in ("Exact", "Prefix"):
        if not path or not path.startswith("/"):
            invalid(errs, f"{field}.path", path, "must be an absolute path (e.g. /api)")
        elif any(s in path for s in _INVALID_PATH_SEQUENCES) or path.endswith(
            _INVALID_PATH_SUFFIXES
        ):
            invalid(
                errs,
                f"{field}.path",
                path,
                "must not contain '//', '/./', '/../' or '%2f', nor end with '/..' or '/.'",
            )
    elif path and not path.startswith("/"):
        invalid(errs, f"{field}.path", path, "must be an absolute path (e.g. /api)")
    _check_backend(errs, f"{field}.backend", p.get("backend"))


def validate_ingress(errs: Errs, obj: Obj) -> None:
    """Rules or a default backend; each path with a pathType and one backend; hosts
    and TLS hosts DNS names (wildcards allowed), secretName a Secret name."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "an Ingress needs spec.rules or spec.defaultBackend")
        return
    rules, default = spec.get("rules"), spec.get("defaultBackend")
    if not rules and default is None:
        invalid(errs, "spec", spec, "either `defaultBackend` or `rules` must be specified")
    if default is not None:
        _check_backend(errs, "spec.defaultBackend", default)
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        check_name(errs, "spec.ingressClassName", class_name, "subdomain")
    if rules is not None and not isinstance(rules, list):
        invalid(errs, "spec.rules", rules, "must be a list of rules")
        rules = []
    for i, rule in enumerate(rules or []):
        field = f"spec.rules[{i}]"
        if not isinstance(rule, dict):
            invalid(errs, field, rule, "must be an object with host and http")
            continue
        if rule.get("host"):
            _check_host(errs, f"{field}.host", rule["host"])
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") if isinstance(http, dict) else None
        if not isinstance(paths, list) or not paths:
            required(errs, f"{field}.http.paths", "list at least one path with its backend")
            continue
        for j, p in enumerate(paths):
            _check_path(errs, f"{field}.http.paths[{j}]", p)
    tls = spec.get("tls")
    if tls is not None and not isinstance(tls, list):
        invalid(errs, "spec.tls", tls, "must be a list of {hosts, secretName}")
        tls = []
    for i, entry in enumerate(tls or []):
        field = f"spec.tls[{i}]"
        if not isinstance(entry, dict):
            invalid(errs, field, entry, "must be an object with hosts and secretName")
            continue
        for j, host in enumerate(entry.get("hosts") or []):
            _check_host(errs, f"{field}.hosts[{j}]", host)
        if entry.get("secretName"):
            check_name(errs, f"{field}.secretName", entry["secretName"], "subdomain")


def validate_ingress_class(errs: Errs, obj: Obj) -> None:
    """A controller name (a domain-prefixed path, e.g. example.com/ingress) and, when
    given, a parameters reference whose scope and namespace agree."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not spec.get("controller"):
        required(errs, "spec.controller", "name the controller (e.g. kubelab.io/ingress-router)")
        return
    ctl = spec["controller"]
    if not isinstance(ctl, str) or not _CONTROLLER_RE.match(ctl):
        invalid(
            errs,
            "spec.controller",
            ctl,
            "must be a domain-prefixed path (such as 'acme.io/foo')",
        )
    elif len(ctl) > 250:
        too_long(errs, "spec.controller", 250)
    params = spec.get("parameters")
    if params is None:
        return
    if not isinstance(params, dict):
        invalid(errs, "spec.parameters", params, "must be an object with kind and name")
        return
    for key in ("kind", "name"):
        if not params.get(key):
            required(errs, f"spec.parameters.{key}", f"set the parameters' {key}")
    scope = params.get("scope", "Cluster")
    if scope not in _SCOPES:
        unsupported(errs, "spec.parameters.scope", scope, _SCOPES)
    elif scope == "Namespace" and not params.get("namespace"):
        required(errs, "spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'")
    elif scope == "Cluster" and params.get("namespace"):
        forbidden(errs, "spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'")


def validate_ingress_class_update(errs: Errs, new: Obj, old: Obj) -> None:
    """The controller of a class is immutable, as upstream."""
    nc = (new.get("spec") or {}).get("controller")
    if nc != (old.get("spec") or {}).get("controller"):
        invalid(errs, "spec.controller", nc, "field is immutable; create a new IngressClass")


def _check_peer(errs: Errs, field: str, peer: Any) -> None:
    if not isinstance(peer, dict):
        invalid(
            errs, field, peer, "must be an object with podSelector, namespaceSelector or ipBlock"
        )
        return
    set_ = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None]
    if not set_:
        required(errs, field, "must specify a peer: podSelector, namespaceSelector or ipBlock")
    elif "ipBlock" in set_ and len(set_) > 1:
        forbidden(errs, field, "may not specify more than 1 peer type when ipBlock is set")
    _check_selector(errs, f"{field}.podSelector", peer.get("podSelector"))
    _check_selector(errs, f"{field}.namespaceSelector", peer.get("namespaceSelector"))
    block = peer.get("ipBlock")
    if block is None:
        return
    if not isinstance(block, dict) or not block.get("cidr"):
        required(errs, f"{field}.ipBlock.cidr", "set a CIDR (e.g. 10.0.0.0/8)")
        return
    try:
        net = ipaddress.ip_network(block["cidr"], strict=False)
    except ValueError:
        invalid(errs, f"{field}.ipBlock.cidr", block["cidr"], "must be a valid CIDR (10.0.0.0/8)")
        return
    for k, exc in enumerate(block.get("except") or []):
        f = f"{field}.ipBlock.except[{k}]"
        try:
            sub = ipaddress.ip_network(exc, strict=False)
        except (ValueError, TypeError):
            invalid(errs, f, exc, "must be a valid CIDR (10.0.0.0/8)")
            continue
        if sub.version != net.version or not sub.subnet_of(net):  # type: ignore[arg-type]
            invalid(errs, f, exc, "must be a strict subset of `cidr`")
        elif sub == net:
            invalid(errs, f, exc, "must be a strict subset of `cidr`")


def _check_ports(errs: Errs, field: str, ports: Any) -> None:
    for i, port in enumerate(ports or []):
        f = f"{field}[{i}]"
        if not isinstance(port, dict):
            invalid(errs, f, port, "must be an object with protocol and port")
            continue
        proto = port.get("protocol")
        if proto is not None and proto not in _PROTOCOLS:
            unsupported(errs, f"{f}.protocol", proto, _PROTOCOLS)
        if port.get("port") is not None:
            check_port(errs, f"{f}.port", port["port"], allow_name=True)
        end = port.get("endPort")
        if end is None:
            continue
        if not isinstance(port.get("port"), int):
            invalid(errs, f"{f}.endPort", end, "may not be specified when `port` is not a number")
        elif not isinstance(end, int) or end < port["port"]:
            invalid(errs, f"{f}.endPort", end, "must be greater than or equal to `port`")
        else:
            check_port(errs, f"{f}.endPort", end)


def validate_network_policy(errs: Errs, obj: Obj) -> None:
    """A pod selector, ports and peers as upstream, policyTypes Ingress and/or Egress."""
    spec = obj.get("spec")
    if spec is None:
        return  # an empty spec selects every pod of the namespace, as upstream
    if not isinstance(spec, dict):
        invalid(errs, "spec", spec, "must be an object with podSelector")
        return
    _check_selector(errs, "spec.podSelector", spec.get("podSelector"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        for i, rule in enumerate(rules or []):
            f = f"spec.{direction}[{i}]"
            if not isinstance(rule, dict):
                invalid(errs, f, rule, f"must be an object with ports and {peers_key}")
                continue
            _check_ports(errs, f"{f}.ports", rule.get("ports"))
            for j, peer in enumerate(rule.get(peers_key) or []):
                _check_peer(errs, f"{f}.{peers_key}[{j}]", peer)
    types = spec.get("policyTypes")
    if types is not None:
        if not isinstance(types, list) or len(types) > 2:
            invalid(errs, "spec.policyTypes", types, "may not specify more than two policyTypes")
            return
        for i, t in enumerate(types):
            if t not in _POLICY_TYPES:
                unsupported(errs, f"spec.policyTypes[{i}]", t, _POLICY_TYPES)


NETWORK_POLICY_WARNING = (
    "NetworkPolicy is stored but not enforced by kubelab's pod network yet: "
    "traffic is not restricted"
)
