"""Container environment resolution: value, valueFrom, envFrom, $(VAR) expansion."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelet.envvars import EnvError, expand, referenced_config, resolve_env

POD: dict[str, Any] = {
    "metadata": {
        "name": "web-1",
        "namespace": "prod",
        "uid": "u-1",
        "labels": {"app": "web"},
        "annotations": {"team": "ml"},
    },
    "spec": {"nodeName": "gpu1", "serviceAccountName": "runner"},
}
CMS = {"cfg": {"data": {"MODE": "fast", "LEVEL": "3"}}}
SECRETS = {"creds": {"data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}}}


def env_of(container: dict[str, Any], cms: Any = CMS, secrets: Any = SECRETS) -> dict[str, str]:
    return resolve_env(POD, container, cms, secrets, "10.0.0.5", {"SVC_HOST": "1.2.3.4"})


def test_plain_values_and_expansion() -> None:
    env = env_of(
        {
            "env": [
                {"name": "A", "value": "x"},
                {"name": "B", "value": "$(A)-y"},
                {"name": "C", "value": "$$(A) $(MISSING)"},
                {"name": "D", "value": "$(SVC_HOST)"},
                {"name": "E"},
            ]
        }
    )
    assert env["B"] == "x-y"
    assert env["C"] == "$(A) $(MISSING)"
    assert env["D"] == "1.2.3.4"
    assert env["E"] == ""


def test_value_from_configmap_secret_and_fields() -> None:
    env = env_of(
        {
            "env": [
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            ]
        }
    )
    assert env["MODE"] == "fast" and env["PW"] == "s3cret"
    assert (env["POD"], env["NS"], env["NODE"], env["IP"], env["APP"]) == (
        "web-1",
        "prod",
        "gpu1",
        "10.0.0.5",
        "web",
    )


def test_env_from_with_prefix_and_env_wins() -> None:
    env = env_of(
        {
            "envFrom": [
                {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
                {"secretRef": {"name": "creds"}},
            ],
            "env": [{"name": "CFG_MODE", "value": "override"}],
        }
    )
    assert env["CFG_LEVEL"] == "3" and env["CFG_MODE"] == "override"
    assert env["PASSWORD"] == "s3cret"


def test_resource_field_ref() -> None:
    env = env_of(
        {
            "resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}},
            "env": [
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {
                    "name": "MEM",
                    "valueFrom": {
                        "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                    },
                },
            ],
        }
    )
    assert env["CPU"] == "2" and env["MEM"] == "1024"


def test_missing_references() -> None:
    with pytest.raises(EnvError, match='configmap "nope" not found'):
        env_of(
            {
                "env": [
                    {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}
                ]
            },
            cms={"nope": None},
        )
    with pytest.raises(EnvError, match='has no key "OTHER"'):
        env_of(
            {
                "env": [
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "OTHER"}}}
                ]
            }
        )
    env = env_of(
        {
            "env": [
                {
                    "name": "X",
                    "valueFrom": {
                        "configMapKeyRef": {"name": "nope", "key": "k", "optional": True}
                    },
                }
            ],
            "envFrom": [{"secretRef": {"name": "gone", "optional": True}}],
        },
        cms={"nope": None},
        secrets={"gone": None},
    )
    assert "X" not in env


def test_referenced_config() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [
                        {
                            "name": "A",
                            "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}},
                        },
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "cm2"}}],
                }
            ],
            "volumes": [
                {"name": "v", "configMap": {"name": "cm3"}},
                {"name": "w", "secret": {"secretName": "s2"}},
                {"name": "e", "emptyDir": {}},
            ],
        }
    }
    assert referenced_config(pod) == ({"cm1", "cm2", "cm3"}, {"s1", "s2"})


def test_expand_escape() -> None:
    assert expand("$$HOME $(A)", {"A": "1"}) == "$HOME 1"
