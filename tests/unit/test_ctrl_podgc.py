"""PodGC decisions (controllers/podgc.py): orphaned pods and the terminated-pod threshold."""

from __future__ import annotations

from typing import Any

from controllers.podgc import missing_nodes, orphan_deletions, terminated_deletions


def pod(name: str, node: str = "", phase: str = "Running", created: int = 0, **meta: Any) -> Any:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "creationTimestamp": f"2026-11-26T10:00:{created:02d}Z",
            **meta,
        },
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }


def test_missing_nodes_remember_when_first_missed() -> None:
    pods = [pod("a", "gone"), pod("b", "here"), pod("c"), pod("d", "gone")]
    first = missing_nodes(pods, {"here"}, {}, now=100.0)
    assert first == {"gone": 100.0}
    # Still missing later: the first time is kept; a node that came back is forgotten.
    assert missing_nodes(pods, {"here"}, first, now=130.0) == {"gone": 100.0}
    assert missing_nodes(pods, {"here", "gone"}, first, now=140.0) == {}


def test_orphans_are_force_deleted_only_on_gone_nodes() -> None:
    pods = [pod("a", "gone"), pod("b", "here"), pod("c"), pod("d", "gone", "Succeeded")]
    actions = orphan_deletions(pods, {"gone"})
    assert [(a.verb, a.name, a.grace_period_seconds) for a in actions] == [
        ("delete", "a", 0),
        ("delete", "d", 0),
    ]
    assert orphan_deletions(pods, set()) == []


def test_terminated_beyond_threshold_oldest_first() -> None:
    pods = [
        pod("new-done", "n", "Succeeded", created=30),
        pod("old-done", "n", "Failed", created=10),
        pod("mid-done", "n", "Succeeded", created=20),
        pod("running", "n", "Running", created=0),
        pod("going", "n", "Succeeded", created=1, deletionTimestamp="2026-11-26T10:01:00Z"),
    ]
    assert [a.name for a in terminated_deletions(pods, 1)] == ["old-done", "mid-done"]
    assert [a.grace_period_seconds for a in terminated_deletions(pods, 1)] == [None, None]
    assert terminated_deletions(pods, 3) == []
    assert terminated_deletions(pods, 0) == []  # 0 turns it off
