"""``kl get -o yaml/json`` leaves ``metadata.managedFields`` out unless
``--show-managed-fields``, as kubectl does: every write now records them."""

from __future__ import annotations

import json

import yaml

from kubectl.main import build_parser
from kubectl.output import render_objects

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "c",
        "managedFields": [{"manager": "kubectl-create", "operation": "Update"}],
    },
    "data": {"a": "1"},
}


def test_managed_fields_are_left_out_of_yaml_and_json_by_default() -> None:
    assert "managedFields" not in yaml.safe_load(render_objects([CM], "yaml", True))["metadata"]
    listed = json.loads(render_objects([CM, CM], "json", False))
    assert all("managedFields" not in o["metadata"] for o in listed["items"])
    assert CM["metadata"]["managedFields"]  # the caller's object is left alone


def test_show_managed_fields_keeps_them() -> None:
    shown = yaml.safe_load(render_objects([CM], "yaml", True, show_managed_fields=True))
    assert shown["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
    args = build_parser().parse_args(["get", "cm", "c", "-o", "yaml", "--show-managed-fields"])
    assert args.show_managed_fields is True
