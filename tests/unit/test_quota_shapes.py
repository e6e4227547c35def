"""The quota index keeps one copy of each pod shape (issue 25 item 4: it was 2.7 KB a
pod, the apiserver's whole growth per bound pod), and forgets a shape with its last pod."""

from __future__ import annotations

from decimal import Decimal

from api.registry import by_plural
from apiserver.quota import ResourceQuotas


def _pod(name: str, cpu: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
    }


def test_pods_of_one_shape_share_one_copy_and_usage_stays_exact() -> None:
    info = by_plural("", "pods")
    assert info is not None
    q = ResourceQuotas()
    for i in range(50):
        q.record(info, "ns", f"a{i}", None, _pod(f"a{i}", "100m"))
    q.record(info, "ns", "b", None, _pod("b", "1"))
    assert len(q._shapes) == 2
    keys = {id(k) for k in q.pods["ns"].values()}
    assert len(keys) == 2  # every pod refers to the stored key, none holds a copy
    scoped = {
        "metadata": {"namespace": "ns", "name": "q"},
        "spec": {"hard": {"requests.cpu": "100"}, "scopes": ["NotBestEffort"]},
    }
    assert q.used(scoped)["requests.cpu"] == Decimal("6")
    for i in range(50):
        q.record(info, "ns", f"a{i}", _pod(f"a{i}", "100m"), None)
    assert len(q._shapes) == 1
    assert q.used(scoped)["requests.cpu"] == Decimal("1")
    q.record(info, "ns", "b", _pod("b", "1"), _pod("b", "2"))
    assert len(q._shapes) == 1
    assert q.used(scoped)["requests.cpu"] == Decimal("2")
