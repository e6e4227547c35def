"""The service CIDR's fixed points, shared by the apiserver (which hands out ClusterIPs
and keeps these for their Services, apiserver/service_ips.py) and by what must know them
without asking it: cluster DNS (clusterdns/kubedns.py), kubelab up and kubelab join."""

from __future__ import annotations

import ipaddress

DEFAULT_SERVICE_CIDR = "10.43.0.0/16"
DNS_INDEX = 10  # kube-dns' address is the range's .10, as k3s and kubeadm have it


def kube_dns_ip(service_cidr: str = DEFAULT_SERVICE_CIDR) -> str:
    """The ClusterIP of the kube-dns Service in ``service_cidr`` (10.43.0.10)."""
    return str(ipaddress.ip_network(service_cidr, strict=False).network_address + DNS_INDEX)
