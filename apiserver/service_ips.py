"""ClusterIPs: the service CIDR, which Service holds which address, and how one is picked.

As Kubernetes' ipallocator: the range's network and broadcast addresses are never handed
out; a new Service gets a random free address of the upper band, and only once that is
full one of the lower band (its first ``range_offset`` addresses, min(max(16, size/16),
256)), which stays free for addresses asked for by name, such as the ``kubernetes``
Service's ``.1`` and cluster DNS' ``.10``. Those two are reserved here for their own
Services. Pure: the apiserver decides each allocation in its serialised write path.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from api.service_cidr import DEFAULT_SERVICE_CIDR, DNS_INDEX

KUBERNETES_SERVICE = "default/kubernetes"
DNS_SERVICE = "kube-system/kube-dns"


class ServiceCIDRError(ValueError):
    """A service CIDR the allocator cannot use."""


def parse_service_cidr(text: str) -> ipaddress.IPv4Network:
    """The IPv4 network of ``--service-cidr`` (at least a /28, at most a /12)."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ServiceCIDRError(
            f"--service-cidr {text!r} is not a network in CIDR form ({exc}); "
            f"e.g. {DEFAULT_SERVICE_CIDR}"
        ) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ServiceCIDRError(
            f"--service-cidr {text}: only IPv4 service ranges are supported; "
            f"e.g. {DEFAULT_SERVICE_CIDR}"
        )
    if not 12 <= net.prefixlen <= 28:
        raise ServiceCIDRError(
            f"--service-cidr {text}: the prefix must be between /12 and /28 (a /28 holds 14 "
            f"Services); e.g. {DEFAULT_SERVICE_CIDR}"
        )
    return net


def range_offset(size: int) -> int:
    """The size of the lower band kept for requested addresses (Kubernetes'
    calculateRangeOffset: min(max(16, size/16), 256), none for 16 addresses or fewer)."""
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


class IPAllocationError(Exception):
    """A requested address that cannot be had (the message follows Kubernetes')."""


@dataclass
class ServiceIPs:
    """Which address of the range each Service holds ("ns/name"), and the picking rule."""

    network: ipaddress.IPv4Network
    held: dict[str, str] = field(default_factory=dict)  # ip -> "ns/name"
    rand: Callable[[int, int], int] = random.randint

    @classmethod
    def from_cidr(cls, cidr: str, rand: Callable[[int, int], int] = random.randint) -> ServiceIPs:
        return cls(parse_service_cidr(cidr), rand=rand)

    @property
    def size(self) -> int:
        """Usable addresses: all but the network and broadcast address."""
        return max(0, self.network.num_addresses - 2)

    def address(self, index: int) -> str:
        """The ``index``-th usable address (0 is the range's .1)."""
        return str(self.network.network_address + 1 + index)

    def index_of(self, ip: str) -> int | None:
        """The usable index of ``ip``, None when it is not a usable address of the range."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr not in self.network:
            return None
        index = int(addr) - int(self.network.network_address) - 1
        return index if 0 <= index < self.size else None

    @property
    def reserved(self) -> dict[str, str]:
        """Address -> the one Service that may hold it."""
        out = {self.address(0): KUBERNETES_SERVICE}
        if self.size > DNS_INDEX - 1:
            out[self.address(DNS_INDEX - 1)] = DNS_SERVICE
        return out

    @property
    def kubernetes_ip(self) -> str:
        return self.address(0)

    @property
    def dns_ip(self) -> str:
        return self.address(DNS_INDEX - 1)

    def check_requested(self, ip: str, key: str) -> None:
        """Raise IPAllocationError unless ``key`` may hold ``ip``."""
        if self.index_of(ip) is None:
            raise IPAllocationError(
                f"failed to allocate IP {ip}: provided IP is not in the valid range. The "
                f"range of valid IPs is {self.network}"
            )
        holder = self.held.get(ip)
        if holder is not None and holder != key:
            raise IPAllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
        owner = self.reserved.get(ip)
        if owner is not None and owner != key:
            raise IPAllocationError(
                f"failed to allocate IP {ip}: provided IP is reserved for the Service {owner}"
            )

    def pick(self, also_taken: frozenset[str] = frozenset()) -> str | None:
        """A free address: random in the upper band scanning forward (wrapping), else the
        same in the lower band; None when the range is full."""
        offset = range_offset(self.size)
        reserved = self.reserved
        for lo, hi in ((offset, self.size), (0, offset)):
            if hi <= lo:
                continue
            start = self.rand(lo, hi - 1)
            for i in range(hi - lo):
                ip = self.address(lo + (start - lo + i) % (hi - lo))
                if ip not in self.held and ip not in reserved and ip not in also_taken:
                    return ip
        return None

    def record(self, ip: str, key: str) -> None:
        self.held[ip] = key

    def release(self, ip: str, key: str) -> None:
        if self.held.get(ip) == key:
            del self.held[ip]
