"""Ingress, IngressClass, NetworkPolicy and CertificateSigningRequest through the real
kubectl: api-resources short names, apply, get (kubectl's columns from the server's
Table), describe by kubectl's own describers, the NetworkPolicy Warning printed, delete;
a CSR created, approved with `kubectl certificate approve` and issued by the cluster CA."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "webui"},
    "spec": {
        "ingressClassName": "kubelab",
        "tls": [{"hosts": ["chat.lab.test"], "secretName": "chat-tls"}],
        "rules": [
            {
                "host": "chat.lab.test",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "webui", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    },
}
NETPOL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "db-only"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}],
        "policyTypes": ["Ingress"],
    },
}


def test_ingress_ingressclass_netpol_round_trip(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    table = rows(kubectl("api-resources", "--api-group=networking.k8s.io"))
    assert table["ingresses"]["SHORTNAMES"] == "ing"
    assert table["networkpolicies"]["SHORTNAMES"] == "netpol"
    assert table["ingressclasses"]["NAMESPACED"] == "false"
    classes = rows(kubectl("get", "ingressclass"))
    assert classes["kubelab"]["CONTROLLER"] == "kubelab.io/ingress-router"
    assert classes["kubelab"]["PARAMETERS"] == "<none>"
    assert "IngressClass is the default" in kubectl("describe", "ingressclass", "kubelab") or (
        "is-default-class: true" in kubectl("describe", "ingressclass", "kubelab")
    )

    manifest = tmp_path / "ing.yaml"
    manifest.write_text(yaml.safe_dump(INGRESS))
    kubectl("apply", "-n", namespace, "-f", str(manifest))
    got = rows(kubectl("get", "ing", "-n", namespace))["webui"]
    assert (got["CLASS"], got["HOSTS"], got["PORTS"]) == ("kubelab", "chat.lab.test", "80, 443")
    # The controller manager publishes the node's address (the fake kubelet's 127.0.0.1).
    wait_for(
        lambda: rows(kubectl("get", "ing", "-n", namespace))["webui"]["ADDRESS"] == "127.0.0.1",
        "the Ingress address",
        60,
    )
    described = kubectl("describe", "ing", "webui", "-n", namespace)
    assert "chat.lab.test" in described and "webui:80" in described
    assert "chat-tls terminates chat.lab.test" in described
    stored = yaml.safe_load(kubectl("get", "ing", "webui", "-n", namespace, "-o", "yaml"))
    assert stored["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"
    # A rule without pathType: refused with the field named, nothing stored.
    bad = yaml.safe_load(yaml.safe_dump(INGRESS))
    bad["metadata"]["name"] = "bad"
    del bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"]
    p = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(bad))
    assert p.returncode != 0
    assert "spec.rules[0].http.paths[0].pathType: Required value" in p.stderr
    kubectl("delete", "ing", "webui", "-n", namespace)
    assert "webui" not in kubectl("get", "ing", "-n", namespace)

    # NetworkPolicy: stored, and kubectl prints the server's warning that it is not enforced.
    p = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(NETPOL))
    assert p.returncode == 0, p.stderr
    assert "Warning: NetworkPolicy is stored but not enforced by kubelab's pod network" in (
        p.stderr
    )
    assert rows(kubectl("get", "netpol", "-n", namespace))["db-only"]["POD-SELECTOR"] == "app=db"
    described = kubectl("describe", "netpol", "db-only", "-n", namespace)
    assert "PodSelector:     app=db" in described
    kubectl("delete", "netpol", "db-only", "-n", namespace)


def _csr_manifest(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "alice"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lab"),
        ]
    )
    req = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    pem = req.public_bytes(serialization.Encoding.PEM)
    return yaml.safe_dump(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {
                "request": base64.b64encode(pem).decode(),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "expirationSeconds": 86400,
                "usages": ["client auth"],
            },
        }
    )


def test_csr_approve_and_issue(kubectl: Kubectl, cluster: Cluster) -> None:
    assert (
        rows(kubectl("api-resources", "--api-group=certificates.k8s.io"))[
            "certificatesigningrequests"
        ]["SHORTNAMES"]
        == "csr"
    )
    kubectl("create", "-f", "-", input=_csr_manifest("alice"))
    got = rows(kubectl("get", "csr"))["alice"]
    assert (got["SIGNERNAME"], got["REQUESTEDDURATION"], got["CONDITION"]) == (
        "kubernetes.io/kube-apiserver-client",
        "24h",
        "Pending",
    )
    assert got["REQUESTOR"]  # the admin who created it, set by the server
    out = kubectl("certificate", "approve", "alice")
    assert "approved" in out
    wait_for(
        lambda: rows(kubectl("get", "csr"))["alice"]["CONDITION"] == "Approved,Issued",
        "the certificate issued",
        60,
    )
    b64 = kubectl("get", "csr", "alice", "-o", "jsonpath={.status.certificate}")
    cert = x509.load_pem_x509_certificate(base64.b64decode(b64))
    ca = x509.load_pem_x509_certificate((cluster.api.home / "pki" / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    described = kubectl("describe", "csr", "alice")
    assert "Approved" in described and "kubernetes.io/kube-apiserver-client" in described
    # Deny another one: Denied, and no certificate.
    kubectl("create", "-f", "-", input=_csr_manifest("mallory"))
    kubectl("certificate", "deny", "mallory")
    assert rows(kubectl("get", "csr"))["mallory"]["CONDITION"] == "Denied"
    kubectl("delete", "csr", "alice", "mallory")
