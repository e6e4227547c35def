"""kl apply's three-way strategic merge patch."""

from __future__ import annotations

import copy
import json
from typing import Any

from kubectl.applypatch import LAST_APPLIED, apply_patch, three_way_patch, with_last_applied


def deployment(image: str = "nginx:1", replicas: int = 2, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", **labels}},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": image, "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "busybox"},
                    ]
                }
            },
        },
    }


def live_from(applied: dict[str, Any]) -> dict[str, Any]:
    """What the server would hold after creating ``applied``: defaults and status added."""
    live = copy.deepcopy(with_last_applied(applied))
    live["metadata"].update(
        resourceVersion="7", uid="u-1", generation=1, creationTimestamp="2024-05-01T00:00:00Z"
    )
    live["spec"]["strategy"] = {"type": "RollingUpdate"}  # a server default
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    live["status"] = {"replicas": 2}
    return live


def test_create_body_records_last_applied_without_status() -> None:
    obj = deployment()
    obj["status"] = {"replicas": 9}
    body = with_last_applied(obj)
    recorded = json.loads(body["metadata"]["annotations"][LAST_APPLIED])
    assert "status" not in body and "status" not in recorded
    assert recorded["spec"] == obj["spec"]


def test_same_manifest_is_unchanged_despite_server_defaults() -> None:
    assert apply_patch(deployment(), live_from(deployment())) == {}


def test_output_of_get_round_trips_unchanged() -> None:
    live = live_from(deployment())
    assert apply_patch(copy.deepcopy(live), live) == {}


def test_changed_image_patches_only_that_container_by_name() -> None:
    patch = apply_patch(deployment(image="nginx:2"), live_from(deployment()))
    assert patch["spec"] == {
        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}
    }
    assert (
        json.loads(patch["metadata"]["annotations"][LAST_APPLIED])["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        == "nginx:2"
    )


def test_removed_field_is_deleted_but_others_fields_are_kept() -> None:
    live = live_from(deployment(tier="fe"))
    live["metadata"]["labels"]["added-by-someone"] = "x"
    patch = apply_patch(deployment(), live)
    assert patch["metadata"]["labels"] == {"tier": None}
    assert "strategy" not in patch.get("spec", {})


def test_removed_container_is_a_patch_delete_directive() -> None:
    smaller = deployment()
    smaller["spec"]["template"]["spec"]["containers"].pop(1)
    patch = apply_patch(smaller, live_from(deployment()))
    assert patch["spec"]["template"]["spec"]["containers"] == [
        {"name": "sidecar", "$patch": "delete"}
    ]


def test_stale_resource_version_is_sent_with_a_real_change() -> None:
    stale = copy.deepcopy(live_from(deployment()))
    stale["metadata"]["resourceVersion"] = "3"
    stale["spec"]["replicas"] = 5
    patch = apply_patch(stale, live_from(deployment()))
    assert patch["metadata"]["resourceVersion"] == "3" and patch["spec"]["replicas"] == 5


def test_three_way_null_and_non_keyed_lists() -> None:
    original = {"spec": {"args": ["a", "b"], "x": 1}}
    modified = {"spec": {"args": ["a"], "x": None}}
    current = {"spec": {"args": ["a", "b"], "x": 1, "y": 2}}
    assert three_way_patch(original, modified, current) == {"spec": {"args": ["a"], "x": None}}


def test_service_ports_merge_by_port() -> None:
    original = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    modified = {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}
    current = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}
    assert three_way_patch(original, modified, current) == {
        "spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}
    }


def test_annotation_text_matches_kubectl() -> None:
    """Byte for byte what kubectl writes, so kl and kubectl can take turns applying."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "default"},
        "data": {"b": "2", "a": "1"},
    }
    assert with_last_applied(cm)["metadata"]["annotations"][LAST_APPLIED] == (
        '{"apiVersion":"v1","data":{"a":"1","b":"2"},"kind":"ConfigMap",'
        '"metadata":{"annotations":{},"name":"x","namespace":"default"}}\n'
    )
