"""Typed models: realistic manifests survive parse → dump → parse unchanged."""

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from api import registry
from api.models import MODELS, Deployment, Job, Node, Pod, dump, parse

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "uid": "6f1c2a52-0a47-4c0e-9d43-8f0a3c1b2d11",
        "resourceVersion": "1042",
        "generation": 3,
        "creationTimestamp": "2025-01-02T03:04:05Z",
        "labels": {"app": "web"},
        "annotations": {"deployment.kubernetes.io/revision": "2"},
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
        },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "args": ["-g", "daemon off;"],
                        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        "env": [
                            {"name": "MODE", "value": "prod"},
                            {
                                "name": "POD_NAME",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            },
                            {
                                "name": "PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                            },
                        ],
                        "envFrom": [{"configMapRef": {"name": "web-config"}}],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "256Mi"},
                        },
                        "readinessProbe": {
                            "httpGet": {
                                "path": "/healthz",
                                "port": "http",
                                "scheme": "HTTP",
                                "httpHeaders": [{"name": "X-Probe", "value": "1"}],
                            },
                            "initialDelaySeconds": 2,
                            "periodSeconds": 5,
                            "timeoutSeconds": 1,
                            "successThreshold": 1,
                            "failureThreshold": 3,
                        },
                        "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 10},
                        "startupProbe": {
                            "exec": {"command": ["cat", "/tmp/ready"]},
                            "failureThreshold": 30,
                        },
                        "volumeMounts": [
                            {"name": "cache", "mountPath": "/cache"},
                            {"name": "conf", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
                        ],
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 101,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
                "volumes": [
                    {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                    {
                        "name": "conf",
                        "configMap": {
                            "name": "web-config",
                            "items": [{"key": "default.conf", "path": "default.conf"}],
                        },
                    },
                    {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "tls", "secret": {"secretName": "web-tls", "defaultMode": 256}},
                ],
                "tolerations": [
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "web",
                        "effect": "NoSchedule",
                    }
                ],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "zone", "operator": "In", "values": ["a", "b"]}
                                    ]
                                }
                            ]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 10,
                                "preference": {
                                    "matchExpressions": [{"key": "ssd", "operator": "Exists"}]
                                },
                            }
                        ],
                    }
                },
                "securityContext": {"fsGroup": 2000},
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
            },
        },
    },
    "status": {
        "observedGeneration": 3,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastUpdateTime": "2025-01-02T03:05:00Z",
                "lastTransitionTime": "2025-01-02T03:05:00Z",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        ],
    },
}

GPU_JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 2,
        "ttlSecondsAfterFinished": 3600,
        "template": {
            "metadata": {"labels": {"job": "train"}},
            "spec": {
                "restartPolicy": "Never",
                "nodeSelector": {"nvidia.com/gpu.product": "H100-80GB"},
                "containers": [
                    {
                        "name": "train",
                        "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                        "command": ["python", "train.py"],
                        "resources": {
                            "limits": {"nvidia.com/gpu": "2", "memory": "64Gi"},
                            "requests": {"nvidia.com/gpu": "2", "cpu": "8"},
                        },
                    }
                ],
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
            },
        },
    },
    "status": {
        "active": 1,
        "startTime": "2025-01-02T03:04:05Z",
        "conditions": [{"type": "Complete", "status": "False"}],
    },
}

GPU_NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "name": "gpu-box-1",
        "labels": {
            "nvidia.com/gpu.product": "H100-80GB",
            "nvidia.com/gpu.count": "2",
            "nvidia.com/gpu.memory": "81559",
        },
        "annotations": {"kubelab.io/kubelet-scheme": "https"},
    },
    "spec": {
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        "unschedulable": False,
        "podCIDR": "10.0.1.0/24",
    },
    "status": {
        "capacity": {"cpu": "32", "memory": "263840592Ki", "pods": "110", "nvidia.com/gpu": "2"},
        "allocatable": {"cpu": "32", "memory": "263738192Ki", "pods": "110", "nvidia.com/gpu": "2"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": "2025-01-02T03:04:05Z",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "192.168.1.20"},
            {"type": "Hostname", "address": "gpu-box-1"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "m1",
            "systemUUID": "s1",
            "bootID": "b1",
            "kernelVersion": "6.8.0",
            "osImage": "Ubuntu 24.04",
            "containerRuntimeVersion": "docker://27.3.1",
            "kubeletVersion": "v1.35.0-kubelab",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "gpus": [
            {
                "index": 0,
                "uuid": "GPU-aaaa",
                "model": "NVIDIA H100 80GB HBM3",
                "memoryMiB": 81559,
                "health": "Healthy",
            },
            {
                "index": 1,
                "uuid": "GPU-bbbb",
                "model": "NVIDIA H100 80GB HBM3",
                "memoryMiB": 81559,
                "health": "Healthy",
            },
        ],
    },
}

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "train-x7k2p",
        "namespace": "ml",
        "annotations": {"kubelab.io/gpu-uuids": "GPU-aaaa,GPU-bbbb"},
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": "train",
                "uid": "j-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "finalizers": ["batch.kubernetes.io/job-tracking"],
    },
    "spec": {
        "nodeName": "gpu-box-1",
        "containers": [{"name": "train", "image": "pytorch/pytorch:2.4.0"}],
        "hostPID": False,
    },
    "status": {
        "phase": "Running",
        "hostIP": "192.168.1.20",
        "podIP": "192.168.1.20",
        "podIPs": [{"ip": "192.168.1.20"}],
        "qosClass": "Burstable",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2025-01-02T03:04:05Z",
            }
        ],
        "containerStatuses": [
            {
                "name": "train",
                "ready": True,
                "restartCount": 1,
                "image": "pytorch/pytorch:2.4.0",
                "imageID": "docker-pullable://pytorch@sha256:abc",
                "containerID": "docker://123",
                "started": True,
                "state": {"running": {"startedAt": "2025-01-02T03:04:05Z"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "OOMKilled",
                        "containerID": "docker://012",
                    }
                },
            }
        ],
    },
}

OTHERS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ml"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "selector": {"app": "web"},
            "ports": [
                {
                    "name": "http",
                    "port": 80,
                    "targetPort": "http",
                    "nodePort": 30080,
                    "protocol": "TCP",
                }
            ],
            "ipFamilies": ["IPv4"],
        },
        "status": {"loadBalancer": {}},
    },
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": "192.168.1.20",
                        "nodeName": "gpu-box-1",
                        "targetRef": {
                            "kind": "Pod",
                            "name": "web-1",
                            "namespace": "default",
                            "uid": "p1",
                        },
                    }
                ],
                "ports": [{"name": "http", "port": 31234, "protocol": "TCP"}],
            }
        ],
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": "default"},
        "data": {"default.conf": "server {}", "MODE": "prod"},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    },
    {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-1.17a", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "name": "web-1",
            "namespace": "default",
            "uid": "p1",
            "apiVersion": "v1",
        },
        "reason": "Scheduled",
        "message": "Successfully assigned default/web-1 to gpu-box-1",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": "2025-01-02T03:04:05Z",
        "lastTimestamp": "2025-01-02T03:04:05Z",
        "count": 1,
        "type": "Normal",
    },
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "default"},
        "automountServiceAccountToken": False,
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "pvc-1b2c",
            "annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"},
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"},
            "local": {"path": "/var/lib/kubelab/storage/pvc-1b2c"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": ["gpu-2"],
                                }
                            ]
                        }
                    ]
                }
            },
        },
        "status": {"phase": "Bound"},
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "data",
            "namespace": "default",
            "annotations": {"volume.kubernetes.io/selected-node": "gpu-2"},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
            "volumeName": "pvc-1b2c",
            "selector": {"matchLabels": {"tier": "fast"}},
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "10Gi"},
        },
    },
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "local-path",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": False,
    },
    {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d4f8",
            "namespace": "default",
            "labels": {"app": "web", "pod-template-hash": "5d4f8"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8"}},
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 1},
    },
    {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "gpu-box-1", "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": "gpu-box-1",
            "leaseDurationSeconds": 40,
            "renewTime": "2025-01-02T03:04:05.123456Z",
        },
    },
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"x-kubernetes-preserve-unknown-fields": True}},
                        }
                    },
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}
                    ],
                }
            ],
        },
        "status": {
            "storedVersions": ["v1"],
            "acceptedNames": {"plural": "crontabs", "kind": "CronTab"},
        },
    },
]

ALL = [DEPLOYMENT, GPU_JOB, GPU_NODE, POD, *OTHERS]


def _without_nones(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _without_nones(v) for k, v in d.items() if v is not None}
    if isinstance(d, list):
        return [_without_nones(v) for v in d]
    return d


@pytest.mark.parametrize("manifest", ALL, ids=lambda m: m["kind"])
def test_round_trip(manifest: dict[str, Any]) -> None:
    original = copy.deepcopy(manifest)
    model = parse(manifest)
    assert type(model) is MODELS[manifest["kind"]]
    assert parse(dump(model)) == model
    # The JSON form is exactly what came in (None values are dropped, as the server does).
    assert dump(model) == _without_nones(manifest)
    assert manifest == original  # parse does not mutate its input


def test_typed_access_and_aliases() -> None:
    dep = parse(DEPLOYMENT)
    assert isinstance(dep, Deployment) and dep.spec is not None
    c = dep.spec.template.spec.containers[0]  # type: ignore[union-attr]
    assert c.readiness_probe is not None and c.readiness_probe.http_get is not None
    assert c.readiness_probe.http_get.port == "http"
    assert c.liveness_probe.tcp_socket.port == 80  # type: ignore[union-attr]
    assert c.env[1].value_from.field_ref.field_path == "metadata.name"  # type: ignore[index,union-attr]
    assert dep.spec.strategy.rolling_update.max_unavailable == 0  # type: ignore[union-attr]

    node = parse(GPU_NODE)
    assert isinstance(node, Node) and node.status is not None
    assert [g.uuid for g in node.status.gpus or []] == ["GPU-aaaa", "GPU-bbbb"]
    assert node.status.gpus[0].memory_mib == 81559  # type: ignore[index]
    assert node.status.daemon_endpoints.kubelet_endpoint.port == 10250  # type: ignore[union-attr]
    assert node.spec.pod_cidr == "10.0.1.0/24"  # type: ignore[union-attr]

    job = parse(GPU_JOB)
    assert isinstance(job, Job)
    limits = job.spec.template.spec.containers[0].resources.limits  # type: ignore[union-attr]
    assert limits == {"nvidia.com/gpu": "2", "memory": "64Gi"}

    pod = parse(POD)
    assert isinstance(pod, Pod) and pod.status is not None
    assert pod.status.pod_ip == "192.168.1.20"
    assert pod.status.container_statuses[0].image_id.startswith("docker-pullable")  # type: ignore[index]
    assert pod.status.container_statuses[0].last_state.terminated.exit_code == 137  # type: ignore[index,union-attr]


def test_build_by_python_names_dumps_camel_case() -> None:
    pod = Pod.model_validate(
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    pod.spec.termination_grace_period_seconds = 5  # type: ignore[union-attr]
    out = dump(pod)
    assert out["spec"]["terminationGracePeriodSeconds"] == 5
    assert out["apiVersion"] == "v1" and out["kind"] == "Pod"
    assert "status" not in out  # None fields are left out


def test_unknown_fields_are_kept() -> None:
    d = copy.deepcopy(POD)
    d["spec"]["someFutureField"] = {"x": 1}
    d["spec"]["containers"][0]["fancy"] = True
    assert dump(parse(d))["spec"]["someFutureField"] == {"x": 1}
    assert dump(parse(d))["spec"]["containers"][0]["fancy"] is True


def test_int_or_string_and_numeric_quantities_survive() -> None:
    d = copy.deepcopy(DEPLOYMENT)
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": 2, "memory": "1Gi"}
    }
    out = dump(parse(d))
    assert out["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": 2,
        "memory": "1Gi",
    }
    assert out["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}


def test_parse_errors() -> None:
    with pytest.raises(ValueError, match="unknown kind 'Widget'"):
        parse({"kind": "Widget"})
    with pytest.raises(ValidationError):
        parse(
            {"kind": "Pod", "spec": {"containers": [{"image": "nginx"}]}}
        )  # container without name
    with pytest.raises(ValidationError):
        parse({"kind": "Event", "metadata": {"name": "e"}})  # involvedObject is required


def test_every_registered_kind_has_a_model() -> None:
    assert {r.kind for r in registry.RESOURCES} == set(MODELS)
