"""EndpointSlice cells as kubectl prints them, shared by the server's Table and kl."""

from __future__ import annotations

from datetime import UTC, datetime

from api.endpointslices import format_endpoints, format_ports
from kubectl.printers.columns import columns_for


def test_ports_and_endpoints_as_kubectl_formats_them() -> None:
    assert format_ports([]) == "<unset>"
    assert format_ports([{"port": 80}, {"name": "http"}, {}]) == "80,http,*"
    assert format_ports([{"port": p} for p in (1, 2, 3, 4, 5)]) == "1,2,3 + 2 more..."
    assert format_endpoints([]) == "<unset>"
    eps = [{"addresses": ["10.42.0.1", "10.42.0.2"]}, {"addresses": ["10.42.0.3"]}]
    assert format_endpoints(eps) == "10.42.0.1,10.42.0.2,10.42.0.3"
    assert format_endpoints([*eps, {"addresses": ["10.42.0.4"]}]) == (
        "10.42.0.1,10.42.0.2,10.42.0.3 + 1 more..."
    )


def test_kl_shows_the_same_columns() -> None:
    cols = columns_for("EndpointSlice")
    assert cols.headers == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    es = {
        "metadata": {"name": "web-abcde", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["10.42.0.7"]}],
    }
    row = cols.row(es, datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert row == ["web-abcde", "IPv4", "8080", "10.42.0.7", "30s"]
