"""apps/v1 StatefulSet: defaulting, validation, update rules, table cells, Scale view."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from api import models
from api.defaults import apply_defaults
from api.validation import validate
from api.validation.common import show
from apiserver.pods import scale_of
from apiserver.tables import column_definitions, to_table

Obj = dict[str, Any]


def manifest(**spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "serviceName": "web",
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    obj["spec"].update(spec)
    return obj


def defaulted(**spec: Any) -> Obj:
    obj = manifest(**spec)
    apply_defaults("StatefulSet", obj)
    return obj


def causes(obj: Obj, old: Obj | None = None) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate("StatefulSet", obj, old)]


def test_defaults_are_kubernetes_ones() -> None:
    spec = defaulted()["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    assert "ordinals" not in spec and "minReadySeconds" not in spec


def test_defaults_keep_what_the_user_gave() -> None:
    spec = defaulted(
        podManagementPolicy="Parallel",
        updateStrategy={"type": "OnDelete"},
        replicas=0,
    )["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "OnDelete"}
    assert spec["replicas"] == 0


def test_a_valid_statefulset_parses_and_validates() -> None:
    obj = defaulted(ordinals={"start": 1}, minReadySeconds=5)
    assert causes(obj) == []
    assert models.dump(models.parse(obj)) == obj


def test_containers_may_mount_the_claim_templates_but_nothing_unknown() -> None:
    obj = defaulted()
    assert causes(obj) == []
    obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "other"
    ((field, msg),) = causes(obj)
    assert field == "spec.template.spec.containers[0].volumeMounts[0].name"
    assert "not found" in msg


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (
            {"podManagementPolicy": "Random"},
            "spec.podManagementPolicy",
            "'OrderedReady' or 'Parallel'",
        ),
        (
            {"updateStrategy": {"type": "Recreate"}},
            "spec.updateStrategy.type",
            "'RollingUpdate' or 'OnDelete'",
        ),
        (
            {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}},
            "spec.updateStrategy.rollingUpdate",
            "only allowed for updateStrategy 'RollingUpdate'",
        ),
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
            "spec.updateStrategy.rollingUpdate.partition",
            "greater than or equal to 0",
        ),
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "greater than 0",
        ),
        (
            {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}},
            "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
            'supported values: "Retain", "Delete"',
        ),
        ({"ordinals": {"start": -1}}, "spec.ordinals.start", "greater than or equal to 0"),
        ({"replicas": -1}, "spec.replicas", "greater than or equal to 0"),
        ({"minReadySeconds": -1}, "spec.minReadySeconds", "greater than or equal to 0"),
        ({"serviceName": "Web_Service"}, "spec.serviceName", ""),
        (
            {"selector": {"matchLabels": {"app": "db"}}},
            "spec.template.metadata.labels",
            "does not match",
        ),
        ({"selector": {}}, "spec.selector", "non-empty selector"),
    ],
)
def test_bad_fields_are_refused_by_name(spec: Obj, field: str, words: str) -> None:
    found = causes(defaulted(**spec))
    assert any(f == field and words in m for f, m in found), found


def test_the_name_must_be_a_dns_label_since_it_names_the_pods_hostnames() -> None:
    obj = defaulted()
    obj["metadata"]["name"] = "web.v1"
    ((field, msg),) = causes(obj)
    assert field == "metadata.name" and "web-v1" in msg


def test_template_must_restart_always_and_have_no_deadline() -> None:
    obj = defaulted()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    obj["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 10
    fields = {f for f, _ in causes(obj)}
    assert "spec.template.spec.restartPolicy" in fields
    assert "spec.template.spec.activeDeadlineSeconds" in fields


def test_claim_templates_are_checked_as_claims() -> None:
    obj = defaulted()
    claim = obj["spec"]["volumeClaimTemplates"][0]
    del claim["spec"]["resources"]
    claim["spec"]["accessModes"] = []
    obj["spec"]["volumeClaimTemplates"].append(
        copy.deepcopy(obj["spec"]["volumeClaimTemplates"][0])
    )
    obj["spec"]["volumeClaimTemplates"].append({"spec": {}})
    fields = {f for f, _ in causes(obj)}
    assert "spec.volumeClaimTemplates[0].spec.accessModes" in fields
    assert "spec.volumeClaimTemplates[0].spec.resources[storage]" in fields
    assert "spec.volumeClaimTemplates[1].metadata.name" in fields  # a duplicate
    assert "spec.volumeClaimTemplates[2].metadata.name" in fields  # missing
    for wrong in (["www"], {"n": 1}, 5):
        obj["spec"]["volumeClaimTemplates"][1]["metadata"]["name"] = wrong
        assert (
            "spec.volumeClaimTemplates[1].metadata.name",
            f"Invalid value: {show(wrong)}: must be a string",
        ) in causes(obj)


def test_an_update_may_change_only_the_mutable_fields() -> None:
    old = defaulted()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    new["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = "Delete"
    assert causes(new, old) == []
    for key, value in [
        ("serviceName", "other"),
        ("podManagementPolicy", "Parallel"),
        ("selector", {"matchLabels": {"app": "web", "x": "y"}}),
        ("volumeClaimTemplates", []),
    ]:
        bad = copy.deepcopy(old)
        bad["spec"][key] = value
        if key == "selector":
            bad["spec"]["template"]["metadata"]["labels"]["x"] = "y"
        found = causes(bad, old)
        assert [f for f, m in found if "updates to statefulset spec" in m] == ["spec"], key


def test_table_is_name_ready_age_and_containers_images_when_wide() -> None:
    cols = column_definitions("statefulsets")
    assert [(c["name"], c["priority"]) for c in cols] == [
        ("Name", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
    ]
    obj = defaulted()
    obj["metadata"]["creationTimestamp"] = "2026-12-04T00:00:00Z"
    obj["status"] = {"replicas": 3, "readyReplicas": 2}
    now = datetime(2026, 12, 4, 0, 5, tzinfo=UTC)
    (row,) = to_table("statefulsets", [obj], now)["rows"]
    assert row["cells"] == ["web", "2/3", "5m", "nginx", "nginx:1.27"]


def test_scale_view() -> None:
    obj = defaulted()
    obj["metadata"].update(uid="u", resourceVersion="3")
    obj["status"] = {"replicas": 2}
    scale = scale_of(obj)
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "app=web"}
