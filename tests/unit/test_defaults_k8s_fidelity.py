"""Defaults that third-party clients rely on, as Kubernetes sets them: a Pod's own spec
(securityContext, service account, service links), the DefaultTolerationSeconds
tolerations, and Secret/ConfigMap bytes written as wrapped base64."""

from __future__ import annotations

import base64
import copy
from typing import Any

from api.defaults import apply_defaults, default_tolerations
from api.validation import validate

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec},
    }


def test_a_pod_gets_the_defaults_kubectl_debug_and_clients_read() -> None:
    pod = _pod()
    apply_defaults("Pod", pod)
    spec = pod["spec"]
    # kubectl debug copies spec.securityContext and panics on a nil one.
    assert spec["securityContext"] == {}
    assert spec["serviceAccountName"] == "default"
    assert spec["serviceAccount"] == "default"
    assert spec["enableServiceLinks"] is True
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert validate("Pod", pod, None) == []


def test_given_values_are_kept_and_the_deprecated_service_account_follows() -> None:
    pod = _pod(
        securityContext={"runAsUser": 1000},
        serviceAccountName="builder",
        enableServiceLinks=False,
    )
    apply_defaults("Pod", pod)
    spec = pod["spec"]
    assert spec["securityContext"] == {"runAsUser": 1000}
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("builder", "builder")
    assert spec["enableServiceLinks"] is False
    only_old = _pod(serviceAccount="legacy")
    apply_defaults("Pod", only_old)
    assert only_old["spec"]["serviceAccountName"] == "legacy"


def test_templates_get_a_security_context_but_no_pod_only_defaults() -> None:
    deploy: dict[str, Any] = {
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
    }
    apply_defaults("Deployment", deploy)
    tspec = deploy["spec"]["template"]["spec"]
    assert tspec["securityContext"] == {}
    # As SetDefaults_PodSpec: these materialise on the Pod only, never in templates.
    for key in ("serviceAccountName", "serviceAccount", "enableServiceLinks", "tolerations"):
        assert key not in tspec


def test_a_pod_stored_before_these_defaults_can_still_be_labelled() -> None:
    old = _pod()
    old["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "ml"}
    apply_defaults("Pod", new)
    default_tolerations(new)
    assert validate("Pod", new, old) == []


def test_default_tolerations_are_added_for_both_taints() -> None:
    pod = _pod()
    default_tolerations(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    again = copy.deepcopy(pod)
    default_tolerations(again)
    assert again == pod  # idempotent: an update adds nothing twice


def test_default_tolerations_keep_the_users_and_take_the_servers_seconds() -> None:
    own = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}  # forever
    gpu = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    pod = _pod(tolerations=[gpu, own])
    default_tolerations(pod, not_ready_seconds=2, unreachable_seconds=5)
    assert pod["spec"]["tolerations"] == [
        gpu,
        own,
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2},
    ]
    # A toleration of every taint (empty key, any effect) covers both.
    everything = _pod(tolerations=[{"operator": "Exists"}])
    default_tolerations(everything)
    assert everything["spec"]["tolerations"] == [{"operator": "Exists"}]
    # NoSchedule only does not cover NoExecute.
    no_schedule = {"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"}
    pod = _pod(tolerations=[no_schedule])
    default_tolerations(pod)
    assert [t.get("tolerationSeconds") for t in pod["spec"]["tolerations"]] == [None, 300, 300]


def _wrapped(data: bytes, width: int = 64, eol: str = "\n") -> str:
    text = base64.b64encode(data).decode()
    return eol.join(text[i : i + width] for i in range(0, len(text), width)) + eol


def test_secret_data_with_line_breaks_is_accepted_and_stored_unwrapped() -> None:
    cert = b"-----BEGIN CERTIFICATE-----\n" + bytes(range(256)) * 3 + b"\n-----END-----\n"
    secret: dict[str, Any] = {
        "kind": "Secret",
        "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _wrapped(cert), "tls.key": _wrapped(b"key bytes", 4, "\r\n")},
    }
    apply_defaults("Secret", secret)
    assert secret["data"]["tls.crt"] == base64.b64encode(cert).decode()
    assert secret["data"]["tls.key"] == base64.b64encode(b"key bytes").decode()
    assert validate("Secret", secret, None) == []


def test_secret_data_that_is_not_base64_is_still_refused() -> None:
    secret: dict[str, Any] = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "no t!"}}
    apply_defaults("Secret", secret)
    causes = validate("Secret", secret, None)
    assert [c.field for c in causes] == ["data[k]"]


def test_configmap_binary_data_is_stored_unwrapped_too() -> None:
    cm: dict[str, Any] = {
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "binaryData": {"blob": _wrapped(b"\x00\x01" * 100, 20)},
    }
    apply_defaults("ConfigMap", cm)
    assert cm["binaryData"]["blob"] == base64.b64encode(b"\x00\x01" * 100).decode()
