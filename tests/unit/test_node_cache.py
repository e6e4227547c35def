"""The pure decisions of node caches (``kubelab.io/node-cache``): the volume the PV
controller makes, which copies a kubelet lists and removes, and the scheduler's score."""

from __future__ import annotations

from api.storage import NODE_CACHES_ANNOTATION
from controllers.pv_decisions import node_cache_volume
from kubelet.node_caches import annotation_patch, complete_caches, stale_copies
from scheduler.plugins.cache_locality import cache_score

CLASS = {"metadata": {"name": "node-cache"}, "provisioner": "kubelab.io/node-cache"}


def _claim(modes: list[str]) -> dict[str, object]:
    return {
        "metadata": {"name": "weights", "namespace": "default", "uid": "u1"},
        "spec": {"accessModes": modes, "resources": {"requests": {"storage": "20Gi"}}},
    }


def test_volume_has_no_node_affinity_and_a_path_per_node() -> None:
    pv = node_cache_volume(_claim(["ReadOnlyMany"]), CLASS)
    assert isinstance(pv, dict)
    assert "nodeAffinity" not in pv["spec"]
    assert pv["spec"]["hostPath"] == {"path": "/node-cache/pvc-u1"}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_only_read_only_many_claims() -> None:
    why = node_cache_volume(_claim(["ReadWriteOnce"]), CLASS)
    assert isinstance(why, str) and "accessModes: [ReadOnlyMany]" in why


def test_complete_and_stale_copies() -> None:
    assert complete_caches({"b": True, "a": True, "c": False}) == ["a", "b"]
    assert stale_copies(["a", "b"], {"a"}) == ["b"]


def test_annotation_patch_only_on_change() -> None:
    node = {"metadata": {"annotations": {NODE_CACHES_ANNOTATION: "a"}}}
    assert annotation_patch(node, ["a"]) is None
    assert annotation_patch(node, []) == {
        "metadata": {"annotations": {NODE_CACHES_ANNOTATION: None}}
    }
    assert annotation_patch({"metadata": {}}, ["a", "b"]) == {
        "metadata": {"annotations": {NODE_CACHES_ANNOTATION: "a,b"}}
    }


def test_score_prefers_complete_copies() -> None:
    assert cache_score(["a"], {"a"}) == 100
    assert cache_score(["a", "b"], {"a"}) == 50
    assert cache_score(["a"], set()) == 0
