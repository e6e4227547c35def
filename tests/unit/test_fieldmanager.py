"""Server-side apply's field ownership (api/fieldmanager.py) with Kubernetes' schemas."""

from __future__ import annotations

import json
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


# ------------------------------------------------------------------ Update operations


def _update(old: Any, new: dict[str, Any], manager: str, sub: str = "", now: str = NOW) -> Any:
    return fm.record_update(
        old,
        new,
        _schema("apps/v1", "Deployment"),
        manager=manager,
        api_version="apps/v1",
        now=now,
        subresource=sub,
    )


def _owners(obj: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    for e in obj["metadata"]["managedFields"]:  # edited in place, still the canonical trie
        assert e["fieldsV1"] == fm.to_fields_v1(fm.from_fields_v1(e["fieldsV1"]))
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): {
            fm.path_string(p) for p in fm.from_fields_v1(e["fieldsV1"])
        }
        for e in obj["metadata"]["managedFields"]
    }


def test_an_update_takes_the_fields_it_changed_from_the_applier() -> None:
    applied = _apply(None, _deploy(replicas=2, minReadySeconds=5), "helm")
    edited = _update(applied, {**applied, "spec": {"replicas": 4, "minReadySeconds": 5}}, "edit")
    owners = _owners(edited)
    assert owners[("helm", "Apply", "")] == {".spec.minReadySeconds"}
    assert owners[("edit", "Update", "")] == {".spec.replicas"}
    with pytest.raises(fm.ApplyConflict) as exc:
        _apply(edited, _deploy(replicas=2, minReadySeconds=5), "helm")
    assert str(exc.value) == (
        'Apply failed with 1 conflict: conflict with "edit" using apps/v1: .spec.replicas'
    )
    # forced, the applier gets it back and the Update entry, now empty, goes
    forced = _apply(edited, _deploy(replicas=2, minReadySeconds=5), "helm", force=True)
    assert set(_owners(forced)) == {("helm", "Apply", "")}


def test_a_container_image_change_owns_only_the_image() -> None:
    created = _update(None, _deploy(template=_tmpl(C1)), "create")
    spec = {"template": _tmpl({**C1, "image": "nginx:1.27"})}
    edited = _update(created, {**created, "spec": spec}, "kubectl-set")
    assert _owners(edited)[("kubectl-set", "Update", "")] == {
        '.spec.template.spec.containers[name="main"].image'
    }
    assert (
        '.spec.template.spec.containers[name="main"].image'
        not in (_owners(edited)[("create", "Update", "")])
    )


def test_one_entry_per_manager_operation_and_subresource() -> None:
    first = _update(None, _deploy(replicas=1), "ops")
    second = _update(first, {**first, "spec": {"replicas": 1, "paused": True}}, "ops")
    status = _update(second, {**second, "status": {"replicas": 1}}, "ops", sub="status")
    assert _owners(status) == {
        ("ops", "Update", ""): {".spec.replicas", ".spec.paused"},
        ("ops", "Update", "status"): {".status.replicas"},
    }
    (sub_entry,) = [e for e in status["metadata"]["managedFields"] if e.get("subresource")]
    assert sub_entry["subresource"] == "status"


def test_an_update_that_changes_nothing_leaves_the_object_as_it_was() -> None:
    first = _update(None, _deploy(replicas=1), "ops", now="2026-01-01T00:00:00Z")
    again = _update(first, dict(first), "ops", now="2026-01-01T00:00:09Z")
    assert again == first
    other = _update(first, dict(first), "someone-else", now="2026-01-01T00:00:09Z")
    assert other == first  # no field changed: no entry for the new manager


def test_removed_fields_are_owned_by_no_one() -> None:
    first = _apply(None, _deploy(replicas=1, minReadySeconds=3), "a")
    dropped = _update(first, {**first, "spec": {"replicas": 1}}, "edit")
    assert _owners(dropped) == {("a", "Apply", ""): {".spec.replicas"}}


def test_managed_fields_a_client_writes_are_kept_but_not_through_a_subresource() -> None:
    first = _update(None, _deploy(replicas=1), "kubectl-client-side-apply")
    (entry,) = first["metadata"]["managedFields"]
    migrated = {**entry, "manager": "kubectl", "operation": "Apply"}
    written = {**first, "metadata": {**first["metadata"], "managedFields": [migrated]}}
    assert _owners(_update(first, written, "kubectl")) == {
        ("kubectl", "Apply", ""): {".spec.replicas"}
    }
    via_status = _update(first, {**written, "status": {"replicas": 1}}, "k", sub="status")
    assert ("kubectl-client-side-apply", "Update", "") in _owners(via_status)


def test_past_ten_update_managers_the_oldest_merge_into_ancient_changes() -> None:
    obj = _update(None, _deploy(replicas=0), "m00", now="2026-01-01T00:00:00Z")
    for i in range(1, 12):
        labels = {f"l{i}": "x"}
        meta = {**obj["metadata"], "labels": {**obj["metadata"].get("labels", {}), **labels}}
        obj = _update(obj, {**obj, "metadata": meta}, f"m{i:02}", now=f"2026-01-01T00:00:{i:02}Z")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers
    assert "m00" not in managers and "m01" not in managers and "m02" not in managers
    ancient = _owners(obj)[("ancient-changes", "Update", "")]
    assert {".spec.replicas", ".metadata.labels.l1", ".metadata.labels.l2"} <= ancient


def test_kubectls_apply_takes_over_what_its_client_side_apply_last_applied() -> None:
    last = json.dumps(_deploy(replicas=2))
    live = _update(None, _deploy(replicas=2), "kubectl-client-side-apply")
    live["metadata"]["annotations"] = {fm.LAST_APPLIED: last}
    # kubectl (server side) changes a field its client-side apply set: no conflict
    out = _apply(live, _deploy(replicas=3), "kubectl")
    assert out["spec"]["replicas"] == 3
    assert json.loads(out["metadata"]["annotations"][fm.LAST_APPLIED])["spec"] == {"replicas": 3}
    # another manager gets the conflict
    with pytest.raises(fm.ApplyConflict):
        _apply(live, _deploy(replicas=3), "helm")


def test_a_creates_trie_is_the_trie_of_its_field_set() -> None:
    from tests.bench.common import bench_pod

    for api_version, kind, obj in (
        ("v1", "Pod", bench_pod("p")),
        ("apps/v1", "Deployment", _deploy(replicas=2, template=_tmpl(C1, {"name": "s"}))),
    ):
        schema = _schema(api_version, kind)
        assert fm.fields_trie(obj, schema) == fm.to_fields_v1(fm.field_set(obj, schema))
