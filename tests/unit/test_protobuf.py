"""Decoding the protobuf bodies ``kubectl create <generator>`` sends (apiserver/protobuf.py).

Three kinds of evidence:
- bodies captured from the real kubectl v1.35.2 (``kubectl create … `` against a local HTTP
  server that recorded the POSTs) must decode to the objects kubectl meant;
- a tiny encoder driven by the same field tables round-trips richer objects, writing the
  zero values of unset fields the way upstream's gogo encoder does;
- hand-built bytes and broken bodies check the wire reader and the error messages.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from apiserver.protobuf import KINDS, MAGIC, MESSAGES, Field, decode_protobuf, is_protobuf

# Bodies recorded from kubectl v1.35.2 (Content-Type application/vnd.kubernetes.protobuf).
KUBECTL_BODIES = {
    # kubectl create namespace team-a
    "ns": "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEh4KFgoGdGVhbS1hEgAaACIAKgAyADgAQgASABoCCgAaACIA",
    # kubectl create configmap cfg --from-literal=a=1 --from-literal=empty= --from-literal=b="hello world"
    "cm": "azhzAAoPCgJ2MRIJQ29uZmlnTWFwEjoKEwoDY2ZnEgAaACIAKgAyADgAQgASBgoBYRIBMRIQCgFiEgtoZWxsbyB3b3JsZBIJCgVlbXB0eRIAGgAiAA==",
    # kubectl create secret generic creds --from-literal=user=admin --from-literal=pw='s3cr3t!'
    "secret": "azhzAAoMCgJ2MRIGU2VjcmV0EjcKFQoFY3JlZHMSABoAIgAqADIAOABCABINCgJwdxIHczNjcjN0IRINCgR1c2VyEgVhZG1pbhoAGgAiAA==",
    # kubectl create deployment web --image=nginx:1.27 --replicas=3 --port=80
    "deploy": "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50Er0BCh8KA3dlYhIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViEosBCAMSDAoKCgNhcHASA3dlYhpxChwKABIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViElESMwoFbmdpbngSCm5naW54OjEuMjcqADIKCgAQABhQIgAqAEIAagByAIABAIgBAJABAKIBABoAMgBCAEoAUgBYAGAAaACCAQCKAQCaAQDCAQAiAgoAKAA4ABoMCAAQABgAIAAoADgAGgAiAA==",
    # kubectl create deployment zero --image=nginx --replicas=0
    "deploy0": "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50Eq8BCiEKBHplcm8SABoAIgAqADIAOABCAFoLCgNhcHASBHplcm8SfAgAEg0KCwoDYXBwEgR6ZXJvGmEKHQoAEgAaACIAKgAyADgAQgBaCwoDYXBwEgR6ZXJvEkASIgoFbmdpbngSBW5naW54KgBCAGoAcgCAAQCIAQCQAQCiAQAaADIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAIgIKACgAOAAaDAgAEAAYACAAKAA4ABoAIgA=",
    # kubectl create job once --image=busybox -- sh -c "echo hi"
    "job": "azhzAAoPCghiYXRjaC92MRIDSm9iEo8BChQKBG9uY2USABoAIgAqADIAOABCABJtMmsKEAoAEgAaACIAKgAyADgAQgASVxI0CgRvbmNlEgdidXN5Ym94GgJzaBoCLWMaB2VjaG8gaGkqAEIAagByAIABAIgBAJABAKIBABoFTmV2ZXIyAEIASgBSAFgAYABoAIIBAIoBAJoBAMIBABoIIAAoADAAOgAaACIA",
    # kubectl create service clusterip web --tcp=80:8080 --tcp=443:8443
    "svc": "azhzAAoNCgJ2MRIHU2VydmljZRKIAQofCgN3ZWISABoAIgAqADIAOABCAFoKCgNhcHASA3dlYhJhChsKBzgwLTgwODASA1RDUBhQIgcIABCQPxoAKAAKHQoINDQzLTg0NDMSA1RDUBi7AyIHCAAQ+0EaACgAEgoKA2FwcBIDd2ViGgAiCUNsdXN0ZXJJUDoAQgBSAFoAYABoABoCCgAaACIA",
    # kubectl create service nodeport np --tcp=8080:http --node-port=30080
    "svcnp": "azhzAAoNCgJ2MRIHU2VydmljZRJtCh0KAm5wEgAaACIAKgAyADgAQgBaCQoDYXBwEgJucBJICiMKCTgwODAtaHR0cBIDVENQGJA/IgoIARAAGgRodHRwKIDrARIJCgNhcHASAm5wGgAiCE5vZGVQb3J0OgBCAFIAWgBgAGgAGgIKABoAIgA=",
    # kubectl create serviceaccount robot
    "sa": "azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFwoVCgVyb2JvdBIAGgAiACoAMgA4AEIAGgAiAA==",
    # kubectl create secret docker-registry reg -n team-a --docker-server=r.example --docker-username=u --docker-password=p
    "dockercfg": "azhzAAoMCgJ2MRIGU2VjcmV0EpcBChkKA3JlZxIAGgZ0ZWFtLWEiACoAMgA4AEIAEloKES5kb2NrZXJjb25maWdqc29uEkV7ImF1dGhzIjp7InIuZXhhbXBsZSI6eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJhdXRoIjoiZFRwdyJ9fX0aHmt1YmVybmV0ZXMuaW8vZG9ja2VyY29uZmlnanNvbhoAIgA=",
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _deployment(name: str, image: str, replicas: int, ports: list[Any] | None = None) -> Any:
    container: dict[str, Any] = {"name": "nginx", "image": image}
    if ports:
        container["ports"] = ports
    container["resources"] = {}
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            "strategy": {},
        },
    }


EXPECTED: dict[str, Any] = {
    "ns": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}},
    "cm": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "1", "b": "hello world", "empty": ""},
    },
    "secret": {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"pw": _b64("s3cr3t!"), "user": _b64("admin")},
    },
    "deploy": _deployment("web", "nginx:1.27", 3, [{"containerPort": 80}]),
    "deploy0": _deployment("zero", "nginx", 0),
    "job": {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [
                        {
                            "name": "once",
                            "image": "busybox",
                            "command": ["sh", "-c", "echo hi"],
                            "resources": {},
                        }
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
    },
    "svc": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "ports": [
                {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443},
            ],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
    },
    "svcnp": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np", "labels": {"app": "np"}},
        "spec": {
            "ports": [
                {
                    "name": "8080-http",
                    "protocol": "TCP",
                    "port": 8080,
                    "targetPort": "http",
                    "nodePort": 30080,
                }
            ],
            "selector": {"app": "np"},
            "type": "NodePort",
        },
    },
    "sa": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
    "dockercfg": {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "reg", "namespace": "team-a"},
        "data": {
            ".dockerconfigjson": _b64(
                '{"auths":{"r.example":{"username":"u","password":"p","auth":"dTpw"}}}'
            )
        },
        "type": "kubernetes.io/dockerconfigjson",
    },
}


@pytest.mark.parametrize("name", sorted(KUBECTL_BODIES))
def test_real_kubectl_bodies(name: str) -> None:
    body = base64.b64decode(KUBECTL_BODIES[name])
    assert is_protobuf(body)
    assert decode_protobuf(body) == EXPECTED[name]


# ------------------------------------------------------------------ a table-driven encoder


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers: 10-byte two's complement, as Go writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len(number: int, payload: bytes) -> bytes:
    return _tag(number, 2) + _varint(len(payload)) + payload


def _num(number: int, value: int) -> bytes:
    return _tag(number, 0) + _varint(value)


def _encode_value(field: Field, number: int, value: Any) -> bytes:
    kind = field.kind
    if kind == "string":
        return _len(number, value.encode())
    if kind == "bytes":
        return _len(number, base64.b64decode(value))
    if kind in ("int32", "int64"):
        return _num(number, value)
    if kind == "bool":
        return _num(number, int(value))
    if kind == "time":
        seconds = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        return _len(number, _num(1, seconds))
    if kind == "intstr":
        if isinstance(value, str):
            return _len(number, _num(1, 1) + _num(2, 0) + _len(3, value.encode()))
        return _len(number, _num(1, 0) + _num(2, value) + _len(3, b""))
    if kind == "quantity":
        return _len(number, _len(1, value.encode()))
    return _len(number, encode_message(value, kind))


def _inline_names(message: str) -> set[str]:
    return {f.name for f in MESSAGES[message].values()}


def encode_message(obj: dict[str, Any], message: str) -> bytes:
    """Encode ``obj`` with the decoder's tables; unset plain scalars are written as zeros."""
    out = b""
    for number, field in MESSAGES[message].items():
        if field.inline:
            sub = {k: v for k, v in obj.items() if k in _inline_names(field.kind)}
            if sub:
                out += _len(number, encode_message(sub, field.kind))
            continue
        if field.name not in obj:
            # Upstream's encoder writes every non-pointer scalar, zero or not.
            if field.kind in ("string", "int32", "int64", "bool") and not field.repeated:
                if not field.keep_zero:
                    out += _len(number, b"") if field.kind == "string" else _num(number, 0)
            continue
        value = obj[field.name]
        if field.kind in ("map", "map_bytes", "map_quantity"):
            for key, item in value.items():
                if field.kind == "map_bytes":
                    raw = base64.b64decode(item)
                elif field.kind == "map_quantity":
                    raw = _len(1, item.encode())
                else:
                    raw = item.encode()
                out += _len(number, _len(1, key.encode()) + _len(2, raw))
        elif field.repeated:
            for item in value:
                out += _encode_value(field, number, item)
        else:
            out += _encode_value(field, number, value)
    return out


def encode_object(obj: dict[str, Any]) -> bytes:
    message = KINDS[(obj["apiVersion"], obj["kind"])]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    type_meta = _len(1, obj["apiVersion"].encode()) + _len(2, obj["kind"].encode())
    return MAGIC + _len(1, type_meta) + _len(2, encode_message(body, message)) + _len(3, b"")


RICH_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "trainer",
        "namespace": "ml",
        "uid": "0b1c",
        "generation": 4,
        "creationTimestamp": "2024-05-01T12:00:00Z",
        "labels": {"app": "trainer", "empty-value": ""},
        "annotations": {"kubelab.io/gpu-uuids": "GPU-a,GPU-b"},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Thing", "name": "o", "uid": "u1", "controller": True}
        ],
        "finalizers": ["kubelab.io/keep"],
    },
    "spec": {
        "replicas": 0,
        "revisionHistoryLimit": 0,
        "selector": {
            "matchLabels": {"app": "trainer"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
        },
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
        },
        "template": {
            "metadata": {"labels": {"app": "trainer"}},
            "spec": {
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "priority": -5,
                "nodeSelector": {"nvidia.com/gpu.product": "H100"},
                "tolerations": [
                    {
                        "key": "gpu",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 0,
                    }
                ],
                "securityContext": {"runAsUser": 0, "supplementalGroups": [5, 6]},
                "imagePullSecrets": [{"name": "reg"}],
                "volumes": [
                    {"name": "scratch", "emptyDir": {}},
                    {
                        "name": "cfg",
                        "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a.txt"}]},
                    },
                    {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                    {"name": "data", "hostPath": {"path": "/srv/data", "type": "Directory"}},
                ],
                "containers": [
                    {
                        "name": "main",
                        "image": "pytorch:2",
                        "args": ["--epochs", "", "3"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "A", "value": "1"},
                            {
                                "name": "POD",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            },
                            {
                                "name": "PW",
                                "valueFrom": {
                                    "secretKeyRef": {
                                        "name": "creds",
                                        "key": "pw",
                                        "optional": False,
                                    }
                                },
                            },
                        ],
                        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
                        "resources": {
                            "limits": {"nvidia.com/gpu": "2", "memory": "8Gi"},
                            "requests": {"cpu": "500m"},
                        },
                        "volumeMounts": [
                            {"name": "scratch", "mountPath": "/tmp", "readOnly": True}
                        ],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 10,
                        },
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 3},
                        "startupProbe": {"exec": {"command": ["true"]}},
                        "securityContext": {
                            "privileged": False,
                            "capabilities": {"add": ["SYS_PTRACE"]},
                        },
                    }
                ],
            },
        },
    },
}

RICH_JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "j"},
    "spec": {
        "parallelism": 2,
        "completions": 4,
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": 0,
        "activeDeadlineSeconds": 3600,
        "suspend": False,
        "template": {
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}],
            }
        },
    },
}

OTHERS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bin"},
        "data": {"k": "v"},
        "binaryData": {"blob": base64.b64encode(bytes(range(256))).decode()},
        "immutable": False,
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"token": "abc"},
        "type": "Opaque",
        "immutable": True,
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}},
    },
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
        "secrets": [{"name": "tok"}],
        "automountServiceAccountToken": False,
    },
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n", "deletionTimestamp": "2030-01-02T03:04:05Z"},
        "spec": {"finalizers": ["kubernetes"]},
    },
]


@pytest.mark.parametrize(
    "obj",
    [RICH_DEPLOYMENT, RICH_JOB, *OTHERS],
    ids=lambda o: o["kind"],
)
def test_round_trip(obj: dict[str, Any]) -> None:
    assert decode_protobuf(encode_object(obj)) == obj


def test_encoder_writes_the_zero_values_the_decoder_drops() -> None:
    """The round trip is not vacuous: the encoded body carries unset fields as zeros."""
    body = encode_object(RICH_JOB)
    # metadata: name "j", then empty generateName and namespace
    assert _len(1, b"j") + _len(2, b"") + _len(3, b"") in body
    pod = encode_message({"name": "c"}, "Container")
    assert _len(2, b"") in pod and _len(1, b"c") in pod


# ------------------------------------------------------------------ hand-built bytes


def _envelope(api_version: bytes, kind: bytes, raw: bytes, encoding: bytes = b"") -> bytes:
    type_meta = _len(1, api_version) + _len(2, kind)
    out = MAGIC + _len(1, type_meta) + _len(2, raw)
    return out + (_len(3, encoding) if encoding else b"")


def test_hand_built_namespace() -> None:
    annotation = _len(1, b"owner") + _len(2, b"team-a")
    meta = _len(1, b"ns1") + _len(12, annotation) + _len(14, b"x/y")
    raw = _len(1, meta) + _len(2, _len(1, b"kubernetes")) + _len(3, _len(1, b"Active"))
    assert decode_protobuf(_envelope(b"v1", b"Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ns1", "annotations": {"owner": "team-a"}, "finalizers": ["x/y"]},
        "spec": {"finalizers": ["kubernetes"]},
    }


def test_unknown_empty_fields_are_ignored_and_packed_ints_read() -> None:
    security = _len(4, _varint(7) + _varint(8)) + _num(2, 1000)
    spec = _len(2, _len(1, b"c")) + _len(99, b"") + _num(98, 0) + _len(14, security)
    raw = _len(1, _len(1, b"p")) + _len(2, spec)
    assert decode_protobuf(_envelope(b"v1", b"Pod", raw))["spec"] == {
        "containers": [{"name": "c"}],
        "securityContext": {"supplementalGroups": [7, 8], "runAsUser": 1000},
    }


# ------------------------------------------------------------------ errors


def test_errors_say_what_could_not_be_decoded() -> None:
    with pytest.raises(ValueError, match="does not start with"):
        decode_protobuf(b'{"kind": "Pod"}')
    with pytest.raises(ValueError, match="kind 'Node'.*apiVersion 'v1'.*Send the object as JSON"):
        decode_protobuf(_envelope(b"v1", b"Node", b""))
    with pytest.raises(ValueError, match="content encoding 'gzip'"):
        decode_protobuf(_envelope(b"v1", b"ConfigMap", b"", encoding=b"gzip"))
    affinity = _len(18, _len(1, b"something"))
    raw = _len(2, _len(3, _len(2, affinity)))  # spec.template.spec.affinity
    with pytest.raises(ValueError) as err:
        decode_protobuf(_envelope(b"apps/v1", b"Deployment", raw))
    message = str(err.value)
    assert "spec.template.spec" in message and "field 18 of PodSpec" in message
    assert "as JSON" in message
    with pytest.raises(ValueError, match="runs past the end"):
        decode_protobuf(_envelope(b"v1", b"ConfigMap", b"\x0a\x10abc"))
    with pytest.raises(ValueError, match="malformed protobuf envelope"):
        decode_protobuf(MAGIC + b"\x0a\xff")
    with pytest.raises(ValueError, match=r"metadata\.name: expected a length-delimited"):
        decode_protobuf(_envelope(b"v1", b"ConfigMap", _len(1, _num(1, 5))))
    with pytest.raises(ValueError, match="unsupported wire type 3"):
        decode_protobuf(_envelope(b"v1", b"ConfigMap", _tag(1, 3)))
    containers = _len(2, _num(1, 1))
    with pytest.raises(ValueError, match=r"spec\.containers\[0\]\.name"):
        decode_protobuf(_envelope(b"v1", b"Pod", _len(2, containers)))


def test_managed_fields_of_an_object_read_back_are_decoded() -> None:
    # kubectl certificate approve PUTs the CSR it read, managedFields and all.
    fields = b'{"f:spec":{"f:request":{}}}'
    entry = (
        _len(1, b"kubectl-create")
        + _len(2, b"Update")
        + _len(3, b"certificates.k8s.io/v1")
        + _len(6, b"FieldsV1")
        + _len(7, _len(1, fields))
    )
    meta = _len(1, b"alice") + _len(17, entry)
    raw = _len(1, meta)
    got = decode_protobuf(_envelope(b"certificates.k8s.io/v1", b"CertificateSigningRequest", raw))
    assert got["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "certificates.k8s.io/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:request": {}}},
        }
    ]
