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


def test_kl_describe_endpoint_slice_as_kubectl_lays_it_out() -> None:
    from api.registry import by_plural
    from kubectl.describing.discovery import describe_endpoint_slice
    from kubectl.describing.writer import Page

    info = by_plural("discovery.k8s.io", "endpointslices")
    assert info is not None
    es = {
        "metadata": {
            "name": "web-abcde",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": ["10.42.0.7"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "name": "web-1"},
                "nodeName": "box",
            }
        ],
    }
    page = Page()
    describe_endpoint_slice(page, es, info)
    lines = [line.rstrip() for line in page.text().splitlines()]
    assert lines[:4] == [
        "Name:         web-abcde",
        "Namespace:    default",
        "Labels:       kubernetes.io/service-name=web",
        "Annotations:  <none>",
    ]
    text = "\n".join(lines)
    assert "AddressType:  IPv4" in text
    assert "  <unset>  80    TCP" in text
    assert "  - Addresses:  10.42.0.7" in text
    assert "      Ready:    true" in text
    assert "    TargetRef:  Pod/web-1" in text and "    NodeName:   box" in text
    empty = Page()
    describe_endpoint_slice(empty, {**es, "ports": [], "endpoints": []}, info)
    assert "Ports: <unset>" in empty.text() and "Endpoints: <none>" in empty.text()
