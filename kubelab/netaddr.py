"""Which address of this box others reach it on (no packets are sent)."""

from __future__ import annotations

import socket


def route_address(towards: str = "192.0.2.1", port: int = 9) -> str:
    """The local address the kernel would use to reach ``towards`` (a UDP ``connect``
    sends nothing); 127.0.0.1 when there is no route."""
    family = socket.AF_INET6 if ":" in towards else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((towards, port))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")
