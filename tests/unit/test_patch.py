"""Merge patch, JSON patch, strategic merge patch and server-side apply (api/patch.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from api.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    UnsupportedPatchType,
    apply_patch,
    json_patch,
    list_strategy,
    merge_patch,
    strategic_merge_patch,
)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "finalizers": ["a.example/x"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "args": ["--a", "--b"],
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
        "status": {"replicas": 2},
    }


# ---------------------------------------------------------------- merge patch (RFC 7386)


def test_merge_patch_rfc7386_examples() -> None:
    doc = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert merge_patch(doc, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert merge_patch({"a": "foo"}, {"a": {"b": "c"}}) == {"a": {"b": "c"}}


def test_merge_patch_does_not_mutate_and_shares_nothing() -> None:
    doc = deployment()
    before = copy.deepcopy(doc)
    patch = {"spec": {"replicas": 3, "template": {"metadata": {"labels": {"x": "y"}}}}}
    patch_before = copy.deepcopy(patch)
    out = merge_patch(doc, patch)
    assert doc == before and patch == patch_before
    assert out["spec"]["replicas"] == 3
    out["metadata"]["labels"]["new"] = "1"
    out["spec"]["template"]["metadata"]["labels"]["x"] = "changed"
    assert doc == before and patch == patch_before


def test_merge_patch_wipes_container_ports_on_apply_shape() -> None:
    """API-COMPAT §7: the SMP that `kubectl apply` sends, read as a merge patch, loses ports."""
    apply_body = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"image": "nginx:1.26", "name": "nginx"}],
                }
            }
        }
    }
    merged = merge_patch(deployment(), apply_body)
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"image": "nginx:1.26", "name": "nginx"}
    ]
    # ...while the strategic merge keeps ports, env and the sidecar.
    smp = strategic_merge_patch(deployment(), apply_body, "Deployment")
    containers = smp["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx", "sidecar"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert "$setElementOrder/containers" not in smp["spec"]["template"]["spec"]


def test_merge_patch_rejects_non_object() -> None:
    with pytest.raises(PatchError) as err:
        merge_patch({}, [1, 2])
    assert err.value.code == 400 and "JSON object" in str(err.value)


# ---------------------------------------------------------------- JSON patch (RFC 6902)


def test_json_patch_rollout_undo() -> None:
    """`kubectl rollout undo` replaces /spec/template and /metadata/annotations."""
    doc = deployment()
    old_template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24"}]},
    }
    ops = [
        {"op": "replace", "path": "/spec/template", "value": old_template},
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "1"},
        },
    ]
    out = json_patch(doc, ops)
    assert out["spec"]["template"] == old_template
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert doc == deployment()
    out["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert ops[0]["value"] == {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24"}]},
    }


def test_json_patch_all_ops_and_escaping() -> None:
    doc: dict[str, Any] = {
        "metadata": {"labels": {"a/b": "1", "m~n": "2"}},
        "list": [1, 2, 3],
    }
    out = json_patch(
        doc,
        [
            {"op": "test", "path": "/metadata/labels/a~1b", "value": "1"},
            {"op": "test", "path": "/metadata/labels/m~0n", "value": "2"},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "add", "path": "/list/0", "value": 0},
            {"op": "remove", "path": "/list/2"},
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "x"},
            {"op": "copy", "from": "/list", "path": "/copied"},
            {"op": "move", "from": "/metadata/labels/m~0n", "path": "/moved"},
            {"op": "add", "path": "/list/4", "value": 9},
        ],
    )
    assert out == {
        "metadata": {"labels": {"a/b": "x"}},
        "list": [0, 1, 3, 4, 9],
        "copied": [0, 1, 3, 4],
        "moved": "2",
    }
    assert doc == {"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "list": [1, 2, 3]}


@pytest.mark.parametrize(
    ("ops", "fragment"),
    [
        (
            [{"op": "remove", "path": "/nope"}],
            'operation 0 (remove "/nope"): "/nope" does not exist',
        ),
        ([{"op": "add", "path": "/x/b/c", "value": 1}], '"/x" does not exist'),
        ([{"op": "add", "path": "/a/b/c", "value": 1}], '"/a" is a number, it has no member "b"'),
        ([{"op": "replace", "path": "/list/3", "value": 1}], "index 3 is out of range"),
        ([{"op": "add", "path": "/list/01", "value": 1}], '"01" is not a valid array index'),
        ([{"op": "add", "path": "list", "value": 1}], 'must start with "/"'),
        ([{"op": "test", "path": "/a", "value": 2}], "test failed: the value is 1, expected 2"),
        ([{"op": "test", "path": "/t", "value": 1}], "test failed"),  # true is not 1
        ([{"op": "move", "from": "/obj", "path": "/obj/x"}], "into one of its own children"),
        ([{"op": "add", "path": "/a"}], 'missing "value"'),
        ([{"op": "add", "path": "", "value": [1]}], "must be an object"),
    ],
)
def test_json_patch_errors_name_the_op(ops: list[Any], fragment: str) -> None:
    doc = {"a": 1, "t": True, "list": [1, 2, 3], "obj": {"k": "v"}}
    with pytest.raises(PatchError) as err:
        json_patch(doc, ops)
    assert fragment in str(err.value)
    assert err.value.code == 422
    assert doc == {"a": 1, "t": True, "list": [1, 2, 3], "obj": {"k": "v"}}


def test_json_patch_bad_shape_is_400() -> None:
    with pytest.raises(PatchError) as err:
        json_patch({}, [{"op": "frobnicate", "path": "/a"}])
    assert err.value.code == 400 and "unknown op 'frobnicate'" in str(err.value)
    with pytest.raises(PatchError) as err:
        json_patch({}, {"op": "add"})  # type: ignore[arg-type]
    assert err.value.code == 400


def test_json_patch_failure_is_atomic() -> None:
    doc = {"a": 1}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}])
    assert doc == {"a": 1}


# ---------------------------------------------------------------- strategic merge patch


def test_cordon_and_uncordon() -> None:
    node = {"kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}}
    cordoned = strategic_merge_patch(node, {"spec": {"unschedulable": True}}, "Node")
    assert cordoned["spec"] == {"podCIDR": "10.0.0.0/24", "unschedulable": True}
    uncordoned = strategic_merge_patch(cordoned, {"spec": {"unschedulable": None}}, "Node")
    assert uncordoned["spec"] == {"podCIDR": "10.0.0.0/24"}
    assert cordoned["spec"]["unschedulable"] is True  # input untouched


def test_smp_keyed_lists_merge_and_other_lists_replace() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                            "ports": [{"containerPort": 443}],
                            "args": ["--c"],
                        },
                        {"name": "new", "image": "redis"},
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                }
            }
        }
    }
    out = strategic_merge_patch(deployment(), patch, "Deployment")
    spec = out["spec"]["template"]["spec"]
    nginx = spec["containers"][0]
    assert nginx["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]
    assert nginx["args"] == ["--c"]  # not a merge list: replaced
    assert [c["name"] for c in spec["containers"]] == ["nginx", "sidecar", "new"]
    assert [v["name"] for v in spec["volumes"]] == ["data", "cache"]


def test_smp_delete_item_in_list() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "$patch": "delete"},
                        {"name": "nginx", "env": [{"name": "A", "$patch": "delete"}]},
                    ]
                }
            }
        }
    }
    out = strategic_merge_patch(deployment(), patch, "Deployment")
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx"]
    assert containers[0]["env"] == [{"name": "B", "value": "2"}]


def test_smp_patch_replace_and_delete_on_maps_and_lists() -> None:
    out = strategic_merge_patch(
        deployment(),
        {
            "metadata": {"labels": {"$patch": "replace", "only": "this"}},
            "spec": {
                "selector": {"$patch": "delete"},
                "template": {
                    "spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "x"}]}
                },
            },
        },
        "Deployment",
    )
    assert out["metadata"]["labels"] == {"only": "this"}
    assert "selector" not in out["spec"]
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "solo", "image": "x"}]


def test_smp_retain_keys() -> None:
    """kubectl switching a Deployment to Recreate clears rollingUpdate through $retainKeys."""
    out = strategic_merge_patch(
        deployment(),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        "Deployment",
    )
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    volumes = strategic_merge_patch(
        deployment(),
        {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {
                                "name": "data",
                                "$retainKeys": ["hostPath", "name"],
                                "hostPath": {"path": "/srv"},
                            }
                        ]
                    }
                }
            }
        },
        "Deployment",
    )
    assert volumes["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "hostPath": {"path": "/srv"}}
    ]
    with pytest.raises(PatchError, match='"type" is in the patch but not in its \\$retainKeys'):
        strategic_merge_patch(
            deployment(),
            {"spec": {"strategy": {"$retainKeys": ["rollingUpdate"], "type": "Recreate"}}},
            "Deployment",
        )


def test_smp_finalizers_set_and_delete_from_primitive_list() -> None:
    doc = deployment()
    out = strategic_merge_patch(
        doc, {"metadata": {"finalizers": ["b.example/y", "a.example/x"]}}, "Deployment"
    )
    assert out["metadata"]["finalizers"] == ["a.example/x", "b.example/y"]
    removed = strategic_merge_patch(
        out,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}},
        "Deployment",
    )
    assert removed["metadata"]["finalizers"] == ["b.example/y"]
    # Any kind: metadata lists follow ObjectMeta's strategy.
    cm = strategic_merge_patch(
        {"metadata": {"finalizers": ["x"]}}, {"metadata": {"finalizers": ["y"]}}, "ConfigMap"
    )
    assert cm["metadata"]["finalizers"] == ["x", "y"]


def test_smp_set_element_order() -> None:
    out = strategic_merge_patch(
        deployment(),
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}],
                        "containers": [{"name": "nginx", "image": "nginx:2"}],
                    }
                }
            }
        },
        "Deployment",
    )
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == [
        "sidecar",
        "nginx",
    ]


def test_smp_strips_unknown_directives_and_nulls_in_new_values() -> None:
    out = strategic_merge_patch(
        {"metadata": {"name": "x"}},
        {"metadata": {"$whatever": 1, "labels": {"a": "1", "gone": None}}, "data": {"k": "v"}},
        "ConfigMap",
    )
    assert out == {"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v"}}


def test_smp_service_ports_by_port_and_node_conditions_by_type() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "name": "http"}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "name": "http"}, {"port": 443}]
    node = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "MemoryPressure", "status": "False"},
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        }
    }
    out = strategic_merge_patch(
        node,
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}],
            }
        },
        "Node",
    )
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "MemoryPressure", "status": "False"},
    ]
    assert out["status"]["addresses"] == [
        {"type": "InternalIP", "address": "10.0.0.1"},
        {"type": "Hostname", "address": "n1"},
    ]


def test_smp_owner_references_by_uid_and_taints_replaced() -> None:
    doc = {
        "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
    }
    out = strategic_merge_patch(
        doc,
        {
            "metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
        },
        "Node",
    )
    assert [o["uid"] for o in out["metadata"]["ownerReferences"]] == ["1", "2"]
    assert out["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}]


def test_smp_pod_and_unknown_kind() -> None:
    pod = {"spec": {"containers": [{"name": "c", "image": "a", "ports": [{"containerPort": 1}]}]}}
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "c", "image": "b"}]}}, "Pod")
    assert out["spec"]["containers"] == [
        {"name": "c", "image": "b", "ports": [{"containerPort": 1}]}
    ]
    # A kind without a schema: lists are replaced (as a merge patch would).
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "c"}]}}, "Widget")
    assert out["spec"]["containers"] == [{"name": "c"}]


def test_smp_missing_merge_key_is_an_error() -> None:
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(
            deployment(),
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            "Deployment",
        )
    assert "containers[0]" in str(err.value) and "'name'" in str(err.value)


def test_smp_does_not_mutate_inputs() -> None:
    doc, before = deployment(), deployment()
    patch = {
        "metadata": {"finalizers": ["z"], "$deleteFromPrimitiveList/finalizers": ["a.example/x"]},
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "$patch": "delete"}]}}},
    }
    patch_before = copy.deepcopy(patch)
    out = strategic_merge_patch(doc, patch, "Deployment")
    assert doc == before and patch == patch_before
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated"
    out["spec"]["selector"]["matchLabels"]["app"] = "mutated"
    assert doc == before


def test_list_strategy_paths() -> None:
    assert list_strategy("Deployment", ["spec", "template", "spec", "containers"]) == "name"
    assert list_strategy("Pod", ["spec", "containers", "ports"]) == "containerPort"
    assert list_strategy("Job", ["spec", "template", "spec", "initContainers", "volumeMounts"]) == (
        "mountPath"
    )
    assert list_strategy(
        "CronJob", ["spec", "jobTemplate", "spec", "template", "spec", "volumes"]
    ) == ("name")
    assert list_strategy("Node", ["spec", "taints"]) is None
    assert list_strategy("Pod", ["metadata", "finalizers"]) == ""
    assert list_strategy("Pod", ["spec", "tolerations"]) is None


# ---------------------------------------------------------------- dispatch and apply


def test_apply_patch_dispatch() -> None:
    doc = deployment()
    out = apply_patch(
        doc, b'{"spec":{"replicas":5}}', MERGE_PATCH + "; charset=utf-8", "Deployment"
    )
    assert out["spec"]["replicas"] == 5
    ops = json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 7}])
    assert apply_patch(doc, ops, JSON_PATCH, "Deployment")["spec"]["replicas"] == 7
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "n:2"}]}}}}
    out = apply_patch(doc, smp, STRATEGIC_MERGE_PATCH, "Deployment")
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"]
    with pytest.raises(UnsupportedPatchType) as err:
        apply_patch(doc, b"{}", "application/json", "Deployment")
    assert err.value.code == 415 and "application/json" in str(err.value)
    with pytest.raises(PatchError) as perr:
        apply_patch(doc, b"{not json", MERGE_PATCH, "Deployment")
    assert perr.value.code == 400


def test_server_side_apply_keeps_unmentioned_fields() -> None:
    body = b"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"""
    out = apply_patch(deployment(), body, APPLY_PATCH, "Deployment")
    assert out["spec"]["replicas"] == 4
    nginx = out["spec"]["template"]["spec"]["containers"][0]
    assert nginx["image"] == "nginx:1.27" and nginx["ports"][0]["containerPort"] == 80
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["status"] == {"replicas": 2}
    # kubectl sends JSON under the apply media type; creating from nothing works too.
    created = apply_patch(
        {}, json.dumps({"kind": "ConfigMap", "data": {"a": "1"}}), APPLY_PATCH, "ConfigMap"
    )
    assert created == {"kind": "ConfigMap", "data": {"a": "1"}}
    with pytest.raises(PatchError) as err:
        apply_patch({}, b"key: [unclosed", APPLY_PATCH, "ConfigMap")
    assert err.value.code == 400


def test_smp_primitive_order_merge_directive_and_bad_directive() -> None:
    doc = {"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1"}}}
    out = strategic_merge_patch(
        doc,
        {
            "metadata": {
                "$setElementOrder/finalizers": ["c", "b", "a"],
                "finalizers": ["c"],
                "labels": {"$patch": "merge", "y": "2"},
            }
        },
        "Pod",
    )
    assert out["metadata"] == {"finalizers": ["c", "b", "a"], "labels": {"x": "1", "y": "2"}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(doc, {"metadata": {"$patch": "explode"}}, "Pod")
    assert err.value.code == 400 and "/metadata" in str(err.value)
