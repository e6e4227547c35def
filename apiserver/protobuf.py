"""Decode the Kubernetes protobuf bodies that ``kubectl create <generator>`` sends.

kubectl's typed clients POST ``application/vnd.kubernetes.protobuf`` bodies for
``create namespace|configmap|secret|deployment|job|service|serviceaccount|pdb|priorityclass|quota``
and ``autoscale``
and do not fall back to JSON on 415 (API-COMPAT §0.4, §9). A body is the magic ``k8s\\x00`` followed
by a ``runtime.Unknown`` message: {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw,
3: contentEncoding, 4: contentType}; ``raw`` is the object encoded with the field numbers
of upstream's ``generated.proto`` files.

The decoder is a generic wire reader plus small hand-written field tables (``MESSAGES``)
for the kinds kubelab serves. Upstream's gogo encoder writes every non-pointer field, even
when it holds its zero value, so zero scalars are dropped (as Go's ``omitempty`` does for
JSON) except on the pointer fields where zero means something (``replicas: 0``,
``automountServiceAccountToken: false`` …). A field number the tables do not know is
ignored when it carries a zero value and refused with ``ValueError`` otherwise, so nothing
the user asked for is silently lost. ``status`` is ignored: writes to the main resource
ignore it anyway.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "PROTOBUF_CONTENT_TYPE",
    "MAGIC",
    "Field",
    "MESSAGES",
    "KINDS",
    "decode_protobuf",
    "decode_message",
    "is_protobuf",
]

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Wire types.
VARINT, I64, LEN, I32 = 0, 1, 2, 5

# Scalar kinds a field may have; any other ``kind`` string names a message in MESSAGES.
SCALARS = frozenset({"string", "bytes", "int32", "int64", "bool"})
# Special kinds: map<string,string>, map<string,bytes>, map<string,Quantity>, meta.v1.Time,
# intstr.IntOrString, resource.Quantity, and a field that is read but ignored.
SPECIAL = frozenset(
    {"map", "map_bytes", "map_quantity", "time", "intstr", "quantity", "fieldsv1", "skip"}
)


@dataclass(frozen=True)
class Field:
    """One protobuf field: its JSON name and how to read it.

    ``inline``: the sub-message's fields belong to the parent in JSON (Go embedding, e.g.
    ``Volume.volumeSource`` or ``ConfigMapKeySelector.localObjectReference``).
    ``keep_zero``: a Go pointer field, whose zero value is meaningful.
    """

    name: str
    kind: str
    repeated: bool = False
    keep_zero: bool = False
    inline: bool = False


def _s(name: str) -> Field:
    return Field(name, "string")


def _i(name: str, keep_zero: bool = False) -> Field:
    return Field(name, "int32", keep_zero=keep_zero)


def _l(name: str, keep_zero: bool = False) -> Field:
    return Field(name, "int64", keep_zero=keep_zero)


def _b(name: str, keep_zero: bool = False) -> Field:
    return Field(name, "bool", keep_zero=keep_zero)


def _m(name: str, kind: str, repeated: bool = False) -> Field:
    return Field(name, kind, repeated=repeated)


def _strs(name: str) -> Field:
    return Field(name, "string", repeated=True)


# Field numbers read from kubernetes/api and kubernetes/apimachinery ``generated.proto``.
MESSAGES: dict[str, dict[int, Field]] = {
    # k8s.io.apimachinery.pkg.runtime
    "Unknown": {
        1: _m("typeMeta", "TypeMeta"),
        2: Field("raw", "bytes"),
        3: _s("contentEncoding"),
        4: _s("contentType"),
    },
    "TypeMeta": {1: _s("apiVersion"), 2: _s("kind")},
    # k8s.io.apimachinery.pkg.apis.meta.v1
    "ObjectMeta": {
        1: _s("name"),
        2: _s("generateName"),
        3: _s("namespace"),
        4: _s("selfLink"),
        5: _s("uid"),
        6: _s("resourceVersion"),
        7: _l("generation"),
        8: Field("creationTimestamp", "time"),
        9: Field("deletionTimestamp", "time"),
        10: _l("deletionGracePeriodSeconds", keep_zero=True),
        11: Field("labels", "map"),
        12: Field("annotations", "map"),
        13: _m("ownerReferences", "OwnerReference", repeated=True),
        14: _strs("finalizers"),
        # kubectl sends an object it read back (certificate approve, a protobuf PUT): its
        # managedFields come along, and the server keeps or replaces them as for JSON.
        17: _m("managedFields", "ManagedFieldsEntry", repeated=True),
    },
    "ManagedFieldsEntry": {
        1: _s("manager"),
        2: _s("operation"),
        3: _s("apiVersion"),
        4: Field("time", "time"),
        6: _s("fieldsType"),
        7: Field("fieldsV1", "fieldsv1"),
        8: _s("subresource"),
    },
    "OwnerReference": {
        5: _s("apiVersion"),
        1: _s("kind"),
        3: _s("name"),
        4: _s("uid"),
        6: _b("controller", keep_zero=True),
        7: _b("blockOwnerDeletion", keep_zero=True),
    },
    "LabelSelector": {
        1: Field("matchLabels", "map"),
        2: _m("matchExpressions", "LabelSelectorRequirement", repeated=True),
    },
    "LabelSelectorRequirement": {1: _s("key"), 2: _s("operator"), 3: _strs("values")},
    # k8s.io.api.core.v1
    "Namespace": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "NamespaceSpec"),
        3: Field("status", "skip"),
    },
    "NamespaceSpec": {1: _strs("finalizers")},
    "ConfigMap": {
        1: _m("metadata", "ObjectMeta"),
        2: Field("data", "map"),
        3: Field("binaryData", "map_bytes"),
        4: _b("immutable", keep_zero=True),
    },
    "Secret": {
        1: _m("metadata", "ObjectMeta"),
        2: Field("data", "map_bytes"),
        3: _s("type"),
        4: Field("stringData", "map"),
        5: _b("immutable", keep_zero=True),
    },
    "ServiceAccount": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("secrets", "ObjectReference", repeated=True),
        3: _m("imagePullSecrets", "LocalObjectReference", repeated=True),
        4: _b("automountServiceAccountToken", keep_zero=True),
    },
    "ObjectReference": {
        1: _s("kind"),
        2: _s("namespace"),
        3: _s("name"),
        4: _s("uid"),
        5: _s("apiVersion"),
        6: _s("resourceVersion"),
        7: _s("fieldPath"),
    },
    "LocalObjectReference": {1: _s("name")},
    "Service": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "ServiceSpec"),
        3: Field("status", "skip"),
    },
    "ServiceSpec": {
        1: _m("ports", "ServicePort", repeated=True),
        2: Field("selector", "map"),
        3: _s("clusterIP"),
        18: _strs("clusterIPs"),
        4: _s("type"),
        5: _strs("externalIPs"),
        7: _s("sessionAffinity"),
        8: _s("loadBalancerIP"),
        9: _strs("loadBalancerSourceRanges"),
        10: _s("externalName"),
        11: _s("externalTrafficPolicy"),
        12: _i("healthCheckNodePort"),
        13: _b("publishNotReadyAddresses"),
        19: _strs("ipFamilies"),
        17: Field("ipFamilyPolicy", "string", keep_zero=True),
        20: _b("allocateLoadBalancerNodePorts", keep_zero=True),
        21: Field("loadBalancerClass", "string", keep_zero=True),
        22: Field("internalTrafficPolicy", "string", keep_zero=True),
        23: Field("trafficDistribution", "string", keep_zero=True),
    },
    "ServicePort": {
        1: _s("name"),
        2: _s("protocol"),
        6: Field("appProtocol", "string", keep_zero=True),
        3: _i("port"),
        4: Field("targetPort", "intstr"),
        5: _i("nodePort"),
    },
    "Pod": {1: _m("metadata", "ObjectMeta"), 2: _m("spec", "PodSpec"), 3: Field("status", "skip")},
    "PodTemplateSpec": {1: _m("metadata", "ObjectMeta"), 2: _m("spec", "PodSpec")},
    "PodSpec": {
        1: _m("volumes", "Volume", repeated=True),
        20: _m("initContainers", "Container", repeated=True),
        2: _m("containers", "Container", repeated=True),
        3: _s("restartPolicy"),
        4: _l("terminationGracePeriodSeconds", keep_zero=True),
        5: _l("activeDeadlineSeconds", keep_zero=True),
        6: _s("dnsPolicy"),
        7: Field("nodeSelector", "map"),
        8: _s("serviceAccountName"),
        9: _s("serviceAccount"),
        21: _b("automountServiceAccountToken", keep_zero=True),
        10: _s("nodeName"),
        11: _b("hostNetwork"),
        12: _b("hostPID"),
        13: _b("hostIPC"),
        27: _b("shareProcessNamespace", keep_zero=True),
        14: _m("securityContext", "PodSecurityContext"),
        15: _m("imagePullSecrets", "LocalObjectReference", repeated=True),
        16: _s("hostname"),
        17: _s("subdomain"),
        19: _s("schedulerName"),
        22: _m("tolerations", "Toleration", repeated=True),
        24: _s("priorityClassName"),
        25: _i("priority", keep_zero=True),
        29: Field("runtimeClassName", "string", keep_zero=True),
        30: _b("enableServiceLinks", keep_zero=True),
        31: Field("preemptionPolicy", "string", keep_zero=True),
        35: _b("setHostnameAsFQDN", keep_zero=True),
        37: _b("hostUsers", keep_zero=True),
    },
    "PodSecurityContext": {
        2: _l("runAsUser", keep_zero=True),
        6: _l("runAsGroup", keep_zero=True),
        3: _b("runAsNonRoot", keep_zero=True),
        4: Field("supplementalGroups", "int64", repeated=True),
        5: _l("fsGroup", keep_zero=True),
    },
    "Toleration": {
        1: _s("key"),
        2: _s("operator"),
        3: _s("value"),
        4: _s("effect"),
        5: _l("tolerationSeconds", keep_zero=True),
    },
    "Volume": {1: _s("name"), 2: Field("volumeSource", "VolumeSource", inline=True)},
    "VolumeSource": {
        1: _m("hostPath", "HostPathVolumeSource"),
        2: _m("emptyDir", "EmptyDirVolumeSource"),
        6: _m("secret", "SecretVolumeSource"),
        10: _m("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
        19: _m("configMap", "ConfigMapVolumeSource"),
        16: _m("downwardAPI", "DownwardAPIVolumeSource"),
        26: _m("projected", "ProjectedVolumeSource"),
    },
    # The service account token volume every pod is given is projected: kubectl debug
    # --copy-to sends it back in the copy.
    "ProjectedVolumeSource": {
        1: _m("sources", "VolumeProjection", repeated=True),
        2: _i("defaultMode", keep_zero=True),
    },
    "VolumeProjection": {
        1: _m("secret", "SecretProjection"),
        2: _m("downwardAPI", "DownwardAPIProjection"),
        3: _m("configMap", "ConfigMapProjection"),
        4: _m("serviceAccountToken", "ServiceAccountTokenProjection"),
    },
    "SecretProjection": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _m("items", "KeyToPath", repeated=True),
        4: _b("optional", keep_zero=True),
    },
    "ConfigMapProjection": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _m("items", "KeyToPath", repeated=True),
        4: _b("optional", keep_zero=True),
    },
    "DownwardAPIProjection": {1: _m("items", "DownwardAPIVolumeFile", repeated=True)},
    "DownwardAPIVolumeSource": {
        1: _m("items", "DownwardAPIVolumeFile", repeated=True),
        2: _i("defaultMode", keep_zero=True),
    },
    "DownwardAPIVolumeFile": {
        1: _s("path"),
        2: _m("fieldRef", "ObjectFieldSelector"),
        3: _m("resourceFieldRef", "ResourceFieldSelector"),
        4: _i("mode", keep_zero=True),
    },
    "ServiceAccountTokenProjection": {
        1: _s("audience"),
        2: _l("expirationSeconds", keep_zero=True),
        3: _s("path"),
    },
    "HostPathVolumeSource": {1: _s("path"), 2: Field("type", "string", keep_zero=True)},
    "EmptyDirVolumeSource": {1: _s("medium"), 2: Field("sizeLimit", "quantity")},
    "SecretVolumeSource": {
        1: _s("secretName"),
        2: _m("items", "KeyToPath", repeated=True),
        3: _i("defaultMode", keep_zero=True),
        4: _b("optional", keep_zero=True),
    },
    "ConfigMapVolumeSource": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _m("items", "KeyToPath", repeated=True),
        3: _i("defaultMode", keep_zero=True),
        4: _b("optional", keep_zero=True),
    },
    "PersistentVolumeClaimVolumeSource": {1: _s("claimName"), 2: _b("readOnly")},
    "KeyToPath": {1: _s("key"), 2: _s("path"), 3: _i("mode", keep_zero=True)},
    "Container": {
        1: _s("name"),
        2: _s("image"),
        3: _strs("command"),
        4: _strs("args"),
        5: _s("workingDir"),
        6: _m("ports", "ContainerPort", repeated=True),
        19: _m("envFrom", "EnvFromSource", repeated=True),
        7: _m("env", "EnvVar", repeated=True),
        8: _m("resources", "ResourceRequirements"),
        24: Field("restartPolicy", "string", keep_zero=True),
        9: _m("volumeMounts", "VolumeMount", repeated=True),
        10: _m("livenessProbe", "Probe"),
        11: _m("readinessProbe", "Probe"),
        22: _m("startupProbe", "Probe"),
        13: _s("terminationMessagePath"),
        20: _s("terminationMessagePolicy"),
        14: _s("imagePullPolicy"),
        15: _m("securityContext", "SecurityContext"),
        16: _b("stdin"),
        17: _b("stdinOnce"),
        18: _b("tty"),
    },
    "ContainerPort": {
        1: _s("name"),
        2: _i("hostPort"),
        3: _i("containerPort"),
        4: _s("protocol"),
        5: _s("hostIP"),
    },
    "EnvVar": {1: _s("name"), 2: _s("value"), 3: _m("valueFrom", "EnvVarSource")},
    "EnvVarSource": {
        1: _m("fieldRef", "ObjectFieldSelector"),
        2: _m("resourceFieldRef", "ResourceFieldSelector"),
        3: _m("configMapKeyRef", "ConfigMapKeySelector"),
        4: _m("secretKeyRef", "SecretKeySelector"),
    },
    "ObjectFieldSelector": {1: _s("apiVersion"), 2: _s("fieldPath")},
    "ResourceFieldSelector": {
        1: _s("containerName"),
        2: _s("resource"),
        3: Field("divisor", "quantity"),
    },
    "ConfigMapKeySelector": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _s("key"),
        3: _b("optional", keep_zero=True),
    },
    "SecretKeySelector": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _s("key"),
        3: _b("optional", keep_zero=True),
    },
    "EnvFromSource": {
        1: _s("prefix"),
        2: _m("configMapRef", "ConfigMapEnvSource"),
        3: _m("secretRef", "SecretEnvSource"),
    },
    "ConfigMapEnvSource": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _b("optional", keep_zero=True),
    },
    "SecretEnvSource": {
        1: Field("localObjectReference", "LocalObjectReference", inline=True),
        2: _b("optional", keep_zero=True),
    },
    "ResourceRequirements": {
        1: Field("limits", "map_quantity"),
        2: Field("requests", "map_quantity"),
    },
    "VolumeMount": {
        1: _s("name"),
        2: _b("readOnly"),
        7: Field("recursiveReadOnly", "string", keep_zero=True),
        3: _s("mountPath"),
        4: _s("subPath"),
        5: Field("mountPropagation", "string", keep_zero=True),
        6: _s("subPathExpr"),
    },
    "Probe": {
        1: Field("handler", "ProbeHandler", inline=True),
        2: _i("initialDelaySeconds"),
        3: _i("timeoutSeconds"),
        4: _i("periodSeconds"),
        5: _i("successThreshold"),
        6: _i("failureThreshold"),
        7: _l("terminationGracePeriodSeconds", keep_zero=True),
    },
    "ProbeHandler": {
        1: _m("exec", "ExecAction"),
        2: _m("httpGet", "HTTPGetAction"),
        3: _m("tcpSocket", "TCPSocketAction"),
    },
    "ExecAction": {1: _strs("command")},
    "HTTPGetAction": {
        1: _s("path"),
        2: Field("port", "intstr"),
        3: _s("host"),
        4: _s("scheme"),
        5: _m("httpHeaders", "HTTPHeader", repeated=True),
    },
    "HTTPHeader": {1: _s("name"), 2: _s("value")},
    "TCPSocketAction": {1: Field("port", "intstr"), 2: _s("host")},
    "SecurityContext": {
        1: _m("capabilities", "Capabilities"),
        2: _b("privileged", keep_zero=True),
        4: _l("runAsUser", keep_zero=True),
        8: _l("runAsGroup", keep_zero=True),
        5: _b("runAsNonRoot", keep_zero=True),
        6: _b("readOnlyRootFilesystem", keep_zero=True),
        7: _b("allowPrivilegeEscalation", keep_zero=True),
    },
    "Capabilities": {1: _strs("add"), 2: _strs("drop")},
    # k8s.io.api.apps.v1
    "Deployment": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "DeploymentSpec"),
        3: Field("status", "skip"),
    },
    "DeploymentSpec": {
        1: _i("replicas", keep_zero=True),
        2: _m("selector", "LabelSelector"),
        3: _m("template", "PodTemplateSpec"),
        4: _m("strategy", "DeploymentStrategy"),
        5: _i("minReadySeconds"),
        6: _i("revisionHistoryLimit", keep_zero=True),
        7: _b("paused"),
        9: _i("progressDeadlineSeconds", keep_zero=True),
    },
    "DeploymentStrategy": {1: _s("type"), 2: _m("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {
        1: Field("maxUnavailable", "intstr", keep_zero=True),
        2: Field("maxSurge", "intstr", keep_zero=True),
    },
    "ReplicaSet": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "ReplicaSetSpec"),
        3: Field("status", "skip"),
    },
    "ReplicaSetSpec": {
        1: _i("replicas", keep_zero=True),
        4: _i("minReadySeconds"),
        2: _m("selector", "LabelSelector"),
        3: _m("template", "PodTemplateSpec"),
    },
    # k8s.io.api.batch.v1
    "Job": {1: _m("metadata", "ObjectMeta"), 2: _m("spec", "JobSpec"), 3: Field("status", "skip")},
    "JobSpec": {
        1: _i("parallelism", keep_zero=True),
        2: _i("completions", keep_zero=True),
        3: _l("activeDeadlineSeconds", keep_zero=True),
        7: _i("backoffLimit", keep_zero=True),
        12: _i("backoffLimitPerIndex", keep_zero=True),
        13: _i("maxFailedIndexes", keep_zero=True),
        4: _m("selector", "LabelSelector"),
        5: _b("manualSelector", keep_zero=True),
        6: _m("template", "PodTemplateSpec"),
        8: _i("ttlSecondsAfterFinished", keep_zero=True),
        9: Field("completionMode", "string", keep_zero=True),
        10: _b("suspend", keep_zero=True),
        14: Field("podReplacementPolicy", "string", keep_zero=True),
        15: Field("managedBy", "string", keep_zero=True),
    },
    # k8s.io.api.rbac.v1
    "PolicyRule": {
        1: _strs("verbs"),
        2: _strs("apiGroups"),
        3: _strs("resources"),
        4: _strs("resourceNames"),
        5: _strs("nonResourceURLs"),
    },
    "Role": {1: _m("metadata", "ObjectMeta"), 2: _m("rules", "PolicyRule", repeated=True)},
    "ClusterRole": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("rules", "PolicyRule", repeated=True),
        3: _m("aggregationRule", "AggregationRule"),
    },
    "AggregationRule": {1: _m("clusterRoleSelectors", "LabelSelector", repeated=True)},
    "Subject": {1: _s("kind"), 2: _s("apiGroup"), 3: _s("name"), 4: _s("namespace")},
    "RoleRef": {1: _s("apiGroup"), 2: _s("kind"), 3: _s("name")},
    "RoleBinding": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("subjects", "Subject", repeated=True),
        3: _m("roleRef", "RoleRef"),
    },
    # k8s.io.api.authorization.v1 and k8s.io.api.authentication.v1 (the review kinds)
    "SelfSubjectAccessReview": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "SelfSubjectAccessReviewSpec"),
        3: Field("status", "skip"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: _m("resourceAttributes", "ResourceAttributes"),
        2: _m("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: _s("namespace"),
        2: _s("verb"),
        3: _s("group"),
        4: _s("version"),
        5: _s("resource"),
        6: _s("subresource"),
        7: _s("name"),
    },
    "NonResourceAttributes": {1: _s("path"), 2: _s("verb")},
    "SubjectAccessReview": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "SubjectAccessReviewSpec"),
        3: Field("status", "skip"),
    },
    "SubjectAccessReviewSpec": {
        1: _m("resourceAttributes", "ResourceAttributes"),
        2: _m("nonResourceAttributes", "NonResourceAttributes"),
        3: _s("user"),
        4: _strs("groups"),
        6: _s("uid"),
    },
    "SelfSubjectRulesReview": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "SelfSubjectRulesReviewSpec"),
        3: Field("status", "skip"),
    },
    "SelfSubjectRulesReviewSpec": {1: _s("namespace")},
    "SelfSubjectReview": {1: _m("metadata", "ObjectMeta"), 2: Field("status", "skip")},
    "TokenReview": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "TokenReviewSpec"),
        3: Field("status", "skip"),
    },
    "TokenReviewSpec": {1: _s("token"), 2: _strs("audiences")},
    # serviceaccounts/NAME/token (kubectl create token sends protobuf)
    "TokenRequest": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "TokenRequestSpec"),
        3: Field("status", "skip"),
    },
    "TokenRequestSpec": {
        1: _strs("audiences"),
        3: _m("boundObjectRef", "BoundObjectReference"),
        4: _i("expirationSeconds"),
    },
    "BoundObjectReference": {1: _s("kind"), 2: _s("apiVersion"), 3: _s("name"), 4: _s("uid")},
    # k8s.io.api.scheduling.v1 and k8s.io.api.policy.v1
    "PriorityClass": {
        1: _m("metadata", "ObjectMeta"),
        2: _i("value", keep_zero=True),
        3: _b("globalDefault"),
        4: _s("description"),
        5: _s("preemptionPolicy"),
    },
    "PodDisruptionBudget": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "PodDisruptionBudgetSpec"),
        3: Field("status", "skip"),
    },
    "PodDisruptionBudgetSpec": {
        1: Field("minAvailable", "intstr", keep_zero=True),
        2: _m("selector", "LabelSelector"),
        3: Field("maxUnavailable", "intstr", keep_zero=True),
        4: _s("unhealthyPodEvictionPolicy"),
    },
    # k8s.io.api.core.v1 ResourceQuota (kubectl create quota)
    "ResourceQuota": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "ResourceQuotaSpec"),
        3: Field("status", "skip"),
    },
    "ResourceQuotaSpec": {
        1: Field("hard", "map_quantity"),
        2: _strs("scopes"),
        3: _m("scopeSelector", "ScopeSelector"),
    },
    "ScopeSelector": {
        1: _m("matchExpressions", "ScopedResourceSelectorRequirement", repeated=True)
    },
    "ScopedResourceSelectorRequirement": {
        1: _s("scopeName"),
        2: _s("operator"),
        3: _strs("values"),
    },
    # k8s.io.api.certificates.v1 (kubectl certificate approve/deny PUT the whole object)
    "CertificateSigningRequest": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "CertificateSigningRequestSpec"),
        3: _m("status", "CertificateSigningRequestStatus"),
    },
    "CertificateSigningRequestSpec": {
        1: Field("request", "bytes"),
        2: _s("username"),
        3: _s("uid"),
        4: _strs("groups"),
        5: _strs("usages"),
        6: Field("extra", "skip"),  # the server sets the requester's identity itself
        7: _s("signerName"),
        8: _i("expirationSeconds"),
    },
    "CertificateSigningRequestStatus": {
        1: _m("conditions", "CertificateSigningRequestCondition", repeated=True),
        2: Field("certificate", "bytes"),
    },
    "CertificateSigningRequestCondition": {
        1: _s("type"),
        2: _s("reason"),
        3: _s("message"),
        4: Field("lastUpdateTime", "time"),
        5: Field("lastTransitionTime", "time"),
        6: _s("status"),
    },
    # k8s.io.api.autoscaling.v2 (kubectl autoscale)
    "HorizontalPodAutoscaler": {
        1: _m("metadata", "ObjectMeta"),
        2: _m("spec", "HorizontalPodAutoscalerSpec"),
        3: Field("status", "skip"),
    },
    "HorizontalPodAutoscalerSpec": {
        1: _m("scaleTargetRef", "CrossVersionObjectReference"),
        2: _i("minReplicas", keep_zero=True),
        3: _i("maxReplicas"),
        4: _m("metrics", "MetricSpec", repeated=True),
        5: _m("behavior", "HorizontalPodAutoscalerBehavior"),
    },
    "CrossVersionObjectReference": {1: _s("kind"), 2: _s("name"), 3: _s("apiVersion")},
    "MetricSpec": {
        1: _s("type"),
        2: _m("object", "ObjectMetricSource"),
        3: _m("pods", "PodsMetricSource"),
        4: _m("resource", "ResourceMetricSource"),
        5: _m("external", "ExternalMetricSource"),
        7: _m("containerResource", "ContainerResourceMetricSource"),
    },
    "ResourceMetricSource": {1: _s("name"), 2: _m("target", "MetricTarget")},
    "ContainerResourceMetricSource": {
        1: _s("name"),
        2: _m("target", "MetricTarget"),
        3: _s("container"),
    },
    # Decoded so that validation refuses them by name (kubelab serves no custom metrics).
    "ObjectMetricSource": {
        1: _m("describedObject", "CrossVersionObjectReference"),
        2: _m("target", "MetricTarget"),
        3: _m("metric", "MetricIdentifier"),
    },
    "PodsMetricSource": {1: _m("metric", "MetricIdentifier"), 2: _m("target", "MetricTarget")},
    "ExternalMetricSource": {
        1: _m("metric", "MetricIdentifier"),
        2: _m("target", "MetricTarget"),
    },
    "MetricIdentifier": {1: _s("name"), 2: _m("selector", "LabelSelector")},
    "MetricTarget": {
        1: _s("type"),
        2: Field("value", "quantity"),
        3: Field("averageValue", "quantity"),
        4: _i("averageUtilization", keep_zero=True),
    },
    "HorizontalPodAutoscalerBehavior": {
        1: _m("scaleUp", "HPAScalingRules"),
        2: _m("scaleDown", "HPAScalingRules"),
    },
    "HPAScalingRules": {
        1: _s("selectPolicy"),
        2: _m("policies", "HPAScalingPolicy", repeated=True),
        3: _i("stabilizationWindowSeconds", keep_zero=True),
    },
    "HPAScalingPolicy": {1: _s("type"), 2: _i("value"), 3: _i("periodSeconds")},
}

# (apiVersion, kind) -> top-level message.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("batch/v1", "Job"): "Job",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    # Same fields as a RoleBinding's.
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "CertificateSigningRequest",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler",
}


# --------------------------------------------------------------------------------------
# wire reader


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def read_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split one message into (field number, wire type, value) triples.

    Varint, fixed32 and fixed64 values are returned as unsigned ints, length-delimited
    values as bytes.
    """
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    end = len(data)
    while pos < end:
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError(f"field number 0 at byte {pos}")
        value: int | bytes
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == LEN:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise ValueError(f"field {number}: length {size} runs past the end of the message")
            value = data[pos : pos + size]
            pos += size
        elif wire == I64:
            if pos + 8 > end:
                raise ValueError(f"field {number}: truncated fixed64")
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire == I32:
            if pos + 4 > end:
                raise ValueError(f"field {number}: truncated fixed32")
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"field {number}: unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _signed(value: int, bits: int) -> int:
    """Two's complement: negative int32/int64 travel as 10-byte varints."""
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    return value


# --------------------------------------------------------------------------------------
# decoding by table


def _is_zero(value: Any) -> bool:
    return isinstance(value, int | str) and value in (0, "")


def _time(data: bytes, where: str) -> str | None:
    if not data:
        return None  # upstream writes a zero time as an empty message
    seconds = 0
    for number, wire, value in read_fields(data):
        if number == 1 and wire == VARINT and isinstance(value, int):
            seconds = _signed(value, 64)
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"{where}: timestamp {seconds} is out of range") from exc


def _intstr(data: bytes) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, _wire, value in read_fields(data):
        if number == 1 and isinstance(value, int):
            kind = value
        elif number == 2 and isinstance(value, int):
            int_val = _signed(value, 32)
        elif number == 3 and isinstance(value, bytes):
            str_val = value.decode("utf-8")
    return str_val if kind == 1 else int_val


def _fields_v1(data: bytes, where: str) -> Any:
    """A FieldsV1 message ({1: Raw}): its raw bytes are the field set's JSON."""
    for number, _wire, value in read_fields(data):
        if number == 1 and isinstance(value, bytes):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{where}: fieldsV1 is not JSON: {exc}") from None
    return {}


def _quantity(data: bytes) -> str:
    for number, _wire, value in read_fields(data):
        if number == 1 and isinstance(value, bytes):
            return value.decode("utf-8")
    return ""


def _map_entry(data: bytes, kind: str, where: str) -> tuple[str, Any]:
    key = ""
    raw: bytes = b""
    for number, wire, value in read_fields(data):
        if wire != LEN or not isinstance(value, bytes):
            raise ValueError(f"{where}: map entry field {number} has wire type {wire}")
        if number == 1:
            key = value.decode("utf-8")
        elif number == 2:
            raw = value
    if kind == "map_bytes":
        return key, base64.b64encode(raw).decode("ascii")
    if kind == "map_quantity":
        return key, _quantity(raw)
    return key, raw.decode("utf-8")


def _scalar(field: Field, wire: int, value: int | bytes, where: str) -> Any:
    if field.kind in ("string", "bytes"):
        if wire != LEN or not isinstance(value, bytes):
            raise ValueError(f"{where}: expected a length-delimited value, got wire type {wire}")
        if field.kind == "bytes":
            return base64.b64encode(value).decode("ascii")
        return value.decode("utf-8")
    if wire != VARINT or not isinstance(value, int):
        raise ValueError(f"{where}: expected a varint, got wire type {wire}")
    if field.kind == "bool":
        return value != 0
    return _signed(value, 32 if field.kind == "int32" else 64)


def decode_message(data: bytes, message: str, path: str = "") -> dict[str, Any]:
    """Decode ``data`` as the message named ``message`` in ``MESSAGES`` into a JSON dict."""
    table = MESSAGES[message]
    out: dict[str, Any] = {}
    for number, wire, value in read_fields(data):
        field = table.get(number)
        if field is None:
            if value in (0, b""):
                continue  # an unset field upstream always writes: nothing to keep
            raise ValueError(
                f"{path or message}: protobuf field {number} of {message} is not supported by "
                "kubelab; send the object as JSON instead (for example "
                "`kubectl create … --dry-run=client -o yaml | kubectl apply -f -`)"
            )
        where = f"{path}.{field.name}" if path else field.name
        if field.kind == "skip":
            continue
        if field.kind in ("map", "map_bytes", "map_quantity"):
            if not isinstance(value, bytes):
                raise ValueError(f"{where}: expected a map entry, got wire type {wire}")
            key, item = _map_entry(value, field.kind, where)
            out.setdefault(field.name, {})[key] = item
            continue
        decoded: Any
        if field.kind in ("time", "intstr", "quantity", "fieldsv1") or field.kind in MESSAGES:
            if wire != LEN or not isinstance(value, bytes):
                raise ValueError(f"{where}: expected a message, got wire type {wire}")
            if field.kind == "time":
                decoded = _time(value, where)
                if decoded is None:
                    continue
            elif field.kind == "intstr":
                decoded = _intstr(value)
            elif field.kind == "quantity":
                decoded = _quantity(value)
            elif field.kind == "fieldsv1":
                decoded = _fields_v1(value, where)
            else:
                index = f"[{len(out.get(field.name, []))}]" if field.repeated else ""
                decoded = decode_message(value, field.kind, where + index)
            if field.inline and isinstance(decoded, dict):
                out.update(decoded)
                continue
        elif field.kind in SCALARS:
            if field.repeated and wire == LEN and field.kind not in ("string", "bytes"):
                # A packed repeated number field.
                assert isinstance(value, bytes)
                pos, items = 0, []
                while pos < len(value):
                    raw, pos = _varint(value, pos)
                    items.append(_signed(raw, 32 if field.kind == "int32" else 64))
                out.setdefault(field.name, []).extend(items)
                continue
            decoded = _scalar(field, wire, value, where)
        else:  # pragma: no cover - a table refers to a message that does not exist
            raise ValueError(f"{where}: no table for message {field.kind}")
        if field.repeated:
            out.setdefault(field.name, []).append(decoded)
        elif field.keep_zero or not _is_zero(decoded):
            out[field.name] = decoded
        else:
            out.pop(field.name, None)  # a later zero overrides an earlier value
    return out


def is_protobuf(body: bytes) -> bool:
    """True when ``body`` starts with the Kubernetes protobuf magic."""
    return body[:4] == MAGIC


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into the object's JSON dict.

    Raises ``ValueError`` naming what could not be decoded: a missing magic, a malformed
    message, an unsupported kind or an unsupported field.
    """
    if not is_protobuf(body):
        raise ValueError(
            "not a Kubernetes protobuf body: it does not start with the 4 bytes 'k8s\\x00'"
        )
    api_version = kind = encoding = ""
    raw = b""
    try:
        for number, _wire, value in read_fields(bytes(body[4:])):
            if number == 1 and isinstance(value, bytes):
                type_meta = decode_message(value, "TypeMeta", "typeMeta")
                api_version = type_meta.get("apiVersion", "")
                kind = type_meta.get("kind", "")
            elif number == 2 and isinstance(value, bytes):
                raw = value
            elif number == 3 and isinstance(value, bytes):
                encoding = value.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed protobuf envelope (runtime.Unknown): {exc}") from exc
    if encoding:
        raise ValueError(f"protobuf content encoding {encoding!r} is not supported")
    message = KINDS.get((api_version, kind))
    if message is None:
        supported = ", ".join(f"{k} ({v})" for v, k in sorted(KINDS))
        raise ValueError(
            f"kubelab cannot decode protobuf bodies of kind {kind or '?'!r} "
            f"(apiVersion {api_version or '?'!r}); it decodes {supported}. "
            "Send the object as JSON instead."
        )
    try:
        obj = decode_message(raw, message)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{kind}: a string field is not valid UTF-8: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"cannot decode the protobuf {kind}: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
