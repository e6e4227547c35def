"""Server-side apply's field ownership (api/fieldmanager.py) with Kubernetes' schemas."""

from __future__ import annotations

from typing import Any

import pytest

from api import fieldmanager as fm
from api.registry import by_kind
from apiserver.openapi_schemas import apply_schema

NOW = "2026-12-04T06:00:00Z"


def _schema(api_version: str, kind: str) -> fm.Schema:
    info = by_kind(api_version, kind)
    assert info is not None
    return apply_schema(info)


def _deploy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": spec,
    }


def _apply(live: Any, applied: dict[str, Any], manager: str, force: bool = False) -> dict[str, Any]:
    return fm.server_side_apply(
        live,
        applied,
        _schema("apps/v1", "Deployment"),
        manager=manager,
        api_version="apps/v1",
        now=NOW,
        force=force,
    )


C1 = {"name": "main", "image": "nginx:1.26", "ports": [{"containerPort": 80}]}


def _tmpl(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": list(containers)}}


def test_fields_v1_of_an_apply_uses_the_schema_list_keys() -> None:
    obj = _apply(None, _deploy(replicas=2, template=_tmpl(C1)), "kubectl")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["fieldsType"] == "FieldsV1"
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    item = containers['k:{"name":"main"}']
    assert item["."] == {} and "f:image" in item
    # ports is a map list keyed by containerPort and protocol; an absent protocol is the
    # schema's default, as in kube-apiserver's managedFields
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in item["f:ports"]
    assert fm.from_fields_v1(entry["fieldsV1"]) == fm.field_set(
        _deploy(replicas=2, template=_tmpl(C1)), _schema("apps/v1", "Deployment")
    )


def test_a_field_the_manager_stops_applying_is_removed() -> None:
    first = _apply(None, _deploy(replicas=2, minReadySeconds=5, template=_tmpl(C1)), "a")
    second = _apply(first, _deploy(replicas=2, template=_tmpl(C1)), "a")
    assert "minReadySeconds" not in second["spec"]
    assert second["spec"]["replicas"] == 2


def test_a_field_another_manager_also_owns_stays() -> None:
    first = _apply(None, _deploy(replicas=2, minReadySeconds=5), "a")
    shared = _apply(first, _deploy(minReadySeconds=5), "b")  # same value: no conflict
    after = _apply(shared, _deploy(replicas=2), "a")
    assert after["spec"]["minReadySeconds"] == 5


def test_a_list_item_the_manager_stops_applying_is_removed() -> None:
    side = {"name": "side", "image": "busybox"}
    first = _apply(None, _deploy(template=_tmpl(C1, side)), "a")
    second = _apply(first, _deploy(template=_tmpl(C1)), "a")
    names = [c["name"] for c in second["spec"]["template"]["spec"]["containers"]]
    assert names == ["main"]
    assert second["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_two_managers_conflict_with_kubernetes_message() -> None:
    first = _apply(None, _deploy(replicas=2), "a")
    with pytest.raises(fm.ApplyConflict) as exc:
        _apply(first, _deploy(replicas=3), "b")
    assert str(exc.value) == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'


def test_force_takes_the_field_over() -> None:
    first = _apply(None, _deploy(replicas=2, minReadySeconds=1), "a")
    forced = _apply(first, _deploy(replicas=3), "b", force=True)
    assert forced["spec"]["replicas"] == 3
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["a"]["f:spec"]
    assert "f:replicas" in owners["b"]["f:spec"]
    # a no longer owns replicas: its next apply without it leaves b's value
    again = _apply(forced, _deploy(minReadySeconds=1), "a")
    assert again["spec"]["replicas"] == 3


def test_conflicts_with_an_update_manager_name_its_version() -> None:
    schema = _schema("apps/v1", "Deployment")
    updated = fm.record_update(
        None, _deploy(replicas=2), schema, manager="kubectl-edit", api_version="apps/v1", now=NOW
    )
    with pytest.raises(fm.ApplyConflict) as exc:
        _apply(updated, _deploy(replicas=5), "kubectl")
    assert '"kubectl-edit" using apps/v1: .spec.replicas' in str(exc.value)


def test_path_strings() -> None:
    path = (("f", "spec"), ("f", "containers"), ("k", '{"name":"x"}'), ("f", "image"))
    assert fm.path_string(path) == '.spec.containers[name="x"].image'
    assert fm.path_string((("f", "metadata"), ("f", "finalizers"), ("v", '"a"'))) == (
        '.metadata.finalizers[="a"]'
    )


def test_an_apply_that_changes_nothing_keeps_its_entrys_time() -> None:
    def at(live: Any, applied: dict[str, Any], now: str) -> dict[str, Any]:
        schema = _schema("apps/v1", "Deployment")
        return fm.server_side_apply(
            live, applied, schema, manager="a", api_version="apps/v1", now=now
        )

    first = at(None, _deploy(replicas=2), "2026-01-01T00:00:00Z")
    again = at(first, _deploy(replicas=2), "2026-01-01T00:00:09Z")
    assert again == first  # a no-op: nothing to store, no new resourceVersion
    changed = at(first, _deploy(replicas=3), "2026-01-01T00:00:09Z")
    assert changed["metadata"]["managedFields"][0]["time"] == "2026-01-01T00:00:09Z"
