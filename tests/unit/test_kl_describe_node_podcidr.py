"""`kl describe node` shows the node's pod subnet as kubectl does (PodCIDR, PodCIDRs after
System Info), and nothing while it has none."""

from __future__ import annotations

from api.registry import lookup
from kubectl.describing.nodes import describe_node
from kubectl.describing.writer import Page


def _text(spec: dict[str, object]) -> str:
    page = Page()
    node = {"metadata": {"name": "n1"}, "spec": spec, "status": {}}
    info = lookup("nodes")
    assert info is not None
    describe_node(page, node, info, [])
    return page.text()


def test_pod_cidr_lines() -> None:
    text = _text({"podCIDR": "10.42.3.0/24", "podCIDRs": ["10.42.3.0/24"]})
    lines = [line.split() for line in text.splitlines()]
    assert ["PodCIDR:", "10.42.3.0/24"] in lines and ["PodCIDRs:", "10.42.3.0/24"] in lines
    assert text.index("System Info:") < text.index("PodCIDR:")
    assert "PodCIDR" not in _text({})
